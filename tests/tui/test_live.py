"""LiveRun: same outputs as `simscale run`, bounded updates, pause, stop, pacing, failures."""

from __future__ import annotations

import json
import threading

import pyarrow.parquet as pq
import pytest

from simscale.model.runner import run
from simscale.spec import load_spec
from simscale.tui.live import (
    FAILED,
    FINISHED,
    PAUSED,
    STOPPED,
    LiveRun,
    parse_speed,
    snapshot_instances,
    speed_label,
)
from tests.tui.conftest import join, wait_until, write_spec


def test_writes_the_same_outputs_as_simscale_run(tmp_path):
    spec = load_spec(write_spec(tmp_path, "same", duration=60))
    updates = []
    done = LiveRun(spec, tmp_path / "live", updates.append, speed=None).run()
    assert done.state == FINISHED and done.error is None
    run(spec, tmp_path / "cli")
    for name in ("requests", "metrics", "events"):
        assert pq.read_table(tmp_path / "live" / f"{name}.parquet").equals(
            pq.read_table(tmp_path / "cli" / f"{name}.parquet"))
    live = json.loads((tmp_path / "live" / "summary.json").read_text())
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    for key in ("arrivals", "ok", "latency_p95_s", "complete"):
        assert live[key] == cli[key]


def test_updates_carry_every_row_once_plus_instance_snapshots(tmp_path):
    spec = load_spec(write_spec(tmp_path, "rows", duration=60))
    updates = []
    LiveRun(spec, None, updates.append, speed=None, min_interval_s=0.0).run()
    rows = [r for u in updates for r in u.rows]
    assert [r["t_s"] for r in rows] == sorted({r["t_s"] for r in rows})
    assert len(rows) == 7  # six 10 s rows and the drain
    assert updates[-1].state == FINISHED
    snapshot = updates[-1].instances
    assert [i["instance_id"] for i in snapshot] == [0, 1, 2, 3]
    assert {"state", "in_flight", "queued", "healthy", "latency_ewma_s"} <= set(snapshot[0])
    assert all(isinstance(v, str | int | float | bool | type(None))
               for inst in snapshot for v in inst.values())


def test_publishing_is_rate_bounded(tmp_path):
    spec = load_spec(write_spec(tmp_path, "bounded", duration=600))
    clock = [0.0]

    def fake_clock():
        clock[0] += 0.001  # 1 ms of "wall time" per look at the clock
        return clock[0]

    updates = []
    live = LiveRun(spec, None, updates.append, speed=None, slice_s=1.0, clock=fake_clock)
    live.run()
    # 600 slices but at most one update per 100 ms of the fake clock, plus forced ones
    assert len(updates) < 60
    assert sum(len(u.rows) for u in updates) == 61


def test_pause_at_then_resume(tmp_path):
    spec = load_spec(write_spec(tmp_path, "pause", duration=60))
    updates = []
    live = LiveRun(spec, None, updates.append, speed=None, pause_at_s=30.0)
    thread = threading.Thread(target=live.run)
    thread.start()
    wait_until(lambda: live.state == PAUSED, "the run to pause at t=30 s")
    assert live.paused
    threading.Event().wait(0.2)  # a few of the paused thread's 0.1 s waits go by
    assert live.sim_t_s == pytest.approx(30.0)  # no progress while paused
    assert any(u.state == PAUSED for u in updates)
    live.resume()
    join(thread)
    assert live.state == FINISHED


def test_stop_while_paused_ends_incomplete(tmp_path):
    spec = load_spec(write_spec(tmp_path, "stop", duration=60))
    live = LiveRun(spec, tmp_path / "out", lambda u: None, speed=None, pause_at_s=20.0)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("done", live.run()))
    thread.start()
    wait_until(lambda: live.state == PAUSED, "the run to pause at t=20 s")
    live.stop()
    join(thread)
    done = result["done"]
    assert done.state == STOPPED
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["complete"] is False and "stopped" in summary["failure"]


@pytest.mark.parametrize("speed, wall_s", [(10.0, 0.2), (4.0, 0.5), (None, 0.0)])
def test_paced_run_follows_the_speed(tmp_path, monkeypatch, speed, wall_s):
    """On a fake clock that moves only while the run waits, 2 simulated seconds at speed
    10 take 0.2 s of waiting and at speed 4 take 0.5 s; as fast as possible, none."""
    spec = load_spec(write_spec(tmp_path, "paced", duration=2))
    clock = [0.0]
    live = LiveRun(spec, None, lambda u: None, speed=speed, slice_s=0.5, yield_s=0.0,
                   clock=lambda: clock[0])
    waits = []

    def wait(timeout_s: float) -> None:
        waits.append(timeout_s)
        clock[0] += timeout_s

    monkeypatch.setattr(live, "_wait", wait)
    assert live.run().state == FINISHED
    assert clock[0] == pytest.approx(wall_s, abs=1e-9)
    assert all(w <= live.min_interval_s for w in waits)  # it stays responsive meanwhile


def test_a_raising_run_is_reported_not_raised(tmp_path):
    spec = load_spec(write_spec(tmp_path, "boom", duration=60))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    done = LiveRun(spec, blocker / "out", lambda u: None, speed=None).run()
    assert done.state == FAILED
    assert "out" in done.error


def test_speeds():
    assert parse_speed("max") is None
    assert parse_speed("10") == 10.0 and parse_speed("2.5x") == 2.5
    with pytest.raises(ValueError):
        parse_speed("-1")
    assert speed_label(None) == "max" and speed_label(10.0) == "10×"


def test_snapshot_copies_only_plain_values():
    class View:
        pass

    class Inst:
        instance_id = 7
        state = "ready"
        queue = [1, 2, 3]
        breaker = object()

    (row,) = snapshot_instances(type("M", (), {"instances": [Inst()]})())
    assert row["instance_id"] == 7 and row["queued"] == 3 and row["state"] == "ready"
    assert isinstance(row["breaker"], str)
