"""Snapshots of fixed screens (synthetic runs, fixed sizes) compared as plain text.

A baseline is tests/tui/snapshots/NAME.txt. After an intended change of the interface,
rewrite them with `SIMSCALE_UPDATE_SNAPSHOTS=1 pytest tests/tui/test_snapshots.py` and
review the diff. Rendering depends on the Textual version: the baselines were made with 8.2.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simscale.reports.rundir import load_run
from simscale.tui.app import SimscaleApp
from simscale.tui.screens import CompareScreen, HelpScreen, ReplayScreen
from tests.tui.conftest import screen_text, wait_for, write_run

SNAPSHOTS = Path(__file__).parent / "snapshots"


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("SIMSCALE_UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text + "\n")
        return
    if not path.exists():
        pytest.fail(f"no baseline {path}; make it with SIMSCALE_UPDATE_SNAPSHOTS=1")
    expected = path.read_text().rstrip("\n")
    assert text == expected, f"{name} differs from {path}"


def app_with(tmp_path, *names: str) -> SimscaleApp:
    runs = []
    for i, name in enumerate(names):
        summary = {"latency_p95_s": 0.2 + 0.1 * i, "ok": 990 - 5 * i}
        runs.append(load_run(write_run(tmp_path / "runs" / name, name=name, summary=summary)))
    return SimscaleApp(experiments_dir=tmp_path / "none", runs_dir=tmp_path / "runs", runs=runs)


@pytest.mark.asyncio
async def test_replay_with_alerts_firing_100x30(tmp_path):
    app = app_with(tmp_path, "synthetic")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        app.screen.state.seek(16)
        app.screen.refresh_view()
        await pilot.pause(0.2)
        check("replay_100x30", screen_text(app))


@pytest.mark.asyncio
async def test_help_over_replay_80x24(tmp_path):
    app = app_with(tmp_path, "synthetic")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.2)
        check("help_80x24", screen_text(app))


@pytest.mark.asyncio
async def test_compare_two_runs_100x30(tmp_path):
    app = app_with(tmp_path, "a", "b")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.pause(0.2)
        check("compare_100x30", screen_text(app))
