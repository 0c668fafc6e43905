"""Active health checking for one instance: probe results in, healthy/unhealthy out.

The rule is HAProxy's rise/fall and Envoy's healthy_threshold/unhealthy_threshold: an
instance becomes unhealthy after `unhealthy_threshold` failed probes in a row and healthy
again after `healthy_threshold` passed probes in a row. A probe that takes longer than
`timeout_s` has failed. Defaults are HAProxy's (`inter 2s rise 2 fall 3`); Envoy requires
interval, timeout and both thresholds to be set. Envoy also marks a host that was never
checked healthy after a single passed probe ("during startup, only a single successful health
check is required"), and probes unhealthy hosts every `unhealthy_interval` when that is set
(HAProxy's `downinter`); both are modelled.

The checker does not schedule anything: the driver sends a probe every `next_interval_s`
and reports its outcome to record_probe().
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.resilience.states import HEALTHY, UNHEALTHY, Transition


@dataclass(frozen=True)
class HealthCheckConfig:
    """Probe cadence and the rise/fall thresholds.

    interval_s: time between probes (HAProxy `inter`, default 2 s; 0 is rejected, as HAProxy
        rejects `inter 0`).
    timeout_s: a probe slower than this has failed.
    healthy_threshold: passed probes in a row that make an unhealthy instance healthy (rise).
    unhealthy_threshold: failed probes in a row that make a healthy instance unhealthy (fall).
    unhealthy_interval_s: probe interval while unhealthy (None: interval_s).
    start_healthy: whether an instance counts as healthy before its first probe (HAProxy:
        yes; Envoy: no, but one passed probe then suffices).
    """

    __pydantic_config__ = {"extra": "forbid"}
    interval_s: float = 2.0
    timeout_s: float = 1.0
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3
    unhealthy_interval_s: float | None = None
    start_healthy: bool = False

    def __post_init__(self) -> None:
        if self.interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if self.healthy_threshold < 1:
            raise ValueError("healthy_threshold must be >= 1")
        if self.unhealthy_threshold < 1:
            raise ValueError("unhealthy_threshold must be >= 1")
        if self.unhealthy_interval_s is not None and self.unhealthy_interval_s <= 0:
            raise ValueError("unhealthy_interval_s must be > 0 (or None)")


class HealthChecker:
    """One instance's active health state.

    record_probe(ok, now_s, latency_s=None) -> Transition | None. Reasons:
    "Healthy:FirstCheck" (first probe ever passed, start_healthy False),
    "Healthy:ChecksPassed" (healthy_threshold passes in a row),
    "Unhealthy:ChecksFailed" / "Unhealthy:Timeout" (unhealthy_threshold failures in a row;
    the second when the probe that crossed the threshold timed out).
    """

    def __init__(self, config: HealthCheckConfig | None = None) -> None:
        self.config = config or HealthCheckConfig()
        self.healthy = self.config.start_healthy
        self.last_probe_s: float | None = None
        self._passes = 0
        self._failures = 0

    @property
    def state(self) -> str:
        return HEALTHY if self.healthy else UNHEALTHY

    @property
    def next_interval_s(self) -> float:
        """How long after this probe the next one is due."""
        cfg = self.config
        if not self.healthy and cfg.unhealthy_interval_s is not None:
            return cfg.unhealthy_interval_s
        return cfg.interval_s

    def next_probe_s(self, now_s: float) -> float:
        """When the next probe is due (now_s if none was ever sent)."""
        if self.last_probe_s is None:
            return now_s
        return self.last_probe_s + self.next_interval_s

    def record_probe(self, ok: bool, now_s: float,
                     latency_s: float | None = None) -> Transition | None:
        """Record one probe outcome; a latency above timeout_s makes it a failure."""
        cfg = self.config
        first = self.last_probe_s is None
        self.last_probe_s = now_s
        timed_out = latency_s is not None and latency_s > cfg.timeout_s
        if ok and not timed_out:
            self._failures = 0
            self._passes += 1
            if self.healthy:
                return None
            if first:
                return self._move(True, "Healthy:FirstCheck")
            if self._passes >= cfg.healthy_threshold:
                return self._move(True, "Healthy:ChecksPassed")
            return None
        self._passes = 0
        self._failures += 1
        if self.healthy and self._failures >= cfg.unhealthy_threshold:
            return self._move(False, "Unhealthy:Timeout" if timed_out else "Unhealthy:ChecksFailed")
        return None

    def _move(self, healthy: bool, reason: str) -> Transition:
        old = self.state
        self.healthy = healthy
        self._passes = 0
        self._failures = 0
        return Transition(old, self.state, reason)
