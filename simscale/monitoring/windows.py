"""Dashboard data: metric rows aggregated over rolling windows (1m, 5m, 1h).

A metrics row covers `[t_s, t_s + interval_s)`. A window of span W ending at `at_s` holds the
rows whose end lies in `(at_s - W, at_s]`. Each numeric column is aggregated by its kind:

- counters (errors, timeouts, rejected, slow queries, anything ending in `_count`): summed;
- gauges (instances by state, in flight, queued, connections): the last value (and min/max);
- everything else (rates, fractions, latencies, utilization): the mean weighted by each
  row's interval_s, ignoring rows where the value is missing.

`dashboard_data(rows, "1h")` is the service's getDashboardData('1h'): the window's stats
per column and its series for charts. Pure functions over rows; MetricWindows keeps the
rows a live view needs and answers the same queries.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from simscale.reports.numbers import as_number

WINDOWS_S: dict[str, float] = {"1m": 60.0, "5m": 300.0, "1h": 3600.0}
ALL = "all"  # a window covering every row (a finished run's whole timeline)

SUM, LAST, MEAN = "sum", "last", "mean"
COUNTER_COLUMNS = frozenset({
    "errors", "timeouts", "rejected", "retries", "slow_queries", "db_slow_queries",
    "cache_hits", "cache_misses", "db_queries", "arrivals", "ok",
})
GAUGE_COLUMNS = frozenset({
    "in_flight", "queued", "db_connections", "db_connections_in_use", "connections",
})
NOT_METRICS = frozenset({"t_s", "interval_s"})


def aggregation(column: str) -> str:
    """How a column is aggregated over a window: 'sum', 'last' or 'mean'."""
    if column in COUNTER_COLUMNS or column.endswith("_count"):
        return SUM
    if (column in GAUGE_COLUMNS or column.startswith("instances_")
            or column.endswith("_connections")):
        return LAST
    return MEAN


def window_span_s(window: str) -> float:
    """Seconds in a window name ('1m', '5m', '1h', 'all' = infinite); ValueError otherwise."""
    if window == ALL:
        return math.inf
    try:
        return WINDOWS_S[window]
    except KeyError:
        known = ", ".join([*WINDOWS_S, ALL])
        raise ValueError(f"unknown window {window!r} (known: {known})") from None


@dataclass(frozen=True)
class Stat:
    """One column over one window. Values are None when the window has no value for it."""

    column: str
    kind: str
    mean: float | None
    min: float | None
    max: float | None
    last: float | None
    total: float | None
    samples: int

    @property
    def value(self) -> float | None:
        """The headline: the total of a counter, the last gauge reading, else the mean."""
        if self.kind == SUM:
            return self.total
        if self.kind == LAST:
            return self.last
        return self.mean


@dataclass(frozen=True)
class WindowData:
    """What a dashboard shows for one window: the span, stats per column, and series."""

    window: str
    start_s: float
    end_s: float
    rows: int
    times_s: tuple[float, ...]
    stats: dict[str, Stat]
    series: dict[str, tuple[float | None, ...]]

    def value(self, column: str) -> float | None:
        stat = self.stats.get(column)
        return stat.value if stat is not None else None

    def as_dict(self) -> dict:
        """Plain data (JSON-ready)."""
        return {
            "window": self.window, "start_s": self.start_s, "end_s": self.end_s,
            "rows": self.rows, "times_s": list(self.times_s),
            "stats": {c: {"kind": s.kind, "value": s.value, "mean": s.mean, "min": s.min,
                          "max": s.max, "last": s.last, "total": s.total, "samples": s.samples}
                      for c, s in self.stats.items()},
            "series": {c: list(v) for c, v in self.series.items()},
        }


def row_end_s(row: dict) -> float:
    """When a row's interval ends."""
    return float(row.get("t_s", 0.0)) + float(row.get("interval_s") or 0.0)


def metric_columns(rows: Iterable[dict]) -> list[str]:
    """Numeric columns in order of first appearance (t_s and interval_s left out)."""
    seen: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if key in NOT_METRICS or key in seen:
                continue
            if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
                seen[key] = None
    return list(seen)


def stat(column: str, rows: Sequence[dict]) -> Stat:
    """Aggregate one column over rows (already chosen for a window)."""
    kind = aggregation(column)
    weighted = weight = total = 0.0
    lo = hi = last = None
    samples = 0
    for row in rows:
        value = as_number(row.get(column))
        if value is None:
            continue
        span = float(row.get("interval_s") or 0.0) or 1.0
        samples += 1
        weighted += value * span
        weight += span
        total += value
        lo = value if lo is None or value < lo else lo
        hi = value if hi is None or value > hi else hi
        last = value
    if not samples:
        return Stat(column, kind, None, None, None, None, None, 0)
    return Stat(column, kind, weighted / weight, lo, hi, last, total, samples)


