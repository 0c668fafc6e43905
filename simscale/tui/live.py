"""A live run: drives simscale.model.runner.run on a worker thread, paced, pausable and stoppable.

Everything here runs on the simulating thread except the control methods (pause, resume,
stop, set_speed), which any thread may call. The model is read only on the simulating
thread: each published update carries plain copies (metric rows, new events, an instance
snapshot), coalesced so that at most one update is published every `min_interval_s` of
wall-clock time. Nothing here imports Textual.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Simulated seconds per wall-clock second; None runs as fast as possible.
SPEEDS: tuple[float | None, ...] = (1, 2, 5, 10, 20, 50, 100, 1000, None)

RUNNING, PAUSED, FINISHED, STOPPED, FAILED = "running", "paused", "finished", "stopped", "failed"


def speed_label(speed: float | None) -> str:
    return "max" if speed is None else f"{speed:g}×"


def parse_speed(text: str) -> float | None:
    """'max' → None; '10', '10x' or '10×' → 10.0. ValueError otherwise."""
    text = text.strip().lower().rstrip("x×")
    if text in ("max", "ma"):
        return None
    value = float(text)
    if value <= 0:
        raise ValueError("speed must be positive")
    return value


@dataclass(frozen=True)
class LiveUpdate:
    """What changed since the previous update (rows and events are new ones only)."""

    sim_t_s: float
    end_s: float
    rows: tuple[dict, ...]
    events: tuple[tuple, ...]
    instances: tuple[dict, ...] | None
    state: str
    speed: float | None
    wall_s: float


@dataclass(frozen=True)
class LiveDone:
    """How a run ended: finished, stopped or failed (error says why)."""

    state: str
    summary: dict | None
    out_dir: Path | None
    error: str | None = None


_PLAIN = (str, int, float, bool, type(None))
INSTANCE_ATTRIBUTES = (
    "state", "busy", "in_flight", "slots", "cores", "health", "healthy", "breaker",
    "breaker_state", "cpu_util_frac", "memory_frac", "memory_mb", "zone", "weight",
)


def snapshot_instances(model: Any) -> tuple[dict, ...]:
    """Plain copies of every instance's view fields and known attributes (simulating thread)."""
    instances = getattr(model, "instances", ())
    if isinstance(instances, dict):
        instances = instances.values()
    out = []
    for inst in instances:
        row: dict[str, Any] = {}
        view = getattr(inst, "view", None)
        if view is not None and dataclasses.is_dataclass(view):
            for f in dataclasses.fields(view):
                row[f.name] = _plain(getattr(view, f.name, None))
        for name in INSTANCE_ATTRIBUTES:
            if hasattr(inst, name):
                value = getattr(inst, name)
                if not callable(value):
                    row[name] = _plain(value)
        queue = getattr(inst, "queue", None)
        if queue is not None and hasattr(queue, "__len__"):
            row["queued"] = len(queue)
        if "instance_id" not in row and hasattr(inst, "instance_id"):
            row["instance_id"] = _plain(inst.instance_id)
        out.append(row)
    return tuple(out)


