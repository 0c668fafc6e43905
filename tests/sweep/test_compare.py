"""Statistics of `simscale compare`: t intervals, paired tests, ranking, Pareto front, outputs."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from simscale.errors import InputError
from simscale.sweep.compare import (
    compare,
    one_sided_bound,
    paired_difference,
    pareto_front,
    rank_variants,
    t_interval,
)
from simscale.sweep.plots import plot_metric
from simscale.sweep.report import comparison_csv, comparison_markdown
from simscale.sweep.table import SummaryData, read_summary


def test_t_interval_matches_the_textbook_formula():
    iv = t_interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 0.95)
    # mean 3, s = sqrt(2.5), t(0.975, 4) = 2.7764451
    half = 2.7764451 * math.sqrt(2.5) / math.sqrt(5)
    assert (iv.n, iv.mean) == (5, 3.0)
    assert iv.low == pytest.approx(3 - half, rel=1e-7)
    assert iv.high == pytest.approx(3 + half, rel=1e-7)


def test_t_interval_of_one_value_has_no_bounds():
    iv = t_interval(np.array([2.0]))
    assert iv.mean == 2.0 and math.isnan(iv.low) and math.isnan(iv.high)
    assert t_interval(np.array([])).n == 0


def test_one_sided_bound_uses_the_one_sided_quantile():
    x = np.array([0.8, 1.0, 1.2])
    t = stats.t.ppf(0.95, 2)
    assert one_sided_bound(x, 0.95, upper=True) == pytest.approx(1.0 + t * 0.2 / math.sqrt(3))
    assert one_sided_bound(x, 0.95, upper=False) == pytest.approx(1.0 - t * 0.2 / math.sqrt(3))
    assert one_sided_bound(np.array([1.0]), 0.95, upper=True) == math.inf


def test_pairing_finds_a_difference_that_independent_intervals_hide():
    base = np.array([1.0, 5.0, 2.0, 8.0, 3.0])  # large variation between replications…
    x = base + np.array([0.10, 0.12, 0.09, 0.11, 0.10])  # …shared by both variants (CRN)
    ix, ib = t_interval(x), t_interval(base)
    assert ix.low < ib.high  # the two intervals overlap
    d = paired_difference(x, base, wilcoxon=True)
    assert d.p_t == pytest.approx(stats.ttest_rel(x, base).pvalue)
    assert d.p_t < 0.001
    assert d.interval.low > 0
    assert d.p_wilcoxon == pytest.approx(stats.wilcoxon(x - base).pvalue)


@pytest.mark.parametrize("shift, p", [(0.0, 1.0), (0.5, 0.0)])
def test_a_constant_difference_has_a_defined_p_value(shift, p):
    base = np.array([1.0, 2.0, 3.0])
    assert paired_difference(base + shift, base, wilcoxon=True).p_t == p


@pytest.mark.parametrize("points, front", [
    ({"a": (1, 5), "b": (2, 3), "c": (3, 1)}, ["a", "b", "c"]),
    ({"a": (1, 5), "b": (2, 6), "c": (3, 1)}, ["a", "c"]),  # b costs more and is slower
    ({"a": (1, 1), "b": (2, 2)}, ["a"]),
    ({"a": (1, 1), "b": (1, 1)}, ["a", "b"]),  # equal points do not dominate each other
    ({}, []),
])
def test_pareto_front(points, front):
    assert pareto_front(points) == front


def test_ranking_by_goal_with_missing_means_last():
    means = {"a": 2.0, "b": 1.0, "c": math.nan, "d": 3.0}
    assert rank_variants(list(means), means, "min") == ["b", "a", "d", "c"]
    assert rank_variants(list(means), means, "max") == ["d", "a", "b", "c"]


def synthetic(rows: list[tuple[str, int, str, dict]], **meta) -> SummaryData:
    """A summary table built by hand: (variant, replication, status, metrics)."""
    keys = sorted({k for *_, m in rows for k in m})
    columns = {
        "variant": [r[0] for r in rows], "replication": [r[1] for r in rows],
        "seed": [100 + r[1] for r in rows], "run_status": [r[2] for r in rows],
        "run_error": [None for _ in rows], "param.x": [r[0] for r in rows],
    }
    for k in keys:
        columns[k] = [r[3].get(k) for r in rows]
    meta = {"parameters": ["x"], "variants": sorted({r[0] for r in rows}), **meta}
    return SummaryData(columns, meta, Path("synthetic.parquet"))


def test_compare_pairs_by_replication_and_leaves_out_incomplete_runs():
    data = synthetic([
        ("a", 0, "ok", {"latency_p95_s": 1.0, "instance_hours": 4.0}),
        ("a", 1, "ok", {"latency_p95_s": 2.0, "instance_hours": 4.0}),
        ("a", 2, "ok", {"latency_p95_s": 3.0, "instance_hours": 4.0}),
        ("b", 0, "ok", {"latency_p95_s": 1.5, "instance_hours": 2.0}),
        ("b", 1, "incomplete", {"latency_p95_s": 99.0, "instance_hours": 2.0}),
        ("b", 2, "ok", {"latency_p95_s": 3.5, "instance_hours": 2.0}),
    ])
    cmp = compare(data, ["latency_p95_s"])
    assert cmp.baseline == "a"
    assert cmp.stats[("b", "latency_p95_s")].n == 2
    d = cmp.diffs[("b", "latency_p95_s")]
    assert (d.interval.n, d.interval.mean, d.p_t) == (2, 0.5, 0.0)
    assert cmp.runs_left_out == {"a": 0, "b": 1}
    assert cmp.ranking == ["a", "b"]
    assert cmp.cost_metric == "instance_hours"
    assert cmp.pareto == ["b", "a"]  # b is cheaper, a is faster


def test_cost_usd_is_the_cost_when_runs_report_it_and_goals_follow_the_metric():
    data = synthetic([
        ("a", 0, "ok", {"latency_p95_s": 1.0, "cost_usd": 3.0, "instance_hours": 1.0,
                        "throughput_rps": 10.0}),
        ("b", 0, "ok", {"latency_p95_s": 2.0, "cost_usd": 1.0, "instance_hours": 9.0,
                        "throughput_rps": 12.0}),
    ])
    cmp = compare(data, rank_by="throughput_rps")
    assert cmp.cost_metric == "cost_usd"
    assert cmp.pareto == ["b", "a"]
    assert cmp.rank_goal == "max" and cmp.ranking == ["b", "a"]
    assert compare(data, rank_by="throughput_rps", goal="min").ranking == ["a", "b"]


def test_compare_rejects_unknown_metrics_and_variants():
    data = synthetic([("a", 0, "ok", {"latency_p95_s": 1.0})])
    with pytest.raises(InputError, match="no numeric metric 'latncy'"):
        compare(data, ["latncy"])
    with pytest.raises(InputError, match="no variant 'z'"):
        compare(data, baseline="z")
    with pytest.raises(InputError, match="--confidence"):
        compare(data, confidence=1.5)


def test_read_summary_rejects_a_folder_that_is_not_a_sweep(tmp_path):
    with pytest.raises(InputError, match="no summary.parquet"):
        read_summary(tmp_path)


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    from simscale.sweep.engine import run_sweep
    from simscale.sweep.runlist import load_sweep
    from tests.sweep.helpers import write_sweep

    folder = tmp_path_factory.mktemp("sweep")
    path = write_sweep(folder, """
