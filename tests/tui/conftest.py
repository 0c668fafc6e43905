"""Helpers for the TUI tests: small spec files, synthetic run directories, screen text."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

QUICK_SPEC = """\
name = "{name}"
description = "four instances, P2C, a short seeded run"
duration_s = {duration}
seed = 42

[workload]
arrivals = {{ kind = "poisson", rate_rps = {rate} }}
service = {{ kind = "lognormal", mean_s = 0.04, cv = 1.5 }}

[instances]
count = {count}
slots = 8
cores = 2
queue_limit = 200

[balancer]
policy = "power_of_two_choices"
params = {{ choice_count = 2 }}

[timeouts]
request_s = 10

[metrics]
interval_s = 10
"""

# One instance with two cores against twice its capacity: CPU pinned at 100%, queues full.
OVERLOAD_SPEC = """\
name = "overload"
description = "one instance at twice its capacity"
duration_s = 120
seed = 3

[workload]
arrivals = { kind = "poisson", rate_rps = 100 }
service = { kind = "exponential", mean_s = 0.04 }

[instances]
count = 1
slots = 2
queue_limit = 50

[timeouts]
request_s = 10

[metrics]
interval_s = 10
"""

BAD_SPEC = """\
name = "broken"
duration_s = 60

[workload]
arrivals = { kind = "poisson", rate_rps = 10 }

[instances]
count = 0
slots = 4
"""


def write_spec(folder: Path, name: str = "quick", duration: float = 60, rate: float = 140,
               count: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(QUICK_SPEC.format(name=name, duration=duration, rate=rate, count=count))
    return path


@pytest.fixture
def experiments(tmp_path) -> Path:
    """An experiments folder: two valid specs (one nested), one overload, one broken, one
    dashboard file (not a spec)."""
    root = tmp_path / "experiments"
    write_spec(root, "quick")
    write_spec(root / "more", "bigger", count=6)
    (root / "overload.toml").write_text(OVERLOAD_SPEC)
    (root / "broken.toml").write_text(BAD_SPEC)
    (root / "dashboards").mkdir()
    (root / "dashboards" / "x.toml").write_text('title = "x"\n')
    return root


def synthetic_rows(n: int = 30, interval_s: float = 10.0) -> list[dict]:
    """Fixed metric rows: a ramp that breaches the default latency and CPU rules mid-run."""
    rows = []
    for i in range(n):
        hot = 10 <= i < 20
        rows.append({
            "t_s": i * interval_s, "interval_s": interval_s, "instances_ready": 4,
            "arrivals_rps": 100.0 + 5 * i, "throughput_rps": 98.0 + 5 * i,
            "latency_p50_s": 0.05 + 0.01 * i, "latency_p95_s": 6.0 if hot else 0.2,
            "latency_p99_s": 8.0 if hot else 0.4, "api_latency_p95_s": 6.0 if hot else 0.2,
            "error_rate": 0.01,
            "errors": 1, "timeouts": 0, "rejected": 0,
            "utilization": 0.5, "cpu_util_frac": 0.95 if hot else 0.4,
            "in_flight": 10 + i, "queued": i,
        })
    return rows


def write_run(folder: Path, rows: list[dict] | None = None, events: list[tuple] | None = None,
              summary: dict | None = None, name: str = "synthetic") -> Path:
    """A run directory with fixed contents (no simulation), as the runner would write it."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = synthetic_rows() if rows is None else rows
    events = [(15.0, "autoscaler", "hpa", "ScaleUp:cpu"), (100.0, "instance", "3", "Ready"),
              (250.0, "balancer", "p2c", "Ejected:5xx")] if events is None else events
    meta = {b"simscale.spec": json.dumps({"name": name}).encode()}
    metrics = pa.Table.from_pylist(rows)
    pq.write_table(metrics.replace_schema_metadata(meta), folder / "metrics.parquet")
    cols = list(zip(*events, strict=True)) if events else [[], [], [], []]
    ev = pa.table({"t_s": pa.array(cols[0], pa.float64()), "kind": pa.array(cols[1], pa.string()),
                   "subject": pa.array(cols[2], pa.string()),
                   "reason": pa.array(cols[3], pa.string())})
    pq.write_table(ev.replace_schema_metadata(meta), folder / "events.parquet")
    req = pa.table({"request_id": pa.array([0, 1], pa.int64()),
                    "latency_s": pa.array([0.1, 0.2], pa.float64())})
    pq.write_table(req.replace_schema_metadata(meta), folder / "requests.parquet")
    base = {"name": name, "arrivals": 1000, "ok": 990, "error": 10, "timeout": 0,
            "rejected": 0, "throughput_rps": 99.0, "latency_p95_s": 0.2, "complete": True,
            "simulated_s": rows[-1]["t_s"] + rows[-1]["interval_s"] if rows else 0.0}
    base.update(summary or {})
    (folder / "summary.json").write_text(json.dumps(base, indent=2))
    return folder


def screen_text(app) -> str:
    """The visible screen as plain text, one line per row."""
    return "\n".join(strip.text.rstrip() for strip in app.screen._compositor.render_strips())


def wait_until(predicate, what: str, timeout_s: float = 30.0, step_s: float = 0.01) -> None:
    """Poll predicate() from a test thread until it is true; fail naming `what` after
    timeout_s (a deadline, never a measurement: the test passes as soon as it holds)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(step_s)


def join(thread, timeout_s: float = 30.0) -> None:
    """Join a run's thread; fail (instead of hanging) when it does not end within timeout_s."""
    thread.join(timeout_s)
    assert not thread.is_alive(), f"{thread.name} still running after {timeout_s}s"


async def wait_for(pilot, predicate, timeout_s: float = 30.0, step_s: float = 0.05) -> None:
    """Let the app run until predicate() is true; fail after timeout_s. Screens redraw at a
    bounded rate, so assertions on what is shown wait for it rather than for a fixed time."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {predicate}")
        await pilot.pause(step_s)


async def start_live(pilot, app):
    """Start the picked experiment (Ctrl+R) and return its live screen once it shows."""
    from simscale.tui.screens.dashboard import LiveScreen

    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen))
    return app.screen


def only_run(folder: Path) -> Path:
    """The one run directory under folder (runs/<name>/<time>-<hash>/), `latest` aside."""
    found = [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()
             and not p.name.startswith(".")]
    assert len(found) == 1, found
    return found[0]
