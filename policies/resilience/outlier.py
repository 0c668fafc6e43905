"""Passive outlier ejection on consecutive errors, as Envoy's outlier_detection does it.

Envoy's ejection algorithm (arch overview, "Outlier detection"): a host with
`consecutive_5xx` errors in a row is an outlier. It is ejected unless that would put more than
`max_ejection_percent` of the cluster's hosts in ejection, though one host can always be
ejected ("defaults to 10% but will eject at least one host regardless of the value"). It stays
ejected for `base_ejection_time` × the number of times it has been ejected in a row, capped
at `max_ejection_time`; the multiplier goes down by one for each `interval` the host spends
in service, and the host returns by itself when its time is up. Defaults are Envoy's: 5
errors, 10 s interval, 30 s base, 300 s cap, 10 %.

Differences, so that the detector needs no timer of its own: a host returns exactly when its
ejection time is up (Envoy notices at its next interval sweep), and the multiplier's decay is
computed from the time spent in service when the host is next ejected. Success-rate and
failure-percentage detection are not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

_NEVER = math.inf


@dataclass(frozen=True)
class OutlierDetectionConfig:
    """Envoy outlier_detection fields (seconds instead of durations).

    consecutive_5xx: errors in a row that make a host an outlier (>= 1).
    interval_s: each interval a host spends in service takes one off its ejection multiplier.
    base_ejection_time_s: ejection time for the first ejection in a row.
    max_ejection_time_s: cap on the ejection time (>= base_ejection_time_s).
    max_ejection_percent: most hosts that may be ejected at once, as a percent of the
        cluster (0..100); one host can always be ejected.
    """

    __pydantic_config__ = {"extra": "forbid"}
    consecutive_5xx: int = 5
    interval_s: float = 10.0
    base_ejection_time_s: float = 30.0
    max_ejection_time_s: float = 300.0
    max_ejection_percent: float = 10.0

    def __post_init__(self) -> None:
        if self.consecutive_5xx < 1:
            raise ValueError("consecutive_5xx must be >= 1")
        if self.interval_s <= 0:
            raise ValueError("interval_s must be > 0")
        if self.base_ejection_time_s <= 0:
            raise ValueError("base_ejection_time_s must be > 0")
        if self.max_ejection_time_s < self.base_ejection_time_s:
            raise ValueError("max_ejection_time_s must be >= base_ejection_time_s")
        if not 0.0 <= self.max_ejection_percent <= 100.0:
            raise ValueError("max_ejection_percent must be in [0, 100]")


class OutlierEvent(NamedTuple):
    """An ejection or a return to service: which instance, which way, why, and when."""

    instance_id: int
    ejected: bool
    reason: str
    at_s: float


class _Host:
    __slots__ = ("consecutive", "multiplier", "ejected_until_s", "in_service_since_s")

    def __init__(self) -> None:
        self.consecutive = 0
        self.multiplier = 0
        self.ejected_until_s = -_NEVER
        self.in_service_since_s = 0.0


_NO_EVENTS: tuple[OutlierEvent, ...] = ()


class OutlierDetector:
    """Consecutive-error ejection over a cluster of instances, keyed by instance id.

    record(instance_id, ok, now_s, n_instances) -> tuple of OutlierEvent: the returns to
    service that fell due up to now_s, then the ejection this outcome caused, if any
    (usually the empty tuple). n_instances is the cluster size the percent limit applies to.
    is_ejected(instance_id, now_s) -> bool.
    sweep(now_s) -> tuple of OutlierEvent: returns to service due by now_s (call it at
    next_return_s to rebuild the candidate set on time).
    uneject(instance_id, now_s, reason) -> OutlierEvent | None: an early return, e.g. after
    a passed active health check (Envoy does this by default).

    Reasons: "Ejected:5xx", "Unejected:Timer" (or the reason given to uneject()).
    Outcomes recorded for an ejected host are ignored.
    """

    def __init__(self, config: OutlierDetectionConfig | None = None) -> None:
        self.config = config or OutlierDetectionConfig()
        self._hosts: dict[int, _Host] = {}
        self._ejected: set[int] = set()
        self.next_return_s = _NEVER  # earliest ejected_until_s among ejected hosts

    def is_ejected(self, instance_id: int, now_s: float) -> bool:
        host = self._hosts.get(instance_id)
        return host is not None and host.ejected_until_s > now_s

    def ejected_count(self, now_s: float) -> int:
        """How many hosts are out of service at now_s."""
        return sum(1 for i in self._ejected if self._hosts[i].ejected_until_s > now_s)

    def multiplier(self, instance_id: int) -> int:
        """Ejections in a row so far (the ejection-time multiplier; 0 for unknown hosts)."""
        host = self._hosts.get(instance_id)
        return 0 if host is None else host.multiplier

    def record(self, instance_id: int, ok: bool, now_s: float,
               n_instances: int) -> tuple[OutlierEvent, ...]:
        """Record one response from an instance; a timeout or a 5xx is `ok=False`."""
        events = self.sweep(now_s) if now_s >= self.next_return_s else _NO_EVENTS
        host = self._hosts.get(instance_id)
        if host is None:
            host = self._hosts[instance_id] = _Host()
            host.in_service_since_s = now_s
        if host.ejected_until_s > now_s:
            return events
        if ok:
            host.consecutive = 0
            return events
        host.consecutive += 1
        if host.consecutive < self.config.consecutive_5xx:
            return events
        host.consecutive = 0
        if not self._may_eject(n_instances):
            return events
        return events + (self._eject(instance_id, host, now_s),)

    def sweep(self, now_s: float) -> tuple[OutlierEvent, ...]:
        """Return to service every host whose ejection time is up by now_s."""
        if now_s < self.next_return_s:
            return _NO_EVENTS
        due = sorted((self._hosts[i].ejected_until_s, i) for i in self._ejected
                     if self._hosts[i].ejected_until_s <= now_s)
        events = []
        for until_s, instance_id in due:
            self._ejected.discard(instance_id)
            self._hosts[instance_id].in_service_since_s = until_s
            events.append(OutlierEvent(instance_id, False, "Unejected:Timer", until_s))
        self._refresh_next()
        return tuple(events)

    def uneject(self, instance_id: int, now_s: float,
                reason: str = "Unejected:HealthCheck") -> OutlierEvent | None:
        """Return an ejected host to service early and clear its counters."""
        host = self._hosts.get(instance_id)
        if host is None or instance_id not in self._ejected:
            return None
        self._ejected.discard(instance_id)
        host.ejected_until_s = -_NEVER
        host.consecutive = 0
        host.multiplier = 0
        host.in_service_since_s = now_s
        self._refresh_next()
        return OutlierEvent(instance_id, False, reason, now_s)

    def forget(self, instance_id: int) -> None:
        """Drop an instance that left the cluster."""
        self._hosts.pop(instance_id, None)
        if instance_id in self._ejected:
            self._ejected.discard(instance_id)
            self._refresh_next()

    def _may_eject(self, n_instances: int) -> bool:
        ejected = len(self._ejected)  # sweep() ran first, so these are all still out
        if ejected == 0:
            return True
        return 100.0 * (ejected + 1) <= self.config.max_ejection_percent * max(n_instances, 1)

    def _eject(self, instance_id: int, host: _Host, now_s: float) -> OutlierEvent:
        cfg = self.config
        served = now_s - host.in_service_since_s
        decay = int(served // cfg.interval_s) if served > 0 else 0
        cap = max(1, int(cfg.max_ejection_time_s // cfg.base_ejection_time_s))
        host.multiplier = min(max(host.multiplier - decay, 0) + 1, cap)
        duration = min(cfg.base_ejection_time_s * host.multiplier, cfg.max_ejection_time_s)
        host.ejected_until_s = now_s + duration
        self._ejected.add(instance_id)
        if host.ejected_until_s < self.next_return_s:
            self.next_return_s = host.ejected_until_s
        return OutlierEvent(instance_id, True, "Ejected:5xx", now_s)

    def _refresh_next(self) -> None:
        hosts = self._hosts
        self.next_return_s = min((hosts[i].ejected_until_s for i in self._ejected),
                                 default=_NEVER)
