"""Slow start: an endpoint's weight ramps up over a window after it joins (Envoy's formula).

Envoy ("Slow start mode", RoundRobin and LeastRequest balancers):

    new_weight = weight × max(min_weight_percent, time_factor ^ (1 / aggression))
    time_factor = max(time_in_slow_start_s, 1) / slow_start_window_s

An endpoint is in slow start from when it joins (or, with active health checking, from when
it turns healthy) until the window has passed. aggression defaults to 1.0 (a linear ramp) and
min_weight_percent to 10 %. HAProxy's `slowstart` ramps a server's weight the same way,
linearly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlowStartConfig:
    """window_s: ramp length (> 0). aggression: ramp shape (> 0; 1 is linear).
    min_weight_percent: floor of the ramp, as a percent of the weight (0..100)."""

    __pydantic_config__ = {"extra": "forbid"}
    window_s: float = 30.0
    aggression: float = 1.0
    min_weight_percent: float = 10.0

    def __post_init__(self) -> None:
        if self.window_s <= 0:
            raise ValueError("window_s must be > 0")
        if self.aggression <= 0:
            raise ValueError("aggression must be > 0")
        if not 0.0 <= self.min_weight_percent <= 100.0:
            raise ValueError("min_weight_percent must be in [0, 100]")


def slow_start_factor(elapsed_s: float, window_s: float, aggression: float = 1.0,
                      min_weight_percent: float = 10.0) -> float:
    """The multiplier on an endpoint's weight `elapsed_s` seconds into slow start (0..1].

    1.0 once elapsed_s >= window_s (the endpoint has left slow start).
    """
    if elapsed_s >= window_s:
        return 1.0
    time_factor = max(elapsed_s, 1.0) / window_s
    ramp = time_factor if aggression == 1.0 else time_factor ** (1.0 / aggression)
    return min(1.0, max(min_weight_percent / 100.0, ramp))


def slow_start_weight(weight: float, elapsed_s: float, window_s: float,
                      aggression: float = 1.0, min_weight_percent: float = 10.0) -> float:
    """weight × slow_start_factor(...): Envoy's effective weight during slow start."""
    return weight * slow_start_factor(elapsed_s, window_s, aggression, min_weight_percent)
