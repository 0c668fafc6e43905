"""The dashboard route's data: a tui.state View as JSON, for a run or a fleet.

A run in progress is read from the DashboardState its LiveRun updates fill, exactly as the
TUI's live screen fills it; a finished run from its directory through tui.state.replay_state,
as the TUI's replay screen does; a fleet from the DashboardState its scrapes fill. Only the
rendering differs: here it is JSON.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from simscale.tui.state import DashboardState, View, replay_state

CACHED_RUNS = 8


def view_payload(view: View, window: str, events: int, series: bool) -> dict:
    """What the live screen shows at its cursor: the newest row, the window's aggregates,
    firing alerts, the latest transitions and events, the instances."""
    data = view.window_data(window)
    stats = {column: {"kind": s.kind, "value": s.value, "mean": s.mean, "min": s.min,
                      "max": s.max, "last": s.last, "total": s.total, "samples": s.samples}
             for column, s in data.stats.items()}
    payload = {
        "window": window, "window_start_s": data.start_s, "window_end_s": data.end_s,
        "window_rows": data.rows, "rows": view.rows, "at_s": view.at_s, "latest": view.row,
        "aggregates": stats,
        "firing": [{"rule": a.rule, "metric": a.metric, "severity": a.severity,
                    "since_s": a.since_s, "value": a.value, "threshold": a.threshold,
                    "comparison": a.comparison, "message": a.message} for a in view.firing],
        "transitions": [t._asdict() for t in view.transitions[-20:]],
        "events": [dict(zip(("t_s", "kind", "subject", "reason"), e))
                   for e in (view.events[-events:] if events else [])],
        "instances": list(view.instances) if view.instances is not None else None,
    }
    if series:
        payload["series"] = {"t_s": list(data.times_s),
                             **{c: list(v) for c, v in data.series.items()}}
    return payload


class ReplayCache:
    """Finished runs' DashboardStates, read once per version of their directory."""

    def __init__(self) -> None:
        self._states: OrderedDict[tuple, DashboardState] = OrderedDict()
        self._lock = threading.Lock()

    def state(self, path: Path) -> tuple[DashboardState, list[str]]:
        """(state, problems) of a run directory; InputError when it is not one."""
        from simscale.reports.rundir import load_run

        key = (str(path), _version(path))
        with self._lock:
            hit = self._states.get(key)
            if hit is not None:
                self._states.move_to_end(key)
                return hit
        data = load_run(path)
        entry = (replay_state(data), data.problems)
        with self._lock:
            self._states[key] = entry
            while len(self._states) > CACHED_RUNS:
                self._states.popitem(last=False)
        return entry


def _version(path: Path) -> tuple:
    out = []
    for name in ("summary.json", "metrics.parquet", "events.parquet"):
        try:
            st = (path / name).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)
