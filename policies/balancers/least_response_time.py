"""Least response time: the candidate with the lowest latency × (in_flight + 1).

The score estimates how long a new request would wait behind the ones already there. Two
latency sources:

- mode "ewma": InstanceView.latency_ewma_s, the driver's moving average of response times
  (the idea behind NGINX Plus `least_time`).
- mode "peak_ewma": the balancer's own peak-sensitive estimate, as in Finagle's PeakEwma,
  Linkerd's (tower's) balancer and Envoy's contrib Peak EWMA policy: a response slower than
  the estimate replaces it at once; a faster one pulls it down with weight
  1 - exp(-Δt / decay_s), Δt being the time since the previous observation, and between
  observations the estimate decays towards zero the same way, so a host that was slow once
  is tried again later. Defaults are theirs: decay 10 s (Finagle `decayTime`, Linkerd
  `EWMA_DECAY`). It needs the driver to report each response through on_response().

An instance with no latency yet scores 0 when idle, so it gets one request to learn from, and
a large penalty plus its in_flight when busy, as Finagle does; set default_latency_s to start
from a fixed estimate instead (Linkerd uses 30 ms, tower 1 s).

choice_count 0 compares every candidate (ties go round robin); k >= 1 compares k uniform
draws with replacement, which is "P2C + Peak EWMA" (Finagle's default balancer) for k = 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from policies.views import InstanceView, RequestInfo, Route

PENALTY = float(2**47)  # Finagle's Long.MaxValue >> 16: worse than any real latency × load
MODES = ("ewma", "peak_ewma")


@dataclass(frozen=True)
class LeastResponseTimeConfig:
    """mode: "ewma" (the view's latency_ewma_s) or "peak_ewma" (own estimate, Finagle).
    choice_count: 0 for a full scan, k >= 1 for the best of k random draws.
    decay_s: peak_ewma's decay time constant (Finagle decayTime, default 10 s).
    default_latency_s: the estimate for an instance with no latency yet (0: Finagle's rule,
        idle ones are tried and busy ones penalized)."""

    __pydantic_config__ = {"extra": "forbid"}
    mode: str = "ewma"
    choice_count: int = 0
    decay_s: float = 10.0
    default_latency_s: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if self.choice_count < 0:
            raise ValueError("choice_count must be >= 0 (0: compare every candidate)")
        if self.decay_s <= 0:
            raise ValueError("decay_s must be > 0")
        if self.default_latency_s < 0:
            raise ValueError("default_latency_s must be >= 0")


class _Estimate:
    """A peak-EWMA latency estimate: its value at `stamp_s` (the last observation)."""

    __slots__ = ("cost_s", "stamp_s")

    def __init__(self) -> None:
        self.cost_s = 0.0
        self.stamp_s = 0.0


class LeastResponseTime:
    """Lowest latency × (in_flight + 1), by full scan or over k random draws.

    on_response(instance_id, latency_s, ok, now_s): feed an observed response time (used by
    mode "peak_ewma"; harmless otherwise). Reasons: "LeastResponseTime", "PeakEwma".
    """

    _BATCH = 4096

    def __init__(self, config: LeastResponseTimeConfig | None = None,
                 rng: np.random.Generator | None = None) -> None:
        self.config = cfg = config or LeastResponseTimeConfig()
        if cfg.choice_count > 0 and rng is None:
            raise ValueError("choice_count > 0 needs an rng")
        self._rng = rng
        self._uniforms: list[float] = []
        self._peak = cfg.mode == "peak_ewma"
        # policies.protocols.ResponseObserver: only peak_ewma uses the responses it is told
        self.learns_from_responses = self._peak
        self._reason = "PeakEwma" if self._peak else "LeastResponseTime"
        self._estimates: dict[int, _Estimate] = {}
        self._last: Sequence[InstanceView] | None = None
        self._aligned: list[_Estimate] = []
        self._start = 0

    def on_response(self, instance_id: int, latency_s: float, ok: bool, now_s: float) -> None:
        """Fold one observed response time into the instance's peak-EWMA estimate."""
        if not self._peak:
            return
        est = self._estimates.get(instance_id)
        if est is None:
            est = self._estimates[instance_id] = _Estimate()
            est.stamp_s = now_s
        if latency_s > est.cost_s:
            est.cost_s = latency_s
        else:
            w = math.exp(-max(now_s - est.stamp_s, 0.0) / self.config.decay_s)
            est.cost_s = est.cost_s * w + latency_s * (1.0 - w)
        est.stamp_s = now_s

    def forget(self, instance_id: int) -> None:
        """Drop the estimate of an instance that left for good."""
        self._estimates.pop(instance_id, None)
        self._last = None

    def latency_estimate_s(self, view: InstanceView, now_s: float) -> float:
        """The latency the score uses for one instance at now_s (0.0 when unknown)."""
        if not self._peak:
            return view.latency_ewma_s
        est = self._estimates.get(view.instance_id)
        if est is None or est.cost_s == 0.0:
            return 0.0
        return est.cost_s * math.exp(-max(now_s - est.stamp_s, 0.0) / self.config.decay_s)

    def _score(self, i: int, view: InstanceView, now_s: float) -> float:
        if self._peak:
            est = self._aligned[i]
            latency = est.cost_s
            if latency != 0.0:
                latency *= math.exp(-max(now_s - est.stamp_s, 0.0) / self.config.decay_s)
        else:
            latency = view.latency_ewma_s
        load = view.in_flight
        if latency == 0.0:
            latency = self.config.default_latency_s
            if latency == 0.0:
                return 0.0 if load == 0 else PENALTY + load
        return latency * (load + 1)

    def _rebuild(self, candidates: Sequence[InstanceView]) -> None:
        if self._peak:
            estimates = self._estimates
            aligned = []
            for c in candidates:
                est = estimates.get(c.instance_id)
                if est is None:
                    est = estimates[c.instance_id] = _Estimate()
                aligned.append(est)
            self._aligned = aligned
        self._last = candidates

    def choose(self, request: RequestInfo, candidates: Sequence[InstanceView],
               now_s: float) -> Route:
        if candidates is not self._last:
            self._rebuild(candidates)
        n = len(candidates)
        k = self.config.choice_count
        score = self._score
        if k == 0:
            start = self._start % n
            self._start = start + 1
            best = start
            best_score = score(start, candidates[start], now_s)
            for offset in range(1, n):
                i = start + offset
                if i >= n:
                    i -= n
                s = score(i, candidates[i], now_s)
                if s < best_score:
                    best, best_score = i, s
            return best, self._reason
        uniforms = self._uniforms
        if len(uniforms) < k:
            uniforms.extend(self._rng.random(self._BATCH).tolist())
        best = int(uniforms.pop() * n)
        best_score = score(best, candidates[best], now_s)
        for _ in range(k - 1):
            i = int(uniforms.pop() * n)
            s = score(i, candidates[i], now_s)
            if s < best_score:
                best, best_score = i, s
        return best, self._reason
