"""What a dashboard shows, as plain data: rows, events, instances, alerts and a time cursor.

The same state serves a live run (rows arrive, the cursor follows the newest row) and a
finished run (all rows at once, the cursor scrubs). Alert rules are replayed row by row with
simscale.monitoring.alerts, so the alerts shown at any cursor are those the rules give at that time.
Nothing here imports Textual.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from simscale.monitoring.alerts import (
    ActiveAlert,
    AlertEvaluator,
    AlertRule,
    AlertTransition,
    rules_from_spec,
)
from simscale.monitoring.windows import ALL, WINDOWS_S, MetricWindows, WindowData, row_end_s

WINDOW_CYCLE = ("1m", "5m", "1h", ALL)


@dataclass(frozen=True)
class View:
    """One frame of the dashboard, computed once per refresh and shared by its widgets."""

    row: dict | None
    index: int | None           # cursor row (None: no rows)
    rows: int
    at_s: float
    window: str                          # the charts' window
    window_rows: list[dict]              # its rows, ending at the cursor
    columns: list[str]
    firing: tuple[ActiveAlert, ...]
    transitions: list[AlertTransition]   # up to the cursor
    events: list[tuple]                  # up to the cursor
    instances: tuple[dict, ...] | None
    following: bool
    state: DashboardState

    def series(self, column: str) -> list:
        """One column over the charts' window (None where a row lacks it)."""
        return [row.get(column) for row in self.window_rows]

    def window_data(self, window: str | None = None, columns=None) -> WindowData:
        """Stats of `columns` (default: all) over a window ending at the cursor."""
        at = self.at_s if self.row is not None else None
        return self.state.metrics.dashboard_data(window or self.window, at, columns)


class DashboardState:
    """Rows, events and alert history of one run, and a cursor over its rows."""

    def __init__(self, rules: Iterable[AlertRule], window: str = ALL,
                 keep_s: float | None = None) -> None:
        """keep_s: keep only the rows (and events) of the last keep_s seconds (None: every
        row, so that the cursor may go anywhere); alert rules still see every row."""
        if window not in WINDOW_CYCLE:
            raise ValueError(f"unknown window {window!r}")
        self.keep_s = keep_s
        self.metrics = MetricWindows(keep_s)
        self.events: list[tuple] = []
        self.instances: tuple[dict, ...] | None = None
        self.window = window
        self.cursor: int | None = None   # None: follow the newest row
        self._alerts = AlertEvaluator(tuple(rules))
        self._firing_by_row: list[tuple[ActiveAlert, ...]] = []
        self._transitions_by_row: list[int] = []  # transitions count after each row
        self.version = 0

    # ------------------------------------------------------------ input

    def add_rows(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self.metrics.add(row)
            self._alerts.observe(row)
            self._firing_by_row.append(self._alerts.firing())
            self._transitions_by_row.append(len(self._alerts.transitions))
        dropped = len(self._firing_by_row) - len(self.metrics)
        if dropped > 0:  # rows older than keep_s left MetricWindows: keep the lists aligned
            del self._firing_by_row[:dropped]
            del self._transitions_by_row[:dropped]
        self.version += 1

    def add_events(self, events: Iterable[tuple]) -> None:
        self.events.extend(tuple(e) for e in events)
        if self.keep_s is not None and self.events:
            oldest = self.events[-1][0] - self.keep_s
            cut = bisect.bisect_left(self.events, oldest, key=lambda e: e[0])
            del self.events[:cut]
        self.version += 1

    @property
    def rules(self) -> tuple[AlertRule, ...]:
        return self._alerts.rules

    @property
    def transitions(self) -> list[AlertTransition]:
        """Every alert transition so far (also those of rows no longer kept)."""
        return self._alerts.transitions

    def set_instances(self, instances: tuple[dict, ...] | None) -> None:
        if instances is not None:
            self.instances = instances
            self.version += 1

    # ------------------------------------------------------------ cursor and window

    @property
    def rows(self) -> list[dict]:
        return self.metrics.rows

    @property
    def following(self) -> bool:
        return self.cursor is None

    def index(self) -> int | None:
        n = len(self.metrics)
        if n == 0:
            return None
        return n - 1 if self.cursor is None else min(self.cursor, n - 1)

    def move(self, delta: int) -> None:
        """Move the cursor by delta rows (stops following the newest row)."""
        i = self.index()
        if i is None:
            return
        self.cursor = max(0, min(len(self.metrics) - 1, i + delta))
        self.version += 1

    def seek(self, index: int) -> None:
        n = len(self.metrics)
        if n:
            self.cursor = max(0, min(n - 1, index))
            self.version += 1

    def seek_fraction(self, fraction: float) -> None:
        n = len(self.metrics)
        if n:
            self.seek(round(max(0.0, min(1.0, fraction)) * (n - 1)))

    def follow(self) -> None:
        """Put the cursor back on the newest row, and keep it there."""
        self.cursor = None
        self.version += 1

    def cycle_window(self) -> str:
        i = WINDOW_CYCLE.index(self.window)
        self.window = WINDOW_CYCLE[(i + 1) % len(WINDOW_CYCLE)]
        self.version += 1
        return self.window

    # ------------------------------------------------------------ output

    def view(self, event_limit: int = 500) -> View:
        i = self.index()
        row = self.rows[i] if i is not None else None
        at = row_end_s(row) if row is not None else 0.0
        window_rows = self.metrics.window_rows(self.window, at if row is not None else None)
        firing = self._firing_by_row[i] if i is not None else ()
        n_tr = self._transitions_by_row[i] if i is not None else 0
        events = self.events
        if not self.following:
            events = events[: bisect.bisect_right(events, at + 1e-9, key=lambda e: e[0])]
        return View(
            row=row, index=i, rows=len(self.rows), at_s=at, window=self.window,
            window_rows=window_rows,
            columns=self.metrics.columns, firing=firing,
            transitions=self._alerts.transitions[:n_tr], events=events[-event_limit:],
            instances=self.instances, following=self.following, state=self,
        )


def replay_state(data, window: str = ALL) -> DashboardState:
    """A finished run's dashboard: every row and event of its directory (reports.rundir.RunData),
    with the alert rules its spec recorded."""
    network = (data.spec or {}).get("network") or {}
    bandwidth = bool(network.get("enabled")) and network.get("nic_bandwidth_bps") is not None
    state = DashboardState(rules_from_spec(data.alerts_spec(), bandwidth), window=window)
    state.add_rows(data.metric_rows)
    state.add_events(data.events)
    return state


def windows() -> list[str]:
    """The window names a dashboard offers."""
    return [*WINDOWS_S, ALL]
