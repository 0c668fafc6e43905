"""The autoscaling component: billing, a lagging metrics pipeline, and the autoscaler's loop.

Three parts, each small:

- `Billing` (always built) integrates instance-hours — booting, ready and draining time, what
  a cloud provider bills (an EC2 instance is billed from launch to termination, whatever it
  is doing) — and prices them. It adds `instance_hours` to every metrics row and the cost keys
  to the summary, whether autoscaling is on or off.
- `Scraper` is the metrics pipeline as production has it: every `scrape_interval_s` it reads
  each ready instance's counters (CPU core-seconds, request-seconds in flight, responses,
  latency sum) and the load balancer's arrival counter, turns them into averages and rates
  over the last `metrics_window_s` (Prometheus `rate(x[window])`: the oldest sample inside
  the window against the newest; a series with a single sample has no value yet), and hands
  the result over `metrics_delay_s` later. The autoscaler never reads the simulator's state.
- `Autoscaler` is one long-lived SimPy process. On each sync period (the policy's
  `sync_period_s`, the HPA controller's `--horizontal-pod-autoscaler-sync-period`) it builds a
  ClusterView from the newest delivered scrape and the current pod list (the HPA reads pods
  from the API server, which is current, and their metrics from the metrics API, which lags),
  calls `policy.decide(view, now_s)` and applies the decision: a scale-up adds BOOTING
  instances that become ready after a boot delay (then optionally run slower for a warm-up);
  a scale-in drains the victims chosen by the configured selector (a Kubernetes pod gets
  `terminationGracePeriodSeconds`, 30 s by default, to finish its work). Scrapes and
  decisions share the loop, so at equal times the scrape always goes first.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from policies import registry
from policies.autoscalers.victims import get_selector
from policies.protocols import Autoscaler as AutoscalerPolicy
from policies.protocols import MetricScaler
from policies.views import (
    BOOTING,
    DRAINING,
    FAILED,
    READY,
    TERMINATED,
    ClusterView,
    PodMetrics,
    ScaleDecision,
)
from simscale.errors import PolicyFailure
from simscale.model.memory import MemoryPlan
from simscale.model.seam import Cluster, Hooks
from simscale.outputs.columns import AUTOSCALER, BILLING
from simscale.sections.autoscaling import AutoscalingSpec
from simscale.spec import InstancesSpec
from simscale.streams import stream

HOUR_S = 3600.0
# Two times closer than this are the same scrape instant (floating-point slack).
_TIME_EPS = 1e-9


# ---------------------------------------------------------------- billing


class Billing:
    """Instance-hours and their price, from the instances' running time (always built)."""

    columns = BILLING

    def __init__(self, cluster: Cluster, price_per_instance_hour_usd: float) -> None:
        self.cluster = cluster
        self.price = price_per_instance_hour_usd

    def instance_hours(self, now: float) -> float:
        """Σ over instances of seconds spent booting, ready or draining, or waiting out an OOM
        restart back-off (the pod still holds its node), up to `now`, / 3600."""
        return sum(inst.billed_s(now) for inst in self.cluster.instances) / HOUR_S

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """instance_hours (simscale.outputs.columns.BILLING)."""
        return (self.instance_hours(now),)

    def totals(self, ok: int) -> dict:
        """instance_hours, cost_usd and cost_per_1k_requests_usd (per 1000 ok responses)."""
        hours = self.instance_hours(self.cluster.now)
        cost = hours * self.price
        return {
            "instance_hours": hours,
            "cost_usd": cost,
            "cost_per_1k_requests_usd": cost / ok * 1000.0 if ok else None,
        }


# ---------------------------------------------------------------- metrics pipeline


class Sample:
    """One scrape of an instance's counters (cumulative since it was created)."""

    __slots__ = ("t_s", "cpu_s", "flight_s", "responses", "latency_sum_s", "held_s")

    def __init__(self, t_s: float, cpu_s: float, flight_s: float, responses: int,
                 latency_sum_s: float, held_s: float = 0.0) -> None:
        self.t_s = t_s
        self.cpu_s = cpu_s
        self.flight_s = flight_s
        self.responses = responses
        self.latency_sum_s = latency_sum_s
        self.held_s = held_s   # MB-seconds held by requests (when requests differ in memory)


@dataclass(frozen=True)
class PodValues:
    """An instance's metrics over one window (None: no value, e.g. no responses for latency)."""

    cpu_util_frac: float | None
    memory_frac: float | None
    in_flight: float | None
    request_rps: float | None
    latency_s: float | None


