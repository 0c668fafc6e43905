"""A fleet's metrics pipeline: pushed samples → window averages → scrapes delivered late.

Production instances push gauge samples (cpu, memory, in flight, request rate, latency,
readiness); a scrape at time t averages each instance's samples in `(t - window, t]`, as the
simulator's Scraper averages counters over its window, and is delivered `delay_s` later
through the same DelayLine. The pod list is current (an instance is there while its newest
sample is inside the window), its metrics are those of the delivered scrape: the same
ClusterView the simulator builds. Each scrape also gives one metrics row for the dashboard
and the alert rules, covering `(t - interval, t]`. Pure: no clock, no lock, no I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from policies.views import DRAINING, READY, ClusterView
from simscale.model.autoscaling import DelayLine, PodValues, Scrape, cluster_view, trim_window

# The per-instance gauges a sample may carry (policies.views.PodMetrics' metric fields).
GAUGES = ("cpu_util_frac", "memory_frac", "in_flight", "request_rps", "latency_s")


@dataclass(frozen=True)
class Sample:
    """One pushed sample of an instance, stamped with the server's time on arrival."""

    t_s: float
    state: str
    ready: bool
    values: tuple[float | None, ...]  # in GAUGES order


class Track:
    """One instance's recent samples and its identity in ClusterViews."""

    def __init__(self, instance_id: int, first_s: float) -> None:
        self.instance_id = instance_id
        self.first_s = first_s
        self.samples: deque[Sample] = deque()

    @property
    def newest(self) -> Sample:
        return self.samples[-1]


def _mean(values) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _sum(values) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


class FleetScraper:
    """Samples in, scrapes and metrics rows out; `keep_s` bounds what is held per instance."""

    def __init__(self, scrape_interval_s: float, window_s: float, delay_s: float) -> None:
        self.interval_s = scrape_interval_s
        self.window_s = window_s
        self.delay = DelayLine(delay_s)
        self.tracks: dict[str, Track] = {}
        self.cluster: deque[tuple[float, dict[str, float]]] = deque()
        self._next_id = 0

    def reset(self, scrape_interval_s: float, window_s: float, delay_s: float) -> FleetScraper:
        """A scraper with new settings that keeps the samples received (scrapes in transit
        are dropped)."""
        new = FleetScraper(scrape_interval_s, window_s, delay_s)
        new.tracks, new.cluster, new._next_id = self.tracks, self.cluster, self._next_id
        return new

    @property
    def keep_s(self) -> float:
        return max(self.window_s, self.interval_s)

    # ------------------------------------------------------------ input

    def add(self, instance: str, sample: Sample) -> None:
        track = self.tracks.get(instance)
        if track is None:
            track = self.tracks[instance] = Track(self._next_id, sample.t_s)
            self._next_id += 1
        track.samples.append(sample)

    def add_cluster(self, t_s: float, metrics: dict[str, float]) -> None:
        self.cluster.append((t_s, dict(metrics)))

    # ------------------------------------------------------------ scrapes

    def scrape(self, t: float) -> tuple[Scrape, dict]:
        """The scrape at time t (pushed into the delay line) and its metrics row."""
        pods: dict[int, PodValues] = {}
        ready_values: list[tuple[float | None, ...]] = []
        live = ready = 0
        for track in self.tracks.values():
            window = [s for s in track.samples if t - self.window_s < s.t_s <= t]
            if not window:
                continue
            live += window[-1].state != DRAINING
            if window[-1].state != READY:
                continue
            ready += window[-1].ready
            used = [s.values for s in window if s.state == READY]
            pods[track.instance_id] = PodValues(*(_mean(col) for col in zip(*used)))
            recent = [s.values for s in window if s.state == READY and s.t_s > t - self.interval_s]
            if recent:
                ready_values.append(tuple(_mean(col) for col in zip(*recent)))
        cluster = [m for ts, m in self.cluster if t - self.window_s < ts <= t]
        rps = [v.request_rps for v in pods.values()]
        arrival_rps = _mean(m.get("arrivals_rps") for m in cluster)
        scrape = Scrape(t, pods, arrival_rps if arrival_rps is not None else _sum(rps),
                        _sum(v.in_flight for v in pods.values()))
        self.delay.push(scrape)
        return scrape, self._row(t, live, ready, ready_values)

    def _row(self, t: float, live: int, ready: int, values: list[tuple]) -> dict:
        """The metrics row of (t - interval, t]: fleet aggregates, then cluster samples' means."""
        cols = dict(zip(GAUGES, zip(*values))) if values else {g: () for g in GAUGES}
        row: dict = {
            "t_s": t - self.interval_s, "interval_s": self.interval_s,
            "instances": live, "instances_ready": ready,
            "cpu_util_frac": _mean(cols["cpu_util_frac"]),
            "memory_frac": _mean(cols["memory_frac"]),
            "in_flight": _sum(cols["in_flight"]),
            "throughput_rps": _sum(cols["request_rps"]),
            "latency_s": _mean(cols["latency_s"]),
        }
        recent = [m for ts, m in self.cluster if t - self.interval_s < ts <= t]
        names = dict.fromkeys(k for m in recent for k in m)
        for name in names:
            row[name] = _mean(m.get(name) for m in recent)
        row.setdefault("arrivals_rps", row["throughput_rps"])
        return row

    def pods_now(self, now: float) -> list[tuple[int, str, bool, float]]:
        """(instance_id, state, ready, started_s) of the instances whose newest sample is in
        the window ending now, as cluster_view takes them."""
        return [(t.instance_id, t.newest.state, t.newest.state == READY and t.newest.ready,
                 t.first_s)
                for t in self.tracks.values() if t.newest.t_s > now - self.window_s]

    def view(self, now: float) -> ClusterView:
        """The ClusterView an autoscaler deciding at `now` sees."""
        return cluster_view(self.pods_now(now), self.delay.deliver(now), now)

    def forget(self, now: float) -> None:
        """Drop samples no scrape at or after `now` can use, and instances gone that long."""
        horizon = now - self.keep_s
        for name in [n for n, t in self.tracks.items() if t.newest.t_s <= horizon]:
            del self.tracks[name]
        for track in self.tracks.values():
            trim_window(track.samples, now, self.keep_s, lambda s: s.t_s)
        trim_window(self.cluster, now, self.keep_s, lambda c: c[0])
        while self.cluster and self.cluster[0][0] <= horizon:
            self.cluster.popleft()