replications = 3
seed = 3
[[parameters]]
path = "instances.count"
values = [4, 5]
[[parameters]]
path = "balancer.policy"
values = ["round_robin", "least_connections"]
""")
    run_sweep(load_sweep(path), folder / "out", workers=2)
    return folder / "out"


def test_markdown_and_csv_of_a_real_sweep(finished_sweep):
    data = read_summary(finished_sweep)
    cmp = compare(data, ["latency_p95_s", "latency_mean_s"], wilcoxon=True)
    assert cmp.variants == ["count=4,policy=round_robin", "count=4,policy=least_connections",
                            "count=5,policy=round_robin", "count=5,policy=least_connections"]
    md = comparison_markdown(cmp, wilcoxon=True)
    assert md.count("| variant | n |") == 2 and "### ranking" in md
    rows = list(csv.DictReader(io.StringIO(comparison_csv(cmp, wilcoxon=True))))
    assert len(rows) == 2 * 4
    first = rows[0]
    assert first["variant"] == cmp.baseline and first["diff_mean"] == ""
    other = rows[1]
    values = [r for r in data.columns["latency_p95_s"]][3:6]
    assert float(other["mean"]) == pytest.approx(np.mean(values))
    assert other["param.instances.count"] == "4"


def test_plots_against_a_numeric_and_a_categorical_parameter(finished_sweep, tmp_path):
    pytest.importorskip("matplotlib")
    data = read_summary(finished_sweep)
    for x in ("instances.count", "balancer.policy"):
        png = plot_metric(data, "latency_p95_s", x, tmp_path / f"{x}.png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="not a swept parameter"):
        plot_metric(data, "latency_p95_s", "seed", tmp_path / "x.png")
