"""Dashboard config: which widgets the dashboard shows, in which column and in what order.

A dashboard is a TOML file (experiments/dashboards/default.toml is the default):

    title = "Service dashboard"     # shown in the header
    window = "all"                  # charts' initial window: "1m", "5m", "1h" or "all"

    [[widgets]]                     # one table per widget, shown in file order
    kind = "chart"                  # chart | stats | alerts | instances | events
    column = "left"                 # left | right
    title = "Latency"
    metrics = ["latency_p50_s", "latency_p95_s", "latency_p99_s"]
    plot = "latency_p95_s"          # the metric drawn (default: the first present)
    unit = "ms"
    scale = 1000                    # shown values are multiplied by this
    height = 2                      # chart rows

Metric and field names may be glob patterns (`instances_*`, `cache_hit*`): they match
whatever columns a run has, so a dashboard written before a metric existed shows it once it
does, and a widget whose columns are all absent says so instead of failing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simscale.errors import InputError
from simscale.inputs import problem_lines

Column = Literal["left", "right"]
WindowName = Literal["1m", "5m", "1h", "all"]
DEFAULT_PATH = Path("experiments/dashboards/default.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChartWidget(_Section):
    """A line chart of a metric over the current window, with the latest values in its title."""

    kind: Literal["chart"]
    title: str
    metrics: tuple[str, ...] = Field(min_length=1, description="columns (globs) shown")
    plot: str | None = Field(None, description="the column drawn (default: first present)")
    unit: str = Field("", description="unit shown after the values")
    scale: float = Field(1.0, gt=0, description="multiplier for shown values (1000: s → ms)")
    height: int = Field(3, ge=1, le=20, description="rows of the chart (5 or more: a time "
                        "axis too)")
    column: Column = "left"


class StatsWidget(_Section):
    """A table of metrics aggregated over the 1m, 5m and 1h windows ending at the cursor."""

    kind: Literal["stats"]
    title: str = "Windows"
    metrics: tuple[str, ...] = Field(min_length=1)
    windows: tuple[Literal["1m", "5m", "1h", "all"], ...] = ("1m", "5m", "1h")
    height: int | None = Field(None, ge=3, description="rows (default: share the column)")
    column: Column = "right"


class AlertsWidget(_Section):
    """The alerts firing at the cursor, critical first, and the latest transitions."""

    kind: Literal["alerts"]
    title: str = "Alerts"
    height: int | None = Field(None, ge=2)
    column: Column = "right"


class InstancesWidget(_Section):
    """A table of instances (live runs): one row each, the fields that exist."""

    kind: Literal["instances"]
    title: str = "Instances"
    fields: tuple[str, ...] = (
        "instance_id", "state", "health*", "breaker*", "in_flight", "queued", "busy",
        "latency_ewma_s", "cpu*", "memory*",
    )
    max_rows: int = Field(200, ge=1)
    height: int | None = Field(None, ge=3)
    column: Column = "right"


class EventsWidget(_Section):
    """The event log up to the cursor: decisions with their reasons, state changes, alerts."""

    kind: Literal["events"]
    title: str = "Events"
    kinds: tuple[str, ...] = Field((), description="event kinds shown (empty: all)")
    lines: int = Field(200, ge=1, description="events kept on screen")
    height: int | None = Field(None, ge=2)
    column: Column = "left"


WidgetConfig = Annotated[
    ChartWidget | StatsWidget | AlertsWidget | InstancesWidget | EventsWidget,
    Field(discriminator="kind"),
]


class DashboardConfig(_Section):
    title: str = "simscale"
    window: WindowName = "all"
    widgets: tuple[WidgetConfig, ...] = Field(min_length=1)

    def charts(self) -> list[ChartWidget]:
        return [w for w in self.widgets if isinstance(w, ChartWidget)]

    def in_column(self, column: str) -> list:
        return [w for w in self.widgets if w.column == column]


def _chart(title, metrics, **kw) -> ChartWidget:
    return ChartWidget(kind="chart", title=title, metrics=tuple(metrics), **kw)


DEFAULT_DASHBOARD = DashboardConfig(
    title="simscale",
    window="all",
    widgets=(
        _chart("Requests", ["arrivals_rps", "throughput_rps"], unit="rps"),
        _chart("Latency", ["latency_p50_s", "latency_p95_s", "latency_p99_s"],
               plot="latency_p95_s", unit="ms", scale=1000.0),
        _chart("Instances", ["instances_*"]),
        _chart("CPU / memory", ["cpu_util_frac", "memory_frac"], unit="%", scale=100.0),
        _chart("Cache hit rate", ["cache_hit*"], unit="%", scale=100.0),
        _chart("Errors", ["error_rate"], unit="%", scale=100.0),
        EventsWidget(kind="events"),
        AlertsWidget(kind="alerts", height=4),
        InstancesWidget(kind="instances"),
        StatsWidget(kind="stats", metrics=(
            "arrivals_rps", "latency_p95_s", "error_rate", "cpu_util_frac", "memory_frac",
            "cache_hit*", "db_*", "instances_ready", "errors")),
    ),
)


def load_dashboard(path: str | Path) -> DashboardConfig:
    """Read and validate a dashboard file; InputError names the file and the field path."""
    from simscale.inputs import read_toml

    path = Path(path)
    data = read_toml(path)
    try:
        return DashboardConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(problem_lines(exc, str(path))) from None


def resolve(patterns: Iterable[str], available: Iterable[str]) -> list[str]:
    """The available names each pattern matches, in pattern order, each once."""
    names = list(available)
    out: dict[str, None] = {}
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            for name in names:
                if fnmatch.fnmatchcase(name, pattern):
                    out.setdefault(name, None)
        elif pattern in names:
            out.setdefault(pattern, None)
    return list(out)
