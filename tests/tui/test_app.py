"""Pilot tests: the app driven by keys as a user would, on short seeded runs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from textual.widgets import Button, DataTable, Input, OptionList, SelectionList

from policies import registry
from simscale.tui.app import SimscaleApp
from simscale.tui.live import FAILED, FINISHED, PAUSED
from simscale.tui.screens import (
    CompareScreen,
    HelpScreen,
    LiveScreen,
    PickerScreen,
    ReplayScreen,
    RunsScreen,
)
from simscale.tui.widgets import AlertsPanel, EventLog, InstancesTable, MetricChart
from tests.tui.conftest import only_run, screen_text, start_live, wait_for, wait_until, write_run


def make_app(experiments, tmp_path, **kwargs) -> SimscaleApp:
    kwargs.setdefault("speed", None)
    return SimscaleApp(experiments_dir=experiments, runs_dir=tmp_path / "runs", **kwargs)


async def pick(pilot, name: str) -> PickerScreen:
    screen = pilot.app.screen
    assert isinstance(screen, PickerScreen)
    await wait_for(pilot, lambda: name in [p.stem for p in screen.paths])
    names = [p.stem for p in screen.paths]
    screen.query_one("#experiments", OptionList).highlighted = names.index(name)
    await wait_for(pilot, lambda: screen.current_path is not None
                   and screen.current_path.stem == name)
    return screen


@pytest.mark.asyncio
async def test_pick_edit_start_watch_pause_finish(experiments, tmp_path):
    app = make_app(experiments, tmp_path, pause_at_s=30.0)
    async with app.run_test(size=(100, 30)) as pilot:
        picker = await pick(pilot, "quick")
        await wait_for(pilot, lambda: "✓ valid" in screen_text(app))
        await pilot.click("#f-instances--count")
        await pilot.press("end", "backspace", "6")
        assert picker.query_one("#f-instances--count", Input).value == "6"
        assert picker.overrides == ["instances.count=6"]
        await wait_for(pilot, lambda: "--set instances.count=6" in screen_text(app))

        live = await start_live(pilot, app)
        await wait_for(pilot, lambda: live.run_state == PAUSED)  # the breakpoint at t=30
        await pilot.pause(0.2)
        paused_rows = len(live.state.rows)
        assert 2 <= paused_rows <= 3
        assert live.sim_t_s == pytest.approx(30.0)
        table = live.query_one(InstancesTable).query_one(DataTable)
        assert table.row_count == 6  # the edited instance count reached the model
        await wait_for(pilot, lambda: "‖ paused" in screen_text(app))
        await pilot.pause(0.3)
        assert len(live.state.rows) == paused_rows  # nothing moves while paused

        await pilot.press("space")  # resume
        await wait_for(pilot, lambda: live.done is not None)
        await pilot.pause(0.2)
        assert live.done.state == FINISHED
        assert len(live.state.rows) > paused_rows  # the metrics advanced
        assert live.state.rows[-1]["instances_ready"] == 6
        text = screen_text(app)
        assert "■ finished" in text and "Requests" in text and "Latency" in text

        run_dir = tmp_path / "runs" / "quick" / "latest"
        assert run_dir.resolve() == only_run(tmp_path / "runs" / "quick").resolve()
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["complete"] is True and summary["name"] == "quick"
        for name in ("requests", "metrics", "events"):
            assert (run_dir / f"{name}.parquet").exists()

        await pilot.press("left", "left")  # scrub the finished run
        assert live.state.view().index == len(live.state.rows) - 3
        await wait_for(pilot, lambda: "cursor row" in screen_text(app))
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)


@pytest.mark.asyncio
async def test_an_alert_fires_and_is_highlighted(experiments, tmp_path):
    app = make_app(experiments, tmp_path, pause_at_s=100.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pick(pilot, "overload")
        live = await start_live(pilot, app)
        await wait_for(pilot, lambda: live.run_state == PAUSED)
        await pilot.pause(0.3)
        panel = live.query_one(AlertsPanel)
        firing = {a.rule: a.severity for a in live.state.view().firing}
        assert firing.get("HighCPU") == "critical"  # CPU pinned at 100% for over a minute
        assert panel.has_class("-critical")
        text = screen_text(app)
        assert "CRIT" in text and "HighCPU" in text
        log = live.query_one(EventLog)
        assert any(e[1] == "alert" and e[3].startswith("Firing:critical cpu_util_frac")
                   for e in log.entries(live.state.view()))
        await pilot.press("minus")  # slower: from max to 1000×
        assert live.live.speed == 1000
        await pilot.press("s")  # stop
        await wait_for(pilot, lambda: live.done is not None)
        assert live.done.state == "stopped"


@pytest.mark.asyncio
async def test_open_a_finished_run_and_scrub(experiments, tmp_path):
    write_run(tmp_path / "runs" / "synthetic")
    app = make_app(experiments, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        replay: ReplayScreen = app.screen
        assert replay.problems == []
        assert "replay" in screen_text(app) and "t=300/300s" in screen_text(app)
        await pilot.press("home")
        assert replay.state.view().index == 0
        for _ in range(16):
            await pilot.press("right")
        view = replay.state.view()
        assert view.index == 16 and view.at_s == 170.0
        assert {a.rule for a in view.firing} == {"HighResponseTime", "HighCPU"}
        text = screen_text(app)
        assert "t=170/300s" in text and "cursor row 17/30" in text and "CRIT" in text
        events = replay.query_one(EventLog).entries(view)
        assert [e[3] for e in events if e[1] != "alert"] == ["ScaleUp:cpu", "Ready"]
        await pilot.press("end")
        assert replay.state.following
        await pilot.press("w")
        assert replay.state.window == "1m"
        assert replay.query_one(MetricChart).points == 6


@pytest.mark.asyncio
async def test_compare_two_runs(experiments, tmp_path):
    write_run(tmp_path / "runs" / "a", name="a", summary={"latency_p95_s": 0.3})
    write_run(tmp_path / "runs" / "b", name="b", summary={"latency_p95_s": 0.2, "ok": 995})
    app = make_app(experiments, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        runs = app.screen.query_one(SelectionList)
        runs.focus()
        await pilot.press("space", "down", "space")
        assert len(runs.selected) == 2
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        compare: CompareScreen = app.screen
        table = compare.query_one("#summary-table", DataTable)
        labels = [str(c.label) for c in table.columns.values()]
        assert sorted(labels[1:3]) == ["a", "b"] and labels[3] == "Δ vs first"
        row = [str(cell) for cell in table.get_row("latency_p95_s")]
        assert sorted(row[1:3]) == ["0.2", "0.3"] and row[3] in ("+0.1 (+50%)", "−0.1 (−33%)")
        text = screen_text(app)
        assert "compare" in text and "latency_p95_s" in text
        assert len(compare.query(MetricChart)) == 2 * 6
        await pilot.press("home", "right")
        assert [s.view().index for s in compare.states] == [1, 1]
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)


@pytest.mark.asyncio
async def test_compare_needs_two_runs(experiments, tmp_path):
    write_run(tmp_path / "runs" / "only")
    app = make_app(experiments, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, RunsScreen)
        await wait_for(pilot, lambda: "pick two or more runs" in screen_text(app))


@pytest.mark.asyncio
async def test_a_spec_that_fails_validation_shows_its_errors(experiments, tmp_path):
    app = make_app(experiments, tmp_path, spec_path=experiments / "broken.toml")
    async with app.run_test(size=(100, 30)) as pilot:
        picker: PickerScreen = app.screen
        await wait_for(pilot, lambda: len(picker.paths) == 4)  # the scan has finished
        await pilot.pause(0.1)
        assert picker.current_path.name == "broken.toml"
        text = screen_text(app)
        assert "instances.count: Input should be greater than 0" in text
        assert picker.query_one("#start", Button).disabled
        assert picker.query_one("#f-instances--count", Input).has_class("-invalid")
        await pilot.press("ctrl+r")
        assert isinstance(app.screen, PickerScreen)  # cannot start; no crash
        # fixing the field in the form makes it valid
        await pilot.click("#f-instances--count")
        await pilot.press("end", "backspace", "2")
        await wait_for(pilot, lambda: "✓ valid" in screen_text(app))
        assert not picker.query_one("#start", Button).disabled


@pytest.mark.asyncio
async def test_a_missing_spec_file_is_shown_not_raised(experiments, tmp_path):
    app = make_app(experiments, tmp_path, spec_path=tmp_path / "nope.toml")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        await wait_for(pilot, lambda: "no such file" in screen_text(app))
        assert app.screen.query_one("#start", Button).disabled


@pytest.mark.asyncio
async def test_damaged_run_directories_say_what_is_wrong(experiments, tmp_path):
    folder = write_run(tmp_path / "runs" / "damaged")
    raw = (folder / "metrics.parquet").read_bytes()
    (folder / "metrics.parquet").write_bytes(raw[:100])
    (tmp_path / "runs" / "empty").mkdir()
    app = make_app(experiments, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        path_input = app.screen.query_one("#run-path", Input)
        await pilot.click("#run-path")
        path_input.value = str(tmp_path / "runs" / "empty")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "not a run directory" in screen_text(app))
        path_input.value = str(folder)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.pause(0.1)
        assert any("metrics.parquet: unreadable" in p for p in app.screen.problems)
        await wait_for(pilot, lambda: "metrics.parquet: unreadable" in screen_text(app))
        await wait_for(pilot, lambda: "no rows" in screen_text(app))


@pytest.mark.asyncio
async def test_a_failing_run_shows_its_error_and_the_app_stays_usable(experiments, tmp_path):
    (tmp_path / "runs").write_text("a file where the runs folder should be")
    app = make_app(experiments, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pick(pilot, "quick")
        live = await start_live(pilot, app)
        await wait_for(pilot, lambda: live.done is not None)
        await pilot.pause(0.1)
        assert live.done.state == FAILED
        await wait_for(pilot, lambda: "run failed" in screen_text(app))
        await pilot.press("escape")
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)


@dataclass(frozen=True)
class ExplodeConfig:
    pass


class Explode:
    def choose(self, request, candidates, now_s):
        raise RuntimeError("no route")


@pytest.mark.asyncio
async def test_a_policy_failure_is_shown(experiments, tmp_path, monkeypatch):
    entry = registry.PolicyEntry("explode", "balancer", ExplodeConfig, lambda c, r: Explode())
    monkeypatch.setitem(registry.entries(), ("balancer", "explode"), entry)
    spec = (experiments / "quick.toml").read_text().replace(
        'policy = "power_of_two_choices"\nparams = { choice_count = 2 }', 'policy = "explode"')
    (experiments / "explode.toml").write_text(spec.replace('name = "quick"', 'name = "explode"'))
    app = make_app(experiments, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pick(pilot, "explode")
        live = await start_live(pilot, app)
        await wait_for(pilot, lambda: live.done is not None)
        await pilot.pause(0.1)
        assert live.done.state == FAILED
        assert "'explode' raised" in live.done.error
        await wait_for(pilot, lambda: "run failed" in screen_text(app))
        run_dir = only_run(tmp_path / "runs" / "explode")
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["complete"] is False


@pytest.mark.asyncio
async def test_help_lists_the_keys_of_the_screen(experiments, tmp_path):
    write_run(tmp_path / "runs" / "synthetic")
    app = make_app(experiments, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "Start" in screen_text(app) and "Open run" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("o", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.press("question_mark")
        text = screen_text(app)
        assert "Scrub" in text and "Window" in text and "Back 10 rows" in text
        await pilot.press("question_mark")
        assert isinstance(app.screen, ReplayScreen)


@pytest.mark.asyncio
async def test_live_dashboard_is_usable_at_80x24(experiments, tmp_path):
    app = make_app(experiments, tmp_path, pause_at_s=30.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pick(pilot, "quick")
        start = app.screen.query_one("#start", Button)
        assert start.region.bottom <= 24 and start.region.width > 0  # the form fits
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen)
                       and app.screen.run_state == PAUSED)
        # the status bar redraws at a bounded rate: wait for it to show the pause
        await wait_for(pilot, lambda: "paused" in screen_text(app).splitlines()[0])
        live = app.screen
        for widget in (live.query_one("#status"), live.query_one("#timeline"),
                       live.query_one(AlertsPanel), live.query_one(InstancesTable)):
            region = widget.region
            assert region.width > 0 and region.height > 0 and region.bottom <= 24
        text = screen_text(app).splitlines()
        assert len(text) == 24 and all(len(line) <= 80 for line in text)
        assert "paused" in text[0]
        await pilot.press("s")
        await wait_for(pilot, lambda: live.done is not None)


@pytest.mark.asyncio
async def test_keys_work_during_an_as_fast_as_possible_run(experiments, tmp_path):
    from tests.tui.conftest import write_spec

    # 2.5·10^6 simulated seconds (within MAX_DURATION_S) at 140 rps: 350 million arrivals,
    # which no machine simulates within the test's deadline, so the run cannot end before
    # the key pauses it
    write_spec(experiments, "long", duration=2_500_000)
    app = make_app(experiments, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pick(pilot, "long")
        live = await start_live(pilot, app)
        await wait_for(pilot, lambda: len(live.state.rows) >= 3)
        await pilot.press("space")
        await wait_for(pilot, lambda: live.live.state == PAUSED)
        at = live.live.sim_t_s
        await pilot.pause(0.3)
        assert live.live.sim_t_s == at
        updates = live.live.updates
        await pilot.press("w")  # the interface still answers while the run waits
        assert live.state.window == "1m"
        await pilot.press("space")
        await wait_for(pilot, lambda: live.live.updates > updates + 2)
        await pilot.press("s")
        await wait_for(pilot, lambda: live.done is not None)
        assert live.done.state == "stopped"


@pytest.mark.asyncio
async def test_quitting_mid_run_stops_the_simulation(experiments, tmp_path):
    app = make_app(experiments, tmp_path, pause_at_s=20.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pick(pilot, "quick")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen)
                       and app.screen.run_state == PAUSED)
        live = app.screen.live
        await pilot.press("ctrl+q")
    wait_until(lambda: live.state != PAUSED, "the paused run to stop after Ctrl+Q")
    assert live.state == "stopped"
    run_dir = only_run(tmp_path / "runs" / "quick")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["complete"] is False
