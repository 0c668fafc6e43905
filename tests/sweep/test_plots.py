"""Sweep plots people can read: sorted legends, log axes over decades, SLO lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from simscale.monitoring.slo import parse_slo
from simscale.sweep.plots import plot_metric
from simscale.sweep.table import SummaryData

matplotlib = pytest.importorskip("matplotlib")
pytest.importorskip("matplotlib.figure")


def summary(counts, rates, latency) -> SummaryData:
    columns = {"variant": [], "replication": [], "run_status": [], "param.instances.count": [],
               "param.workload.arrivals.rate_rps": [], "latency_p95_s": []}
    for count in counts:
        for rate in rates:
            for rep in range(2):
                columns["variant"].append(f"count={count},rate={rate}")
                columns["replication"].append(rep)
                columns["run_status"].append("ok")
                columns["param.instances.count"].append(count)
                columns["param.workload.arrivals.rate_rps"].append(rate)
                columns["latency_p95_s"].append(latency(count, rate) * (1 + 0.01 * rep))
    meta = {"parameters": ["instances.count", "workload.arrivals.rate_rps"]}
    return SummaryData(columns, meta, Path("summary.parquet"))


@pytest.fixture
def captured(monkeypatch):
    """The figure plot_metric saves (its axes are inspected instead of the pixels)."""
    figures = []
    import matplotlib.figure

    original = matplotlib.figure.Figure.savefig

    def keep(self, *args, **kwargs):
        figures.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    return figures


def test_legend_sorted_log_axis_over_decades_and_the_slo_line(tmp_path, captured):
    data = summary([10, 2, 4], [50.0, 100.0, 200.0], lambda c, r: 0.05 * (r / c) ** 2)
    slo = parse_slo("latency_p95_s<=1")
    plot_metric(data, "latency_p95_s", "workload.arrivals.rate_rps", tmp_path / "p.png",
                slos=[slo])
    ax = captured[-1].axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["instances.count=2", "instances.count=4", "instances.count=10",
                      "SLO latency_p95_s<=1"]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"  # x spans 4×: linear
    slo_lines = [line for line in ax.get_lines() if line.get_label().startswith("SLO")]
    assert len(slo_lines) == 1 and set(slo_lines[0].get_ydata()) == {1.0}
    assert (tmp_path / "p.png").stat().st_size > 0


def test_a_narrow_range_stays_linear(tmp_path, captured):
    data = summary([2, 4], [50.0, 100.0], lambda c, r: 0.2 + 0.001 * r / c)
    plot_metric(data, "latency_p95_s", "workload.arrivals.rate_rps", tmp_path / "p.png")
    assert captured[-1].axes[0].get_yscale() == "linear"
