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