@dataclass(frozen=True)
class Scrape:
    """What one scrape produced: per-instance values, and the cluster's arrival rate."""

    t_s: float
    pods: dict[int, PodValues]
    arrival_rps: float | None
    in_flight_total: float | None


class DelayLine:
    """Scrapes in transit: each becomes visible `delay_s` after it was taken, in order."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self._in_transit: deque[Scrape] = deque()
        self.delivered: Scrape | None = None

    def push(self, scrape: Scrape) -> None:
        """A scrape just taken (scrapes are pushed in time order)."""
        self._in_transit.append(scrape)

    def deliver(self, now: float) -> Scrape | None:
        """The newest scrape taken at least delay_s before `now` (None: nothing yet)."""
        transit = self._in_transit
        while transit and transit[0].t_s + self.delay_s <= now + _TIME_EPS:
            self.delivered = transit.popleft()
        return self.delivered


def trim_window(series: deque, now: float, window_s: float, time_of) -> None:
    """Drop the samples older than the window that ends at `now` (keeping the newest)."""
    oldest = now - window_s - _TIME_EPS
    while len(series) > 1 and time_of(series[0]) < oldest:
        series.popleft()


def window_values(first: Sample, last: Sample, cores: int, memory: MemoryPlan
                  ) -> PodValues | None:
    """Averages and rates between two samples of one instance; None when they coincide.

    cpu_util_frac = Δ core-seconds / (cores × Δt); in_flight = Δ request-seconds / Δt (the mean
    number held, queued or served); memory_frac = (base + the mean memory its requests held)
    / limit, as metrics.parquet computes it (per-request memory × in_flight when requests
    hold the same); request_rps = Δ responses / Δt; latency_s = Δ latency sum / Δ responses
    (None without responses).
    """
    dt = last.t_s - first.t_s
    if dt <= _TIME_EPS:
        return None
    in_flight = (last.flight_s - first.flight_s) / dt
    responses = last.responses - first.responses
    held_mb = (memory.per_request_mb * in_flight if memory.uniform
               else (last.held_s - first.held_s) / dt)
    return PodValues(
        cpu_util_frac=(last.cpu_s - first.cpu_s) / (cores * dt),
        memory_frac=(memory.base_mb + held_mb) / memory.limit_mb,
        in_flight=in_flight,
        request_rps=responses / dt,
        latency_s=(last.latency_sum_s - first.latency_sum_s) / responses if responses else None,
    )


class Scraper:
    """Scrapes ready instances on a fixed interval; window averages, delivered after a delay."""

    def __init__(self, cluster: Cluster, window_s: float, delay_s: float,
                 instances: InstancesSpec) -> None:
        self.cluster = cluster
        self.window_s = window_s
        self.delay_s = delay_s
        self._memory = cluster.memory
        self._series: dict[int, deque[Sample]] = {}
        self._arrivals: deque[tuple[float, int]] = deque()
        self._transit = DelayLine(delay_s)

    def scrape(self, now: float) -> Scrape:
        """Read every ready instance's counters now; the result is delivered delay_s later."""
        pods: dict[int, PodValues] = {}
        live: set[int] = set()
        for inst in self.cluster.instances:
            iid = inst.instance_id
            if inst.state != READY:
                if inst.state == TERMINATED:
                    self._series.pop(iid, None)
                continue
            live.add(iid)
            series = self._series.get(iid)
            if series is None:
                series = self._series[iid] = deque()
            series.append(Sample(now, inst.cpu_area(now), inst.in_flight_area(now),
                                 inst.responses, inst.latency_sum_s, inst.held_area(now)))
            trim_window(series, now, self.window_s, lambda s: s.t_s)
            values = window_values(series[0], series[-1], inst.cores, self._memory)
            if values is not None:
                pods[iid] = values
        self._arrivals.append((now, self.cluster.arrivals))
        trim_window(self._arrivals, now, self.window_s, lambda s: s[0])
        (t0, n0), (t1, n1) = self._arrivals[0], self._arrivals[-1]
        arrival_rps = (n1 - n0) / (t1 - t0) if t1 - t0 > _TIME_EPS else None
        in_flight_total = sum(v.in_flight for v in pods.values()) if pods else None
        result = Scrape(now, pods, arrival_rps, in_flight_total)
        self._transit.push(result)
        return result

    def deliver(self, now: float) -> Scrape | None:
        """The newest scrape taken at least delay_s before `now` (None: nothing yet)."""
        return self._transit.deliver(now)


# ---------------------------------------------------------------- the autoscaler