def select_window(rows: Sequence[dict], window: str, at_s: float | None = None) -> list[dict]:
    """The rows of `window` ending at `at_s` (default: the end of the last row)."""
    if not rows:
        return []
    ends = [row_end_s(r) for r in rows]
    return list(rows[slice(*_window_bounds(ends, window, at_s))])


def _window_bounds(ends: Sequence[float], window: str, at_s: float | None) -> tuple[int, int]:
    span = window_span_s(window)
    at = ends[-1] if at_s is None else at_s
    hi = bisect.bisect_right(ends, at + 1e-9)
    lo = 0 if math.isinf(span) else bisect.bisect_right(ends, at - span + 1e-9)
    return lo, hi


def dashboard_data(rows: Sequence[dict], window: str = "1h", at_s: float | None = None,
                   columns: Sequence[str] | None = None) -> WindowData:
    """getDashboardData(window): stats and series of each column over the window ending at at_s.

    rows: metrics rows in time order. columns: which to aggregate (default: every numeric
    column of the rows). Raises ValueError for an unknown window name.
    """
    span = window_span_s(window)
    chosen = select_window(rows, window, at_s)
    return _build(chosen, window, span, at_s, columns)


def _build(chosen: Sequence[dict], window: str, span: float, at_s: float | None,
           columns: Sequence[str] | None) -> WindowData:
    cols = list(columns) if columns is not None else metric_columns(chosen)
    if chosen:
        end = row_end_s(chosen[-1]) if at_s is None else at_s
        start = float(chosen[0].get("t_s", 0.0)) if math.isinf(span) else max(0.0, end - span)
    else:
        end = at_s if at_s is not None else 0.0
        start = end if math.isinf(span) else max(0.0, end - span)
    return WindowData(
        window=window, start_s=start, end_s=end, rows=len(chosen),
        times_s=tuple(float(r.get("t_s", 0.0)) for r in chosen),
        stats={c: stat(c, chosen) for c in cols},
        series={c: tuple(as_number(r.get(c)) for r in chosen) for c in cols},
    )


class MetricWindows:
    """The metric rows of a run (or its last `keep_s` seconds) and dashboard queries on them.

    Rows must be added in time order. keep_s=None keeps every row (a finished run); a live
    view keeps an hour, the longest window.
    """

    def __init__(self, keep_s: float | None = None) -> None:
        self.keep_s = keep_s
        self.rows: list[dict] = []
        self._ends: list[float] = []
        self._columns: dict[str, None] = {}

    def add(self, row: dict) -> None:
        self.rows.append(row)
        self._ends.append(row_end_s(row))
        for column in metric_columns([row]):
            self._columns.setdefault(column, None)
        if self.keep_s is not None:
            cut = bisect.bisect_right(self._ends, self._ends[-1] - self.keep_s + 1e-9)
            if cut > 0:
                del self.rows[:cut]
                del self._ends[:cut]

    def extend(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self.add(row)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def columns(self) -> list[str]:
        """Every numeric column seen so far, in order of first appearance."""
        return list(self._columns)

    @property
    def end_s(self) -> float | None:
        return self._ends[-1] if self._ends else None

    def latest(self) -> dict | None:
        return self.rows[-1] if self.rows else None

    def index_at(self, t_s: float) -> int | None:
        """Index of the last row ending at or before t_s (None: none does)."""
        i = bisect.bisect_right(self._ends, t_s + 1e-9) - 1
        return i if i >= 0 else None

    def window_rows(self, window: str, at_s: float | None = None) -> list[dict]:
        """The kept rows of `window` ending at at_s (default: the newest row's end)."""
        if not self.rows:
            return []
        lo, hi = _window_bounds(self._ends, window, at_s)
        return self.rows[lo:hi]

    def dashboard_data(self, window: str = "1h", at_s: float | None = None,
                       columns: Sequence[str] | None = None) -> WindowData:
        """As dashboard_data() over the kept rows."""
        span = window_span_s(window)
        if not self.rows:
            return _build([], window, span, at_s, columns)
        lo, hi = _window_bounds(self._ends, window, at_s)
        return _build(self.rows[lo:hi], window, span, at_s, columns)
