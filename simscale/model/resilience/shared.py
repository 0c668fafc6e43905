"""What the resilience rooms share: an instance as they track it, their counters, a timer."""

from __future__ import annotations

from policies.resilience import CLOSED, HALF_OPEN, CircuitBreaker, HealthChecker
from simscale.model.instance import Instance
from simscale.model.request import Request

# A probe whose outcome is known (answered, timed out or abandoned). Not PENDING, so the model
# never records, retries or times it out; not a terminal status, so a queue still starts it.
PROBE_DONE = -2

# Counted per metrics window (and over the run).
WINDOW_COUNTS = ("retries", "retries_denied", "rate_limited", "probes_failed")
# Counted over the run, in summary.json's order.
RUN_COUNTS = ("retries", "retries_denied", "retries_denied_budget", "rate_limited", "faults",
              "breaker_trips", "ejections", "health_marked_unhealthy", "probes",
              "probes_failed")


class Counters:
    """The resilience counts: `window` (reset by each metrics row) and `totals` (the run)."""

    def __init__(self) -> None:
        self.window = dict.fromkeys(WINDOW_COUNTS, 0)
        self.totals = dict.fromkeys(RUN_COUNTS, 0)

    def add(self, name: str) -> None:
        """One more `name`, in the window (when counted there) and in the run."""
        if name in self.window:
            self.window[name] += 1
        self.totals[name] += 1

    def take_window(self) -> dict[str, int]:
        """The window's counts; the next window starts at zero."""
        counts = dict(self.window)
        for key in self.window:
            self.window[key] = 0
        return counts


class Member:
    """One instance as the resilience rooms track it: its health checks, ejection, breaker,
    the probe in flight, and its slow-start ramp."""

    __slots__ = ("instance", "state", "checker", "hc_ok", "ejected", "breaker", "probes_left",
                 "probe", "probe_sent_s", "token", "ramp_start_s", "base_weight")

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.state = instance.state
        self.checker: HealthChecker | None = None
        self.hc_ok = True           # active health checks pass (True without health checks)
        self.ejected = False        # outlier detection has it out
        self.breaker: CircuitBreaker | None = None
        self.probes_left = 0        # half-open breaker: requests it may still let through
        self.probe: Request | None = None   # the health probe in flight
        self.probe_sent_s = 0.0
        self.token = 0              # the live probe chain (older timers see a stale token)
        self.ramp_start_s: float | None = None
        self.base_weight = instance.view.weight

    @property
    def available(self) -> bool:
        return self.hc_ok and not self.ejected

    @property
    def admits(self) -> bool:
        """Its breaker lets requests through (closed, or half-open with probes left)."""
        breaker = self.breaker
        if breaker is None or breaker.state == CLOSED:
            return True
        return breaker.state == HALF_OPEN and self.probes_left > 0

    def sync_view(self) -> None:
        """Hand the balancer the instance's health as the rooms see it."""
        healthy = self.available
        if self.instance.view.healthy != healthy:
            self.instance.set_view(healthy=healthy)
