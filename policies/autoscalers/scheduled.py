"""Scheduled scaling: weekly windows that override the replica bounds.

Like a scheduled action that sets a scalable target's MinCapacity/MaxCapacity (AWS
Application Auto Scaling "Scheduled scaling"), a window such as weekdays 08:00-20:00
min_replicas=4 replaces the bounds while it is active.

Time is simulated: ``now_s`` counts seconds since the run started, and the run starts on
`start_weekday` at `start_hour` (hours after midnight). There are no time zones and no daylight
saving: a day is 86 400 s and a week seven days.

A window is active on its listed days from `start` (inclusive) to `end` (exclusive), both
"HH:MM" with "24:00" allowed as an end. A window whose end is earlier than its start crosses
midnight: it runs from `start` on a listed day until `end` on the next day. When several
windows are active, the first one listed wins. A window's unset min/max keep the base bounds.

With an inner policy (`inner_policy` + `inner_config`, e.g. target_tracking) the inner policy
decides within the effective bounds, keeping its own state; its reason gets
";schedule=<window>" appended. Without one, the schedule is the capacity plan: the desired
count is the effective minimum ("ScheduledCapacity").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from policies.autoscalers._common import AutoscalerBase, check_bounds, check_range
from policies.autoscalers._inner import LEAF_POLICIES, build_inner, inner_config
from policies.views import ClusterView, ScaleDecision

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_S = 86_400.0
SCHEDULED_CAPACITY = "ScheduledCapacity"
DEFAULT_WINDOW_NAME = "default"


def parse_clock(text: str, field: str, *, allow_24: bool = False) -> int:
    """Minutes after midnight for "HH:MM"; ValueError otherwise."""
    parts = text.split(":") if isinstance(text, str) else []
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"{field} must look like HH:MM, got {text!r}")
    hours, minutes = int(parts[0]), int(parts[1])
    total = hours * 60 + minutes
    if minutes > 59 or total > 24 * 60 or (total == 24 * 60 and not allow_24):
        raise ValueError(f"{field} is not a time of day: {text!r}")
    return total


def weekday_index(name: str, field: str = "weekday") -> int:
    """0 for "Mon" ... 6 for "Sun" (case-insensitive); ValueError otherwise."""
    for index, day in enumerate(WEEKDAYS):
        if isinstance(name, str) and name.lower() == day.lower():
            return index
    raise ValueError(f"{field}: unknown day {name!r} (use {', '.join(WEEKDAYS)})")


def wall_clock(now_s: float, start_weekday: int, start_hour: float) -> tuple[int, float]:
    """(weekday index, minutes after midnight) at simulated time `now_s`."""
    seconds = start_hour * 3600.0 + now_s
    day = math.floor(seconds / DAY_S)
    minute_of_day = (seconds - day * DAY_S) / 60.0
    return (start_weekday + day) % 7, minute_of_day


@dataclass(frozen=True)
class ScheduleWindow:
    """One recurring window.

    days: weekday names (Mon..Sun). start / end: "HH:MM" (end may be "24:00"; an end before
    the start crosses midnight). min_replicas / max_replicas: the bounds while active (None
    keeps the base bound).
    """

    __pydantic_config__ = {"extra": "forbid"}
    name: str = ""
    days: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri")
    start: str = "08:00"
    end: str = "20:00"
    min_replicas: int | None = None
    max_replicas: int | None = None

    def __post_init__(self) -> None:
        if len(self.days) == 0:
            raise ValueError("days must list at least one weekday")
        for day in self.days:
            weekday_index(day, "days")
        start = parse_clock(self.start, "start")
        end = parse_clock(self.end, "end", allow_24=True)
        if start == end:
            raise ValueError("start and end must differ (use 00:00-24:00 for a whole day)")
        for field in ("min_replicas", "max_replicas"):
            value = getattr(self, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise ValueError(f"{field} must be an integer >= 0, got {value!r}")
        if (
            self.min_replicas is not None
            and self.max_replicas is not None
            and self.min_replicas > self.max_replicas
        ):
            raise ValueError(
                f"min_replicas ({self.min_replicas}) must not exceed max_replicas "
                f"({self.max_replicas})"
            )

    def active(self, weekday: int, minute_of_day: float) -> bool:
        """Whether the window covers this weekday and time of day."""
        days = {weekday_index(d) for d in self.days}
        start = parse_clock(self.start, "start")
        end = parse_clock(self.end, "end", allow_24=True)
        if start < end:
            return weekday in days and start <= minute_of_day < end
        return (weekday in days and minute_of_day >= start) or (
            (weekday - 1) % 7 in days and minute_of_day < end
        )


@dataclass(frozen=True)
class ScheduledConfig:
    """Scheduled bounds.

    min_replicas / max_replicas: the base bounds outside every window.
    windows: ScheduleWindow entries, first match wins.
    start_weekday / start_hour: the simulated wall clock at now_s = 0.
    inner_policy: None, or one of target_tracking, threshold, step, concurrency.
    inner_config: the inner policy's config as a table (None for its defaults).
    sync_period_s: how often the driver should call decide.
    """

    __pydantic_config__ = {"extra": "forbid"}
    min_replicas: int = 2
    max_replicas: int = 10
    windows: tuple[ScheduleWindow, ...] = ()
    start_weekday: str = "Mon"
    start_hour: float = 0.0
    inner_policy: str | None = None
    inner_config: dict[str, Any] | None = None
    sync_period_s: float = 60.0

    def __post_init__(self) -> None:
        check_bounds(self.min_replicas, self.max_replicas, allow_zero_min=True)
        weekday_index(self.start_weekday, "start_weekday")
        check_range("start_hour", self.start_hour, 0.0, 23.999999)
        check_range("sync_period_s", self.sync_period_s, 1.0, 1800.0)
        for window in self.windows:
            if not isinstance(window, ScheduleWindow):
                raise ValueError(f"windows entries must be ScheduleWindow, got {window!r}")
            low = self.min_replicas if window.min_replicas is None else window.min_replicas
            high = self.max_replicas if window.max_replicas is None else window.max_replicas
            if low > high:
                raise ValueError(
                    f"window {window.name or window.start}: min {low} exceeds max {high} "
                    "once the base bounds are filled in"
                )
        if self.inner_policy is None:
            if self.inner_config is not None:
                raise ValueError("inner_config needs inner_policy")
        else:
            inner_config(LEAF_POLICIES, self.inner_policy, self.inner_config)


class Scheduled(AutoscalerBase):
    """Window lookup on the simulated clock, and the inner policy (if any) within the bounds."""

    def __init__(self, config: ScheduledConfig | None, rng: np.random.Generator) -> None:
        self.config = config or ScheduledConfig()
        self._start_weekday = weekday_index(self.config.start_weekday)
        self.inner = (
            None
            if self.config.inner_policy is None
            else build_inner(LEAF_POLICIES, self.config.inner_policy, self.config.inner_config, rng)
        )

    def active_window(self, now_s: float) -> ScheduleWindow | None:
        """The first window active at now_s, or None."""
        weekday, minute = wall_clock(now_s, self._start_weekday, self.config.start_hour)
        for window in self.config.windows:
            if window.active(weekday, minute):
                return window
        return None

    def bounds(self, now_s: float, base_min: int, base_max: int) -> tuple[int, int, str]:
        """(min, max, window name) in effect at now_s over the given base bounds."""
        window = self.active_window(now_s)
        if window is None:
            return base_min, base_max, DEFAULT_WINDOW_NAME
        low = base_min if window.min_replicas is None else window.min_replicas
        high = base_max if window.max_replicas is None else window.max_replicas
        return low, max(low, high), window.name or f"{window.start}-{window.end}"

    @property
    def scaler_metric(self) -> str:
        """Its inner policy's metric (without one, the default)."""
        return self.inner.scaler_metric if self.inner is not None else super().scaler_metric

    def _decide(
        self, cluster: ClusterView, now_s: float, min_replicas: int, max_replicas: int
    ) -> ScaleDecision:
        low, high, name = self.bounds(now_s, min_replicas, max_replicas)
        if self.inner is None:
            return ScaleDecision(low, f"{SCHEDULED_CAPACITY};schedule={name}")
        decision = self.inner.decide_within(cluster, now_s, low, high)
        return ScaleDecision(decision.desired_replicas, f"{decision.reason};schedule={name}")


def build(config: ScheduledConfig, rng: np.random.Generator) -> Scheduled:
    """Registry factory; the inner policy gets the same generator."""
    return Scheduled(config, rng)
