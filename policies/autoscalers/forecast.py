"""Load forecasting for predictive scaling: bucketed history, seasonal naive and Holt-Winters.

References: Hyndman & Athanasopoulos, "Forecasting: Principles and Practice" (3rd ed.),
section 5.2 (seasonal naive: the forecast is the value one season earlier) and section 8.3
(Holt-Winters additive method: level, trend and seasonal equations with smoothing
parameters alpha, beta, gamma); Holt (1957) and Winters (1960).

Everything here is O(1) per completed bucket and keeps at most one season of state.
"""

from __future__ import annotations

import math
from collections import deque


class BucketedSeries:
    """Means of a signal over fixed buckets aligned to t = 0.

    Samples are added with their time; when a sample falls in a later bucket, the earlier
    bucket is complete and its mean is returned. A bucket that saw no sample (a gap) repeats
    the last complete mean, so the series has no holes.
    """

    def __init__(self, bucket_s: float) -> None:
        if not bucket_s > 0:
            raise ValueError(f"bucket_s must be > 0, got {bucket_s}")
        self.bucket_s = bucket_s
        self.current_index: int | None = None
        self._sum = 0.0
        self._count = 0
        self.last_complete_index: int | None = None
        self._last_mean: float | None = None

    def index(self, time_s: float) -> int:
        """The bucket that holds time_s."""
        return math.floor(time_s / self.bucket_s)

    def add(self, time_s: float, value: float) -> list[float]:
        """Add one sample; returns the means of the buckets this sample completed, in order."""
        index = self.index(time_s)
        completed: list[float] = []
        if self.current_index is None:
            self.current_index = index
        elif index > self.current_index:
            mean = self._sum / self._count
            completed.append(mean)
            gap = index - self.current_index - 1
            completed.extend([mean] * gap)
            self._last_mean = mean
            self.last_complete_index = index - 1
            self.current_index, self._sum, self._count = index, 0.0, 0
        elif index < self.current_index:
            raise ValueError(f"time went backwards: {time_s} is before bucket {self.current_index}")
        self._sum += value
        self._count += 1
        return completed


class SeasonalNaive:
    """Forecast = the observation one season earlier (FPP 5.2)."""

    def __init__(self, season_len: int) -> None:
        if season_len < 1:
            raise ValueError("season_len must be >= 1")
        self.season_len = season_len
        self.history: deque[float] = deque(maxlen=season_len)

    @property
    def ready(self) -> bool:
        return len(self.history) == self.season_len

    def update(self, value: float) -> None:
        self.history.append(value)

    def forecast(self, steps_ahead: int) -> float:
        """ŷ(T+h) = y(T + h - m·(k+1)), k = floor((h-1)/m); needs one full season."""
        if not self.ready:
            raise ValueError("seasonal naive needs one full season of history")
        if steps_ahead < 1:
            raise ValueError("steps_ahead must be >= 1")
        return self.history[(steps_ahead - 1) % self.season_len]


class HoltWintersAdditive:
    """Additive Holt-Winters (FPP 8.3), initialized from the first two seasons.

    Initialization: level = mean of season 1; trend = (mean of season 2 - mean of season 1)/m;
    seasonal index i = y_i - level for the m values of season 1. The update equations then run
    over season 2 and every later observation:

        level_t  = α (y_t - s_{t-m}) + (1 - α)(level_{t-1} + trend_{t-1})
        trend_t  = β (level_t - level_{t-1}) + (1 - β) trend_{t-1}
        s_t      = γ (y_t - level_{t-1} - trend_{t-1}) + (1 - γ) s_{t-m}
        ŷ_{T+h}  = level_T + h·trend_T + s_{T+h-m(k+1)}
    """

    def __init__(self, season_len: int, alpha: float, beta: float, gamma: float) -> None:
        if season_len < 2:
            raise ValueError("season_len must be >= 2")
        for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        self.m = season_len
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self._warmup: list[float] = []
        self.level = 0.0
        self.trend = 0.0
        self.season: list[float] = []
        self.t = 0  # index of the next observation
        self.ready = False

    def update(self, value: float) -> None:
        if not self.ready:
            self._warmup.append(value)
            if len(self._warmup) == 2 * self.m:
                self._initialize()
            return
        self._step(value)

    def _initialize(self) -> None:
        m = self.m
        first, second = self._warmup[:m], self._warmup[m:]
        mean_first = sum(first) / m
        self.level = mean_first
        self.trend = (sum(second) / m - mean_first) / m
        self.season = [y - mean_first for y in first]
        self.t = m
        self.ready = True
        for value in second:
            self._step(value)
        self._warmup = []

    def _step(self, value: float) -> None:
        slot = self.t % self.m
        previous_season = self.season[slot]
        previous_level, previous_trend = self.level, self.trend
        self.level = self.alpha * (value - previous_season) + (1 - self.alpha) * (
            previous_level + previous_trend
        )
        self.trend = self.beta * (self.level - previous_level) + (1 - self.beta) * previous_trend
        self.season[slot] = self.gamma * (value - previous_level - previous_trend) + (
            1 - self.gamma
        ) * previous_season
        self.t += 1

    def forecast(self, steps_ahead: int) -> float:
        """ŷ(T+h) for h >= 1 after the last observation."""
        if not self.ready:
            raise ValueError("Holt-Winters needs two full seasons of history")
        if steps_ahead < 1:
            raise ValueError("steps_ahead must be >= 1")
        last = self.t - 1
        return self.level + steps_ahead * self.trend + self.season[(last + steps_ahead) % self.m]