def policy_metric(policy) -> str:
    """The per-instance metric a built autoscaler reacts to (for the scaler_metric column):
    what it declares (policies.protocols.MetricScaler: the `metric` of threshold and step,
    the first of target tracking's `metrics`, in_flight for concurrency, a wrapper's inner
    policy's), cpu_util_frac for one that declares none."""
    return policy.scaler_metric if isinstance(policy, MetricScaler) else "cpu_util_frac"


def fleet_average(pods: tuple[PodMetrics, ...], metric: str) -> float | None:
    """Mean of `metric` over ready pods that report it (None when none does)."""
    values = [getattr(p, metric) for p in pods if p.ready]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def cluster_view(pods, scrape: Scrape | None, now: float) -> ClusterView:
    """A ClusterView from the pod list as it is now and the newest delivered scrape.

    pods: (instance_id, state, ready, started_s) of every instance, terminated ones included
    (they are left out). current_replicas counts booting and ready pods (the HPA's scale
    subresource); a pod's metrics are the scrape's values for it (none: not scraped yet).
    """
    values = scrape.pods if scrape is not None else {}
    out = []
    current = ready = 0
    for instance_id, state, is_ready, started_s in pods:
        if state == TERMINATED:
            continue
        if state in (BOOTING, READY):
            current += 1
        ready += is_ready
        v = values.get(instance_id)
        if v is None:
            out.append(PodMetrics(instance_id, state, is_ready, started_s=started_s))
        else:
            out.append(PodMetrics(instance_id, state, is_ready, v.cpu_util_frac, v.memory_frac,
                                  v.in_flight, v.request_rps, v.latency_s, started_s))
    if scrape is None:
        return ClusterView(current, ready, tuple(out), metrics_age_s=math.inf)
    return ClusterView(current, ready, tuple(out), arrival_rps=scrape.arrival_rps,
                       in_flight_total=scrape.in_flight_total, metrics_age_s=now - scrape.t_s)


