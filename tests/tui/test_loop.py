"""The user's loop in the TUI: tweak, run, run again, compare the runs, decide."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Input

from simscale.tui.app import SimscaleApp
from simscale.tui.live import FINISHED
from simscale.tui.screens import PickerScreen
from tests.tui.conftest import screen_text, start_live, wait_for
from tests.tui.test_app import pick


def run_dirs(folder):
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()
                  and not p.name.startswith("."))


async def finish_run(pilot, app):
    live = await start_live(pilot, app)
    await wait_for(pilot, lambda: live.done is not None)
    assert live.done.state == FINISHED
    return live


async def edit(pilot, picker, widget_id: str, value: str) -> None:
    picker.query_one(f"#{widget_id}", Input).value = value
    key = widget_id.removeprefix("f-").replace("--", ".").replace("-", "_")
    await wait_for(pilot, lambda: f"{key}={value}" in picker.overrides)
    await wait_for(pilot, lambda: "✓ valid" in screen_text(pilot.app))


@pytest.mark.asyncio
async def test_a_rerun_with_changed_parameters_keeps_both_runs(experiments, tmp_path):
    app = SimscaleApp(experiments_dir=experiments, runs_dir=tmp_path / "runs", speed=None)
    async with app.run_test(size=(120, 40)) as pilot:
        picker = await pick(pilot, "quick")
        await wait_for(pilot, lambda: "✓ valid" in screen_text(app))
        first = await finish_run(pilot, app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, PickerScreen))
        await edit(pilot, picker, "f-instances--count", "6")
        assert picker.overrides == ["instances.count=6"]
        second = await finish_run(pilot, app)
    runs = run_dirs(tmp_path / "runs" / "quick")
    assert [p.name for p in runs] != [] and len(runs) == 2
    assert {first.done.out_dir, second.done.out_dir} == set(runs)
    summaries = [json.loads((p / "summary.json").read_text()) for p in runs]
    hashes = {p.name.rsplit("-", 1)[-1] for p in runs}
    assert hashes == {s["spec_sha256"][:8] for s in summaries} and len(hashes) == 2
    latest = tmp_path / "runs" / "quick" / "latest"
    assert latest.resolve() == second.done.out_dir.resolve()


def spec_run(folder, name: str, policy: str, p95: float, ok: int, rows=None):
    """A synthetic run whose spec differs from the others in the balancer only."""
    from tests.tui.conftest import write_run

    path = write_run(folder, rows=rows, name=name,
                     summary={"latency_p95_s": p95, "ok": ok, "throughput_rps": ok / 300})
    import pyarrow.parquet as pq

    spec = {"name": name, "duration_s": 300, "balancer": {"policy": policy, "params": {}},
            "instances": {"count": 4, "slots": 8}}
    for file in ("metrics.parquet", "events.parquet", "requests.parquet"):
        table = pq.read_table(path / file)
        meta = {b"simscale.spec": json.dumps(spec).encode()}
        pq.write_table(table.replace_schema_metadata(meta), path / file)
    return path


@pytest.mark.asyncio
async def test_compare_labels_runs_by_what_differs_with_a_delta_column(tmp_path):
    from textual.widgets import DataTable

    from simscale.reports.rundir import load_run
    from simscale.tui.screens import CompareScreen
    from simscale.tui.widgets import MetricChart
    from tests.tui.conftest import synthetic_rows

    slow = synthetic_rows()
    for row in slow:
        row["latency_p95_s"] *= 2  # the second run's p95 chart runs to twice the first's
    a = spec_run(tmp_path / "runs" / "quick" / "a", "quick", "power_of_two_choices", 2.46, 990)
    b = spec_run(tmp_path / "runs" / "quick" / "b", "quick", "round_robin", 3.43, 980, slow)
    app = SimscaleApp(experiments_dir=tmp_path / "none", runs_dir=tmp_path / "runs",
                      runs=[load_run(a), load_run(b)])
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.pause(0.3)
        screen = app.screen
        assert screen.labels == ["balancer=power_of_two_choices", "balancer=round_robin"]
        text = screen_text(app)
        assert "differs: balancer.policy power_of_two_choices | round_robin" in text
        assert "balancer=round_robin" in text and "(runs)" not in text
        table = screen.query_one("#summary-table", DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        assert labels == ["summary", "balancer=power_of_two_choices", "balancer=round_robin",
                          "Δ vs first"]
        p95 = [str(c) for c in table.get_row("latency_p95_s")]
        assert p95[1:] == ["2.46", "3.43", "+0.97 (+39%)"]
        assert [str(c) for c in table.get_row("ok")][3] == "−10 (−1%)"
        assert "latency" in [str(table.get_row(k)[0]) for k in ("group-latency",)]
        # one scale per metric: both latency charts are labelled with the same range
        latency = [[c for c in screen.query(MetricChart) if c.config.title == "Latency"][i]
                   for i in (0, 1)]
        assert latency[0].y_labels == latency[1].y_labels == ("200ms", "12,000ms")
        for label in latency[0].y_labels:
            assert label in text


@pytest.mark.asyncio
async def test_every_chart_shows_its_scale_with_units_and_no_invented_zero(tmp_path):
    from simscale.reports.rundir import load_run
    from simscale.tui.screens import ReplayScreen
    from simscale.tui.widgets import MetricChart
    from tests.tui.conftest import write_run

    run = load_run(write_run(tmp_path / "run"))
    app = SimscaleApp(experiments_dir=tmp_path / "none", runs_dir=tmp_path, runs=[run])
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.pause(0.3)
        text = screen_text(app)
        charts = {c.config.title: c for c in app.screen.query(MetricChart)
                  if not c.has_class("-empty")}
        assert {"Requests", "Latency", "Instances", "CPU / memory", "Errors"} <= set(charts)
        for title, chart in charts.items():
            assert chart.y_labels, title
            for label in chart.y_labels:
                assert label in text, (title, label)
        assert charts["Requests"].y_labels == ("100rps", "245rps")  # from the data, not 0
        assert charts["Instances"].y_labels == ("4",)  # a flat series: its value, no zero
        assert charts["Errors"].y_labels == ("1%",)
        assert charts["Latency"].y_labels == ("200ms", "6,000ms")
        assert "Run summary" in text and "traffic" in text and "latency_p95_s" in text


@pytest.mark.asyncio
async def test_the_experiment_list_is_as_wide_as_its_longest_entry(experiments, tmp_path):
    from tests.tui.conftest import write_spec

    long_name = "a_rather_long_experiment_name_for_the_list"
    write_spec(experiments / "deep", long_name)
    entry = len(f"{long_name}  deep")
    for width, expected in ((200, entry + 6), (80, 36)):  # 80 columns: at most 45%
        app = SimscaleApp(experiments_dir=experiments, runs_dir=tmp_path / "runs")
        async with app.run_test(size=(width, 30)) as pilot:
            await pick(pilot, "quick")
            await pilot.pause(0.1)
            assert app.screen.query_one("#catalog").outer_size.width == expected