def _plain(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    name = getattr(value, "name", None)  # enums
    if isinstance(name, str):
        return name.lower()
    if hasattr(value, "__float__"):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    return str(value)


class LiveRun:
    """Runs one spec with runner.run, publishing LiveUpdates; control it from any thread.

    publish(update) is called on the simulating thread and must not block for long (post a
    message). speed is simulated seconds per wall second (None: as fast as possible, sleeping
    yield_s every min_interval_s so that the interface keeps its share of the interpreter).
    pause_at_s pauses the run once simulated time reaches it (a breakpoint).
    """

    def __init__(self, spec: Any, out_dir: Path | None,
                 publish: Callable[[LiveUpdate], None], *,
                 speed: float | None = None, min_interval_s: float = 0.1,
                 yield_s: float = 0.005,
                 slice_s: float | None = None, pause_at_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 cancelled: Callable[[], bool] | None = None) -> None:
        self.spec = spec
        self.out_dir = out_dir
        self.publish = publish
        self.min_interval_s = min_interval_s
        self.yield_s = yield_s
        self._last_yield = 0.0
        interval = float(spec.metrics.interval_s)
        self.slice_s = slice_s if slice_s is not None else min(interval, 1.0)
        self.pause_at_s = pause_at_s
        self.clock = clock
        self._cancelled = cancelled or (lambda: False)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._speed = speed
        self._paused = False
        self._stop = False
        self._model: Any = None
        self._rows: list[dict] = []
        self._events_seen = 0
        self._last_publish = -1e18
        self._wall_start = 0.0
        self._anchor: tuple[float, float] | None = None  # (wall, sim) pacing reference
        self.sim_t_s = 0.0
        self.state = RUNNING
        self.updates = 0

    # ------------------------------------------------------------ controls (any thread)

    @property
    def speed(self) -> float | None:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    def set_speed(self, speed: float | None) -> None:
        with self._lock:
            self._speed = speed
            self._anchor = None
        self._wake.set()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
        self._wake.set()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._anchor = None
        self._wake.set()

    def toggle_pause(self) -> bool:
        """Pause or resume; returns True when now paused."""
        if self._paused:
            self.resume()
        else:
            self.pause()
        return self._paused

    def stop(self) -> None:
        with self._lock:
            self._stop = True
        self._wake.set()

    def cancel_when(self, cancelled: Callable[[], bool]) -> None:
        """Also stop when cancelled() is true (e.g. the worker thread was cancelled)."""
        self._cancelled = cancelled

    def _stopping(self) -> bool:
        return self._stop or self._cancelled()

    # ------------------------------------------------------------ the run (simulating thread)

    def run(self) -> LiveDone:
        """Run to the end (or until stopped); returns how it ended. Never raises."""
        from simscale.model.runner import run as run_spec

        self._wall_start = self.clock()
        try:
            result = run_spec(
                self.spec, self.out_dir,
                on_start=self._on_start, on_metrics=self._on_metrics,
                on_progress=self._on_progress, should_stop=self._stopping,
                slice_s=self.slice_s,
            )
        except Exception as exc:
            self.state = FAILED
            self._flush(force=True)
            return LiveDone(FAILED, None, self.out_dir, f"{type(exc).__name__}: {exc}")
        summary = result.summary
        if summary.get("complete", True):
            self.state = FINISHED
        elif self._stopping():
            self.state = STOPPED
        else:
            self.state = FAILED
        self.sim_t_s = max(self.sim_t_s, float(summary.get("simulated_s") or 0.0))
        self._flush(force=True)
        error = summary.get("failure") if self.state == FAILED else None
        return LiveDone(self.state, summary, result.out_dir, error)

    def _on_start(self, model: Any) -> None:
        self._model = model
        with self._lock:
            self._anchor = (self.clock(), 0.0)
        self._flush(force=True)

    def _on_metrics(self, row: dict) -> None:
        self._rows.append(dict(row))

    def _on_progress(self, sim_t: float, end_t: float) -> None:
        self.sim_t_s = sim_t
        if self.pause_at_s is not None and sim_t >= self.pause_at_s:
            self.pause_at_s = None
            self.pause()
        self._flush()
        while not self._stopping():
            if self._paused:
                if self.state != PAUSED:
                    self.state = PAUSED
                    self._flush(force=True)
                self._wait(0.1)
                continue
            if self.state == PAUSED:
                self.state = RUNNING
                self._flush(force=True)
            speed = self._speed
            if speed is None:
                self._share_cpu()
                return
            now = self.clock()
            with self._lock:
                if self._anchor is None:  # after a resume or a change of speed
                    self._anchor = (now, sim_t)
                wall0, sim0 = self._anchor
            delay = wall0 + (sim_t - sim0) / speed - now
            if delay < -1.0:  # fell far behind (slow machine): do not try to catch up
                with self._lock:
                    self._anchor = (now, sim_t)
                return
            if delay <= 0:
                return
            self._wait(min(delay, self.min_interval_s))
            self._flush()

    def _share_cpu(self) -> None:
        """As fast as possible, but leave the interface a slice of every interval.

        Python runs one thread at a time: a simulation that never sleeps makes the interface
        wait for the interpreter at every step, so it sleeps `yield_s` once per
        `min_interval_s` of wall time.
        """
        now = self.clock()
        if now - self._last_yield >= self.min_interval_s:
            self._wait(self.yield_s)
            self._last_yield = self.clock()

    def _wait(self, timeout_s: float) -> None:
        self._wake.wait(timeout_s)
        self._wake.clear()

    def _flush(self, force: bool = False) -> None:
        """Publish what changed, at most once per min_interval_s unless forced."""
        now = self.clock()
        if not force and now - self._last_publish < self.min_interval_s:
            return
        self._last_publish = now
        model = self._model
        rows, self._rows = tuple(self._rows), []
        events: tuple = ()
        instances = None
        if model is not None:
            all_events = model.events
            events = tuple(tuple(e) for e in all_events[self._events_seen:])
            self._events_seen = len(all_events)
            instances = snapshot_instances(model)
        end_s = float(self.spec.duration_s)
        self.updates += 1
        self.publish(LiveUpdate(self.sim_t_s, end_s, rows, events, instances, self.state,
                                self._speed, now - self._wall_start))
