"""The resilience component: its rooms put together and plugged into the run's hooks.

It fills the candidate selector (detection), the retry hook (detection learns of the failed
attempt, then the retry policy decides), the end hook (attempt outcomes; response times fed
back to a balancer that learns from them), admission (limiters, then the retry budget's
deposit) and on_send, set only while something needs it: a per-try timeout, a latency
spike, a half-open breaker, or a crashed instance the balancer may still choose.
"""

from __future__ import annotations

from collections.abc import Callable

from policies.protocols import Balancer, ResponseObserver
from simscale.errors import PolicyFailure
from simscale.model.events import at
from simscale.model.faults import InstanceFaults
from simscale.model.instance import Instance
from simscale.model.request import OK, REJECTED, TIMEOUT, Request
from simscale.model.resilience.admission import Admission
from simscale.model.resilience.detection import Detection
from simscale.model.resilience.retries import Retries
from simscale.model.resilience.shared import Counters
from simscale.model.seam import Cluster, Hooks
from simscale.outputs.columns import RESILIENCE

ResponseFeedback = Callable[[int, float, bool, float], None]
"""on_response(instance_id, latency_s, ok, now_s) of a balancer that learns from responses."""


class Resilience:
    """Detection (health checks, outlier ejection, breakers, panic, slow start), retries,
    admission and instance faults for one run. Everything runs from hooks and timers."""

    columns = RESILIENCE

    def __init__(self, cluster: Cluster, hooks: Hooks, section, seed: int,
                 feedback: ResponseFeedback | None = None) -> None:
        self.cluster = cluster
        self.hooks = hooks
        self.feedback = feedback
        self.counters = Counters()
        self.faults = InstanceFaults(cluster, section.faults, self._refresh,
                                     lambda: self.counters.add("faults"))
        self.detection = Detection(cluster, section, self.counters, self.faults)
        self.retries = (Retries(cluster, section.retry, seed, self.counters,
                                self.detection.record) if section.retry else None)
        self.per_try_s = self.retries.per_try_s if self.retries is not None else None
        self.admission = Admission(cluster, section.rate_limit, seed, self.counters)
        self._attempt_start: dict[Request, float] = {}   # retried requests: when sent again
        self._on_send_cb = self._on_send  # kept once, so identity checks work
        self._plug(hooks)
        self._start(cluster)

    def _plug(self, hooks: Hooks) -> None:
        detection = self.detection
        if self.admission.limiters:
            hooks.admission.append(self.admission.admit)
        if self.retries is not None:
            hooks.admission.append(self.retries.deposit)
        if self.retries is not None or detection.configured:
            hooks.retry = self._retry
        if (detection.outlier is not None or detection.breaker_config is not None
                or self.feedback is not None):
            hooks.end.append(self._on_end)
        hooks.candidate_selector = self._select
        hooks.metrics.append(self)
        hooks.summary.append(self._summary)

    def _start(self, cluster: Cluster) -> None:
        """Track the instances present at t = 0 (they have passed their checks: the run
        starts steady; their probes are staggered over one interval), then schedule the end
        of probing and the faults."""
        health = self.detection.health
        count = max(1, len(cluster.instances))
        for inst in cluster.instances:
            offset_s = health.interval_s * inst.instance_id / count if health else 0.0
            self.detection.join(inst, offset_s=offset_s, initial=True)
        cluster.refresh_candidates()
        if health is not None:
            at(cluster.env, health.stop_s, health.stop)
        self.faults.start()

    def _refresh(self) -> None:
        self.detection.refresh()

    # ------------------------------------------------------------ hooks

    def _select(self, instances: list[Instance]) -> list[Instance]:
        """The candidate selector: detection's pool; on_send set only while it is needed."""
        pool = self.detection.select(instances)
        detection = self.detection
        need_send = (self.per_try_s is not None or bool(self.faults.spikes)
                     or detection.half_open or detection.failed_in_pool)
        self.hooks.on_send = self._on_send_cb if need_send else None
        return pool

    def _on_send(self, instance: Instance, req: Request, now: float) -> bool:
        """on_send: refuse attempts to crashed instances or open breakers, count half-open
        probes, arm per-try timers, delay responses during a latency spike."""
        if self.detection.refuses(instance, req, now):
            return True
        if self.per_try_s is not None:
            self.retries.arm(req, now)
        if self.faults.spikes:
            self.faults.delay_response(req)
        return False

    def _retry(self, req: Request, now: float, reason: str) -> bool:
        """The retry hook: the attempt on req.instance failed; retry it?"""
        instance = req.instance
        if instance is not None:
            self.detection.record(instance, False, now)
        if self.retries is None or not self.retries.allows(req, now, reason):
            return False
        if self.feedback is not None:
            self._attempt_start[req] = now
        return True

    def _on_end(self, req: Request, status: int, now: float) -> None:
        """End hook: an answer is a success; a request timeout fails the attempt it was on;
        an answer's time (since its attempt was sent) goes back to a learning balancer."""
        started = self._attempt_start.pop(req, None) if self._attempt_start else None
        instance = req.instance
        if instance is None or (status != OK and status != TIMEOUT):
            if status == REJECTED and instance is not None:
                self.detection.rejected(instance, now)
            return
        ok = status == OK
        self.detection.record(instance, ok, now)
        if ok and self.feedback is not None:
            latency = now - (req.info.arrival_s if started is None else started)
            try:
                self.feedback(instance.instance_id, latency, True, now)
            except Exception as exc:
                raise PolicyFailure(self.cluster.balancer_name, now, exc) from exc

    # ------------------------------------------------------------ outputs

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """The window's resilience columns (simscale.outputs.columns.RESILIENCE); clears
        limiters and the retry budget that refused nothing for a window."""
        win = self.counters.take_window()
        values = (*self.detection.counts(), win["retries"], win["retries_denied"],
                  win["rate_limited"], win["probes_failed"])
        self.admission.end_window()
        if self.retries is not None:
            self.retries.end_window()
        return values

    def _summary(self, extra: dict) -> None:
        extra.update(self.counters.totals)


def attach(cluster: Cluster, hooks: Hooks, section, seed: int,
           balancer: Balancer) -> Resilience | None:
    """Build the component from its spec section and plug it in (None: off).

    It is also built, with nothing else on, when the balancer learns from responses
    (least_response_time in peak_ewma mode needs each response time fed back)."""
    feedback = _response_feedback(balancer)
    if not section.configured and feedback is None:
        return None
    return Resilience(cluster, hooks, section, seed, feedback)


def _response_feedback(balancer: Balancer) -> ResponseFeedback | None:
    """The balancer's on_response(instance_id, latency_s, ok, now_s), when it learns from
    responses (policies.protocols.ResponseObserver)."""
    if isinstance(balancer, ResponseObserver) and balancer.learns_from_responses:
        return balancer.on_response
    return None