class Autoscaler:
    """The control loop: scrape → (delay) → ClusterView → policy.decide → boot or drain."""

    columns = AUTOSCALER

    def __init__(self, cluster: Cluster, section: AutoscalingSpec, seed: int,
                 instances: InstancesSpec) -> None:
        self.cluster = cluster
        self.section = section
        self.name = section.policy
        self.policy: AutoscalerPolicy = registry.build(
            "autoscaler", section.policy, section.config,
            stream(seed, f"autoscaling.policy.{section.policy}"))
        self.sync_period_s = section.sync_period_s
        self.scrape_interval_s = section.scrape_interval_s
        self.scraper = Scraper(cluster, section.metrics_window_s, section.metrics_delay_s,
                               instances)
        self.select_victims = get_selector(section.scale_in_victims)
        self._boot_rng = stream(seed, "autoscaling.boot")
        self.metric = (policy_metric(self.policy) if section.scaler_metric == "auto"
                       else section.scaler_metric)
        self.desired = self.current_replicas()
        self.seen_metric: float | None = None
        self.seen_age_s: float | None = None
        self.decisions = 0
        self.scale_ups = 0
        self.scale_downs = 0
        self.instances_added = 0
        self.instances_removed = 0
        process = cluster.env.process(self._loop())
        process.callbacks.append(_raise_failure)

    # ------------------------------------------------------------ loop

    def _loop(self):
        """Scrape every scrape interval (from t = 0) and decide every sync period (from one
        period in). Times are k × period, so they do not drift."""
        env = self.cluster.env
        scrapes, syncs = 0, 1
        while True:
            next_scrape = scrapes * self.scrape_interval_s
            next_sync = syncs * self.sync_period_s
            due = min(next_scrape, next_sync)
            if due > env.now:
                yield env.timeout(due - env.now)
            now = env.now
            if next_scrape == due:
                self.scraper.scrape(now)
                scrapes += 1
            if next_sync == due:
                self.sync(now)
                syncs += 1

    def current_replicas(self) -> int:
        """Instances that exist and are not draining or gone (booting included)."""
        return sum(1 for inst in self.cluster.instances if inst.exists)

    def cluster_view(self, now: float) -> ClusterView:
        """The cluster as the autoscaler sees it: current pod list, delivered (old) metrics."""
        # a pod whose container waits out an OOM restart back-off is a pod not ready yet
        pods = ((inst.instance_id, BOOTING if inst.restarting_since is not None else inst.state,
                 inst.state == READY and inst.view.healthy, inst.created_s)
                for inst in self.cluster.instances)
        return cluster_view(pods, self.scraper.deliver(now), now)

    def sync(self, now: float) -> ScaleDecision:
        """One control-loop iteration: observe, decide, apply, record."""
        view = self.cluster_view(now)
        try:
            decision = self.policy.decide(view, now)
            desired = int(decision.desired_replicas)
        except Exception as exc:
            raise PolicyFailure(self.name, now, exc) from exc
        self.decisions += 1
        self.desired = desired
        self.seen_metric = fleet_average(view.pods, self.metric)
        self.seen_age_s = view.metrics_age_s if math.isfinite(view.metrics_age_s) else None
        current = view.current_replicas
        self.cluster.event("autoscaler", self.name,
                         f"{decision.reason};desired={desired};current={current}")
        if desired > current:
            self.scale_up(desired - current)
        elif desired < current:
            self.scale_down(current - desired)
        return decision

    # ------------------------------------------------------------ lifecycle

    def scale_up(self, count: int) -> None:
        """Request `count` instances: each boots for a drawn delay, then takes traffic."""
        self.scale_ups += 1
        self.instances_added += count
        env = self.cluster.env
        delays = self.section.boot_delay.sample(self._boot_rng, count)
        for delay in delays.tolist():
            inst = self.cluster.add_instance(BOOTING)
            ev = env.timeout(delay)
            ev.callbacks.append(lambda _ev, inst=inst: self._booted(inst))

    def _booted(self, inst) -> None:
        if inst.state != BOOTING:
            return  # drained or crashed while booting
        self.cluster.ready(inst)
        section = self.section
        if section.warmup_s > 0 and section.warmup_slowdown != 1.0:
            factor = section.warmup_slowdown
            inst.slowdown *= factor
            ev = self.cluster.env.timeout(section.warmup_s)
            ev.callbacks.append(lambda _ev: self._warm(inst, factor))

    def _warm(self, inst, factor: float) -> None:
        inst.slowdown /= factor
        if inst.state in (READY, DRAINING):
            self.cluster.event("instance", inst.name, "WarmupCompleted")

    def scale_down(self, count: int) -> None:
        """Drain `count` instances picked by the victim selector (not-ready ones first)."""
        candidates = [i.view for i in self.cluster.instances
                      if i.state not in (DRAINING, TERMINATED, FAILED)]
        victims = self.select_victims(candidates, count, True)
        if not victims:
            return
        self.scale_downs += 1
        self.instances_removed += len(victims)
        deadline = self.section.drain_deadline_s
        for victim in victims:
            self.cluster.drain(self.cluster.instances[victim.instance_id], deadline,
                             reason=f"ScaleIn({victim.reason})")

    # ------------------------------------------------------------ outputs

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """desired_replicas, scaler_metric, scaler_metric_age_s
        (simscale.outputs.columns.AUTOSCALER)."""
        return self.desired, self.seen_metric, self.seen_age_s

    def totals(self) -> dict:
        return {
            "scaler_metric": self.metric,
            "scale_decisions": self.decisions,
            "scale_ups": self.scale_ups,
            "scale_downs": self.scale_downs,
            "instances_added": self.instances_added,
            "instances_removed": self.instances_removed,
        }


def _raise_failure(process) -> None:
    """The loop's process ended with an exception: raise it from the simulation step itself.

    (SimPy would re-raise a copy built from the exception's args, which a PolicyFailure
    cannot be rebuilt from.)"""
    if not process.ok:
        process.defused = True
        raise process.value


# ---------------------------------------------------------------- the component


class Autoscaling:
    """Billing, always; the autoscaler, when enabled. Adds its keys to summary.json."""

    def __init__(self, cluster: Cluster, hooks: Hooks, section: AutoscalingSpec, seed: int,
                 instances: InstancesSpec) -> None:
        self.billing = Billing(cluster, instances.price_per_instance_hour_usd)
        hooks.metrics.append(self.billing)
        self.autoscaler = (Autoscaler(cluster, section, seed, instances) if section.enabled
                           else None)
        if self.autoscaler is not None:
            hooks.metrics.append(self.autoscaler)
        self.cluster = cluster
        hooks.summary.append(self._on_summary)

    def _on_summary(self, extra: dict) -> None:
        extra.update(self.billing.totals(self.cluster.ok_responses))
        if self.autoscaler is not None:
            extra.update(self.autoscaler.totals())
        else:
            extra.update(scale_ups=0, scale_downs=0)


def attach(cluster: Cluster, hooks: Hooks, section: AutoscalingSpec, seed: int,
           instances: InstancesSpec) -> Autoscaling:
    """Build the component: billing always, the autoscaler when `section.enabled`."""
    return Autoscaling(cluster, hooks, section, seed, instances)
