"""The resilience component: drives the production resilience policies inside the model.

It owns which instances the balancer may choose (model.candidate_selector), what happens to
a failed attempt (model.retry), the outcome of every attempt (model.end_hooks), admission
(model.admission), and the fault injector. The policies it drives are the production ones in
policies/resilience and policies/limiters, called with data and `now_s` only.

What the balancer knows. With any detection mechanism configured (health checks, outlier
detection or breakers) the balancer learns of a crash only through them, as a proxy does: a
crashed instance stays in its host list, and an attempt sent there is refused at once
(reason ConnectionRefused; it counts as a failure, like Envoy's connect failures, which
outlier detection counts as 5xx by default). Without one, the balancer learns at once.

The candidate set, rebuilt on every change of membership, health, breaker state or weight:

  members  = ready instances (+ failed ones, when detection is configured)
  healthy  = members passing active health checks and not ejected by outlier detection
  pool     = healthy, or every member when healthy / members < panic threshold (Envoy's
             healthy_panic_threshold: an ejected host "will not be used during load balancing
             unless the load balancer is in a panic scenario")
  chosen   = pool without instances whose breaker is open (or half-open with its probes
             in flight): a client-side breaker fails fast even in panic

Health checks (HAProxy `inter`/`rise`/`fall`, Envoy health_checks): one probe per instance
every interval, staggered across instances. A probe is a tiny request: it takes a slot (it
queues behind requests when all are busy) and probe_cost_s CPU seconds, so an overloaded or
hung instance fails its checks as a real one does; a crashed instance refuses probes; a full
queue answers 503. Probes never appear in requests.parquet. A host that becomes healthy again
is also returned from outlier ejection (Envoy unejects a host that active health checking
finds healthy). Probing stops when the arrival window closes.

Attempt outcomes feed the breakers and outlier detection: an answer is a success; an error
(fault), a crash while serving, a refused connection, a per-try timeout, the drain deadline
and the request timeout are failures; a full queue (QueueFull, a local 503) is neither.

Retries (Envoy retry policy, Finagle retry budget): a failed attempt is retried on an
instance not tried yet, while the policy allows (attempts, overall timeout, budget). Retries
go out at once (no back-off). A per-try timeout abandons the attempt (the instance goes on
working for nobody, as a server does when its client hangs up) and ends as `error` with
reason PerTryTimeout when it is not retried.

Slow start (Envoy slow_start_config, HAProxy `slowstart`): an instance that becomes ready
(new or recovered) or healthy again gets InstanceView.weight ramped up over the window,
refreshed every update_interval_s; weighted balancers (weighted_round_robin,
power_of_two_choices) honour it.

Faults: crash and zone_loss use model.crash / model.recover; slow and errors set the
instance's slowdown / error_frac knobs (overlapping faults combine); hang makes the instance
accept requests and never answer, and restarts it when the fault ends (its held requests
fail, as when a watchdog kills a hung process); latency_spike delays every response of the
targeted instances by extra_latency_s, holding the slot (set only on requests sent while a
spike is active, so the hot path stays free otherwise); drain removes an instance with
connection draining (model.drain).
"""

from __future__ import annotations

import math
from collections import deque
from functools import partial

from policies import registry
from policies.resilience import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    CircuitBreaker,
    HealthChecker,
    OutlierDetector,
    RetryPolicy,
    Transition,
    in_panic,
    slow_start_weight,
)
from policies.views import BOOTING, DRAINING, FAILED, READY, TERMINATED, RequestInfo
from simscale.errors import PolicyFailure
from simscale.model.request import OK, PENDING, REJECTED, TIMEOUT, Request
from simscale.model.seam import Cluster, Hooks
from simscale.outputs.columns import RESILIENCE
from simscale.streams import stream

# A probe whose outcome is known (answered, timed out or abandoned). Not PENDING, so the model
# never records, retries or times it out; not a terminal status, so a queue still starts it.
PROBE_DONE = -2
_EPS_S = 1e-9


def attach(cluster: Cluster, hooks: Hooks, section, seed: int, balancer) -> Resilience | None:
    """Build the component from its spec section and hook it into the model (None: off).

    It is also built, with nothing else on, when the balancer learns from responses
    (least_response_time in peak_ewma mode needs each response time fed back)."""
    feedback = _response_feedback(balancer)
    if not section.configured and feedback is None:
        return None
    return Resilience(cluster, hooks, section, seed, feedback)


def _response_feedback(balancer):
    """The balancer's on_response(instance_id, latency_s, ok, now_s), when it uses one."""
    on_response = getattr(balancer, "on_response", None)
    if on_response is None or getattr(getattr(balancer, "config", None), "mode", "") == "ewma":
        return None
    return on_response


class _Member:
    """One instance as the component tracks it."""

    __slots__ = ("instance", "state", "checker", "hc_ok", "ejected", "breaker", "probes_left",
                 "probe", "probe_sent_s", "token", "ramp_start_s", "base_weight")

    def __init__(self, instance) -> None:
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


class Resilience:
    """Health checks, outlier ejection, breakers, panic, retries, rate limits, slow start and
    faults for one model. Built by attach(); everything runs from model hooks and timers."""

    columns = RESILIENCE

    def __init__(self, cluster: Cluster, hooks: Hooks, section, seed: int,
                 feedback=None) -> None:
        self.cluster = cluster
        self.hooks = hooks
        self.env = cluster.env
        self.section = s = section
        self.detect = bool(s.health_check or s.outlier_detection or s.circuit_breaker)
        self.hc = s.health_check.config if s.health_check else None
        self.probe_cost_s = s.health_check.probe_cost_s if s.health_check else 0.0
        self.outlier = OutlierDetector(s.outlier_detection.config) if s.outlier_detection else None
        self.breaker_cfg = s.circuit_breaker.config if s.circuit_breaker else None
        self.retry_policy = (RetryPolicy(s.retry.config, stream(seed, "resilience.retry"))
                             if s.retry else None)
        self.per_try_s = s.retry.per_try_timeout_s if s.retry else None
        self.slow = s.slow_start
        self.panic_percent = s.panic_threshold_percent
        self.feedback = feedback
        self.limiters = []
        for n, ref in enumerate(s.rate_limit):
            limiter = registry.build("limiter", ref.policy, ref.config,
                                     stream(seed, f"resilience.limiter.{n}"))
            self.limiters.append(_Limiter(ref.name or ref.policy, ref.name, ref.policy, limiter))

        self.members: dict[int, _Member] = {}
        self._selecting = False
        self._n_members = 0
        self._n_healthy = 0
        self._panic = False
        self._probe_stop_s = cluster.arrivals_end_s
        self._tries: deque = deque()       # (deadline_s, request, attempt) in deadline order
        self._try_armed = False
        self._attempt_start: dict[Request, float] = {}   # retried requests: when sent again
        self._sweeps: set[float] = set()   # scheduled outlier-return wake-ups
        self._ramping: dict[int, _Member] = {}
        self._ramp_armed = False
        # faults: active knobs per instance, and what each running fault took down
        self._down: dict[int, int] = {}
        self._hung: dict[int, int] = {}
        self._factors: dict[int, dict[int, float]] = {}
        self._fractions: dict[int, dict[int, float]] = {}
        self._spikes: dict[int, object] = {}
        self._zone_crashed: dict[int, list] = {}
        self._started: set[int] = set()     # instance faults that found their instance
        # counters: per metrics window, and run totals
        self._win = dict.fromkeys(("retries", "retries_denied", "rate_limited",
                                   "probes_failed"), 0)
        self.totals = dict.fromkeys(
            ("retries", "retries_denied", "retries_denied_budget", "rate_limited", "faults",
             "breaker_trips", "ejections", "health_marked_unhealthy", "probes",
             "probes_failed"), 0)
        self._budget_denying = False
        self._budget_denied_win = 0

        # callbacks kept once, so identity checks work
        self._on_send_cb = self._on_send
        self._probe_done_cb = self._probe_done
        self._respond_late_cb = self._respond_late

        if self.limiters:
            hooks.admission.append(self._admit)
        if self.retry_policy is not None:
            hooks.admission.append(self._deposit)
        if self.retry_policy is not None or self.detect:
            hooks.retry = self._retry
        if self.outlier is not None or self.breaker_cfg is not None or feedback is not None:
            hooks.end.append(self._on_end)
        hooks.candidate_selector = self._select
        hooks.metrics.append(self)
        hooks.summary.append(self._summary)

        count = max(1, len(cluster.instances))
        for inst in cluster.instances:
            # instances present at t = 0 have passed their checks: the run starts steady
            self._add_member(inst, offset_s=(self.hc.interval_s * inst.instance_id / count
                                             if self.hc else 0.0), initial=True)
        cluster.refresh_candidates()
        if self.hc is not None:
            self._at(self._probe_stop_s, self._stop_probes)
        for n, fault in enumerate(s.faults):
            self._at(fault.at_s, partial(self._fault_start, n, fault))
            end_s = getattr(fault, "end_s", None)
            if end_s is not None:
                self._at(end_s, partial(self._fault_end, n, fault))

    # ------------------------------------------------------------ helpers

    def _at(self, t_s: float, fn) -> None:
        """Call fn() at simulated time t_s (at once when it is past)."""
        now = self.env._now
        ev = self.env.timeout(t_s - now if t_s > now else 0.0)
        ev.callbacks.append(lambda _ev: fn())

    def _refresh(self) -> None:
        """Rebuild the balancer's candidates (unless a rebuild is running already)."""
        if not self._selecting:
            self.cluster.refresh_candidates()

    def _event(self, kind: str, subject: str, reason: str) -> None:
        self.cluster.event(kind, subject, reason)

    @staticmethod
    def _failure(policy: str, now: float, exc: Exception):
        return PolicyFailure(policy, now, exc)

    def _sync_view(self, m: _Member) -> None:
        healthy = m.available
        if m.instance.view.healthy != healthy:
            m.instance.set_view(healthy=healthy)

    # ------------------------------------------------------------ membership

    def _add_member(self, inst, offset_s: float = 0.0, initial: bool = False) -> _Member:
        m = self.members[inst.instance_id] = _Member(inst)
        if self.hc is not None:
            m.checker = HealthChecker(self.hc)
            if initial:
                m.checker.healthy = True
            m.hc_ok = m.checker.healthy
            self._probe_chain(m, offset_s)
        if self.breaker_cfg is not None:
            m.breaker = CircuitBreaker(self.breaker_cfg, partial(self._breaker_moved, m))
        self._sync_view(m)
        return m

    def _select(self, instances: list) -> list:
        """The model's candidate_selector: see the module docstring."""
        self._selecting = True
        try:
            members = self.members
            for inst in instances:
                m = members.get(inst.instance_id)
                if m is None:
                    m = self._add_member(inst)
                if inst.state != m.state:
                    self._state_changed(m, inst.state)
            detect = self.detect
            everyone = [i for i in instances
                        if i.state == READY or (detect and i.state == FAILED)]
            healthy = [i for i in everyone if members[i.instance_id].available]
            panic = len(healthy) < len(everyone) and in_panic(
                len(healthy), len(everyone), self.panic_percent)
            if panic != self._panic:
                self._panic = panic
                self._event("panic", "balancer", "Panic:BelowThreshold" if panic
                            else "HealthyOnly")
            pool = everyone if panic else healthy
            half_open = False
            if self.breaker_cfg is not None:
                pool = [i for i in pool if members[i.instance_id].admits]
                half_open = any(m.breaker.state == HALF_OPEN for m in members.values())
            self._n_members = len(everyone)
            self._n_healthy = len(healthy)
            failed_in_pool = detect and any(i.state == FAILED for i in pool)
            need_send = (self.per_try_s is not None or bool(self._spikes) or half_open
                         or failed_in_pool)
            self.hooks.on_send = self._on_send_cb if need_send else None
            return pool
        finally:
            self._selecting = False

    def _state_changed(self, m: _Member, new: str) -> None:
        old, m.state = m.state, new
        now = self.env._now
        if m.probe is not None and new != READY:  # the instance left: its probe with it
            m.probe.status = PROBE_DONE
            m.probe = None
            if new == FAILED:
                self._probe_result(m, False, now, None)  # the connection was reset
        if new == READY and old in (BOOTING, FAILED):
            if m.checker is not None:
                self._probe_chain(m, 0.0)  # a host that becomes ready is probed at once
            self._start_ramp(m, now)
        elif new != READY:
            self._stop_ramp(m)
        if new == TERMINATED:
            m.token += 1  # no more probes
            if self.outlier is not None:
                self.outlier.forget(m.instance.instance_id)
                m.ejected = False

    # ------------------------------------------------------------ sending an attempt

    def _on_send(self, instance, req: Request, now: float) -> bool:
        """The model's on_send: refuse attempts to crashed instances, count half-open
        probes, arm per-try timers, delay responses during a latency spike."""
        if instance.state == FAILED:
            self.cluster.retry_or_fail(req, now, "ConnectionRefused", instance)
            return True
        if self.breaker_cfg is not None:
            m = self.members[instance.instance_id]
            if m.breaker.state != CLOSED:
                if not m.breaker.allow(now):  # not expected: it left the candidates in time
                    req.instance = None  # refused here, not by the instance
                    self.cluster.retry_or_fail(req, now, "BreakerOpen", instance)
                    return True
                if m.breaker.state == HALF_OPEN:
                    m.probes_left -= 1
                    if m.probes_left <= 0:
                        self._refresh()
        if self.per_try_s is not None:
            self._tries.append((now + self.per_try_s, req, req.attempts))
            if not self._try_armed:
                self._arm_tries(now + self.per_try_s, now)
        if self._spikes:
            after = req.after_cpu
            if after is None:
                req.after_cpu = self._respond_late_cb
            elif after is not self._respond_late_cb and not (
                    isinstance(after, partial) and after.func == self._then_late):
                req.after_cpu = partial(self._then_late, after)
        return False

    def _respond_late(self, instance, req: Request, now: float) -> None:
        """after_cpu during a latency spike: hold the slot for the extra delay, then answer."""
        extra = self._extra_latency(instance)
        if extra > 0.0:
            self.cluster.wait(instance, req, extra, self.cluster.respond)
        else:
            self.cluster.respond(instance, req, now)

    def _then_late(self, after, instance, req: Request, now: float) -> None:
        """A latency spike in front of another component's after_cpu stage."""
        extra = self._extra_latency(instance)
        if extra > 0.0:
            self.cluster.wait(instance, req, extra, after)
        else:
            after(instance, req, now)

    def _extra_latency(self, instance) -> float:
        extra = 0.0
        for fault in self._spikes.values():
            target = fault.target
            if target is None or target == (instance.zone if isinstance(target, str)
                                            else instance.instance_id):
                extra += fault.extra_latency_s
        return extra

    # ------------------------------------------------------------ per-try timeouts

    def _arm_tries(self, at_s: float, now: float) -> None:
        self._try_armed = True
        ev = self.env.timeout(at_s - now if at_s > now else 0.0)
        ev.callbacks.append(self._on_try_timer)

    def _on_try_timer(self, _ev) -> None:
        # _try_armed stays True while expired attempts are handled: their retries append
        # deadlines (later ones) without arming timers of their own
        now = self.env._now
        tries = self._tries
        while tries:
            deadline, req, attempt = tries[0]
            if deadline > now + _EPS_S:
                break
            tries.popleft()
            instance = req.instance
            if req.status == PENDING and req.attempts == attempt and instance is not None:
                self._record(instance, req, False, now)
                self.cluster.abandon(req, now, "PerTryTimeout")
        self._try_armed = False
        if tries:
            self._arm_tries(tries[0][0], now)

    # ------------------------------------------------------------ outcomes

    def _retry(self, req: Request, now: float, reason: str) -> bool:
        """The model's retry hook: the attempt on req.instance failed; retry it?"""
        instance = req.instance
        if instance is not None:
            self._record(instance, req, False, now)
        policy = self.retry_policy
        if policy is None:
            return False
        try:
            if not policy.retriable("timeout" if reason == "PerTryTimeout" else "error"):
                return False
            allowed, why = policy.can_retry(now, req.attempts, req.info.arrival_s)
        except Exception as exc:
            raise self._failure("retry", now, exc) from exc
        if not allowed:
            self._win["retries_denied"] += 1
            self.totals["retries_denied"] += 1
            if why == "RetryDenied:Budget":
                self.totals["retries_denied_budget"] += 1
                self._budget_denied_win += 1
                if not self._budget_denying:
                    self._budget_denying = True
                    self._event("retry", "budget", why)
            return False
        self._win["retries"] += 1
        self.totals["retries"] += 1
        if self.feedback is not None:
            self._attempt_start[req] = now
        return True

    def _on_end(self, req: Request, status: int, now: float) -> None:
        """End hook: an answer is a success; a request timeout fails the attempt it was on."""
        if self._attempt_start:
            started = self._attempt_start.pop(req, None)
        else:
            started = None
        instance = req.instance
        if instance is None or (status != OK and status != TIMEOUT):
            if status == REJECTED and instance is not None and self.breaker_cfg is not None:
                # a full queue is no failure of the instance, except to a half-open breaker:
                # a probe it turned away must not leave the breaker waiting for ever
                m = self.members.get(instance.instance_id)
                if m is not None and m.breaker.state == HALF_OPEN:
                    m.breaker.record(False, now)
            return
        ok = status == OK
        self._record(instance, req, ok, now)
        if ok and self.feedback is not None:
            latency = now - (req.info.arrival_s if started is None else started)
            try:
                self.feedback(instance.instance_id, latency, True, now)
            except Exception as exc:
                raise self._failure(self.cluster.balancer_name, now, exc) from exc

    def _record(self, instance, req: Request, ok: bool, now: float) -> None:
        """One attempt's outcome into the instance's breaker and outlier detection."""
        m = self.members.get(instance.instance_id)
        if m is None:
            return
        if m.breaker is not None:
            try:
                m.breaker.record(ok, now)  # transitions arrive through _breaker_moved
            except Exception as exc:
                raise self._failure("circuit_breaker", now, exc) from exc
        if self.outlier is not None:
            try:
                events = self.outlier.record(instance.instance_id, ok, now, self._n_members)
            except Exception as exc:
                raise self._failure("outlier_detection", now, exc) from exc
            if events:
                self._outlier_events(events)

    # ------------------------------------------------------------ breakers

    def _breaker_moved(self, m: _Member, t: Transition) -> None:
        self._event("breaker", m.instance.name, t.reason)
        if t.new_state == OPEN:
            self.totals["breaker_trips"] += 1
            m.probes_left = 0
            self._at(m.breaker.reopen_at_s, partial(self._breaker_poll, m))
        elif t.new_state == HALF_OPEN:
            m.probes_left = m.breaker.config.half_open_probes
        self._refresh()

    def _breaker_poll(self, m: _Member) -> None:
        m.breaker.poll(self.env._now)  # open → half-open when its time is up

    # ------------------------------------------------------------ outlier detection

    def _outlier_events(self, events) -> None:
        for e in events:
            m = self.members.get(e.instance_id)
            if m is None:
                continue
            m.ejected = e.ejected
            self._event("outlier", m.instance.name, e.reason)
            if e.ejected:
                self.totals["ejections"] += 1
            self._sync_view(m)
        self._schedule_sweep()
        self._refresh()

    def _schedule_sweep(self) -> None:
        """Wake at the next return from ejection (the detector has no timer of its own)."""
        at_s = self.outlier.next_return_s
        if at_s < math.inf and at_s not in self._sweeps:
            self._sweeps.add(at_s)
            self._at(at_s, partial(self._outlier_sweep, at_s))

    def _outlier_sweep(self, at_s: float) -> None:
        self._sweeps.discard(at_s)
        events = self.outlier.sweep(self.env._now)
        if events:
            self._outlier_events(events)
        else:
            self._schedule_sweep()

    # ------------------------------------------------------------ health checks

    def _probe_chain(self, m: _Member, delay_s: float) -> None:
        """Start a new chain of probes for m, the first after delay_s (older chains stop)."""
        m.token += 1
        token = m.token
        ev = self.env.timeout(delay_s)
        ev.callbacks.append(lambda _ev: self._probe_tick(m, token))

    def _probe_tick(self, m: _Member, token: int) -> None:
        if token != m.token:
            return
        now = self.env._now
        if now >= self._probe_stop_s:
            return
        inst = m.instance
        state = inst.state
        if state == TERMINATED:
            return
        if state == READY:
            if m.probe is None:  # HAProxy and Envoy never overlap checks of one server
                self._send_probe(m, now)
        elif state == FAILED:
            self._probe_result(m, False, now, None)  # connection refused
        ev = self.env.timeout(m.checker.next_interval_s)
        ev.callbacks.append(lambda _ev: self._probe_tick(m, token))

    def _send_probe(self, m: _Member, now: float) -> None:
        inst = m.instance
        probe = Request(RequestInfo(-1, "health_check", -1, -1, 0, 0, now), self.probe_cost_s)
        probe.instance = inst
        probe.after_cpu = self._probe_done_cb
        self.totals["probes"] += 1
        if not inst.submit(probe, now):  # a full queue answers 503
            probe.status = PROBE_DONE
            self._probe_result(m, False, now, None)
            return
        m.probe = probe
        m.probe_sent_s = now
        ev = self.env.timeout(self.hc.timeout_s)
        ev.callbacks.append(lambda _ev: self._probe_timeout(m, probe))

    def _probe_done(self, instance, probe: Request, now: float) -> None:
        """after_cpu of a probe: the instance computed the answer (a spike delays it)."""
        extra = self._extra_latency(instance) if self._spikes else 0.0
        if extra > 0.0:
            self.cluster.wait(instance, probe, extra, self._probe_answered)
        else:
            self._probe_answered(instance, probe, now)

    def _probe_answered(self, instance, probe: Request, now: float) -> None:
        instance.release(probe, now, None)
        probe.status = PROBE_DONE
        m = self.members[instance.instance_id]
        if m.probe is probe:
            m.probe = None
            self._probe_result(m, True, now, now - m.probe_sent_s)

    def _probe_timeout(self, m: _Member, probe: Request) -> None:
        if probe.status != PENDING:
            return
        probe.status = PROBE_DONE  # the instance frees the slot when (if) it gets to it
        if m.probe is probe:
            m.probe = None
            self._probe_result(m, False, self.env._now, math.inf)

    def _stop_probes(self) -> None:
        """The arrival window closed: abandon the probes in flight (no probe outlives the
        run, so none is ever mistaken for a request)."""
        for m in self.members.values():
            if m.probe is not None:
                m.probe.status = PROBE_DONE
                m.probe = None

    def _probe_result(self, m: _Member, ok: bool, now: float, latency_s: float | None) -> None:
        if not ok:
            self._win["probes_failed"] += 1
            self.totals["probes_failed"] += 1
        try:
            t = m.checker.record_probe(ok, now, latency_s)
        except Exception as exc:
            raise self._failure("health_check", now, exc) from exc
        if t is None:
            return
        inst = m.instance
        self._event("health", inst.name, t.reason)
        m.hc_ok = m.checker.healthy
        if m.hc_ok:
            if m.ejected and self.outlier is not None:
                e = self.outlier.uneject(inst.instance_id, now)
                if e is not None:
                    m.ejected = False
                    self._event("outlier", inst.name, e.reason)
            if inst.state == READY:
                self._start_ramp(m, now)
        else:
            self.totals["health_marked_unhealthy"] += 1
        self._sync_view(m)
        self._refresh()

    # ------------------------------------------------------------ slow start

    def _start_ramp(self, m: _Member, now: float) -> None:
        slow = self.slow
        if slow is None:
            return
        m.ramp_start_s = now
        self._ramping[m.instance.instance_id] = m
        m.instance.set_view(weight=slow_start_weight(
            m.base_weight, 0.0, slow.window_s, slow.aggression, slow.min_weight_percent))
        if not self._ramp_armed:
            self._ramp_armed = True
            self._at(now + slow.update_interval_s, self._ramp_tick)
        self._refresh()

    def _stop_ramp(self, m: _Member) -> None:
        if self._ramping.pop(m.instance.instance_id, None) is not None:
            m.ramp_start_s = None
            m.instance.set_view(weight=m.base_weight)

    def _ramp_tick(self) -> None:
        """Refresh ramping weights (throttled to update_interval_s: each refresh hands the
        balancer a new candidate tuple)."""
        slow = self.slow
        now = self.env._now
        for iid, m in list(self._ramping.items()):
            elapsed = now - m.ramp_start_s
            if elapsed >= slow.window_s:
                del self._ramping[iid]
                m.ramp_start_s = None
                m.instance.set_view(weight=m.base_weight)
            else:
                m.instance.set_view(weight=slow_start_weight(
                    m.base_weight, elapsed, slow.window_s, slow.aggression,
                    slow.min_weight_percent))
        self._refresh()
        if self._ramping:
            self._at(now + slow.update_interval_s, self._ramp_tick)
        else:
            self._ramp_armed = False

    # ------------------------------------------------------------ admission

    def _admit(self, info: RequestInfo, now: float) -> str | None:
        """Admission hook: the first limiter that refuses names the reason."""
        for lim in self.limiters:
            try:
                allowed, reason = lim.policy.allow(info, now)
            except Exception as exc:
                raise self._failure(lim.policy_name, now, exc) from exc
            if not allowed:
                reason = f"RateLimited:{lim.name}" if lim.name else reason
                lim.window += 1
                self._win["rate_limited"] += 1
                self.totals["rate_limited"] += 1
                if not lim.limiting:
                    lim.limiting = True
                    self._event("limiter", lim.label, reason)
                return reason
        return None

    def _deposit(self, info: RequestInfo, now: float) -> None:
        """Admission hook (after the limiters): each original request feeds the budget."""
        self.retry_policy.record_request(now)
        return None

    # ------------------------------------------------------------ faults

    def _fault_start(self, n: int, fault) -> None:
        model = self.cluster
        kind = fault.kind
        self.totals["faults"] += 1
        if kind == "zone_loss":
            self._event("fault", fault.target, "ZoneLoss:Started")
            hit = [i for i in model.instances
                   if i.zone == fault.target and i.state in (BOOTING, READY, DRAINING)]
            # all of them die; those that were on their way out stay down
            self._zone_crashed[n] = [i for i in hit if i.state != DRAINING]
            for inst in hit:
                self._crash(inst)
            return
        if kind == "latency_spike":
            self._event("fault", _spike_subject(fault), "LatencySpike:Started")
            self._spikes[n] = fault
            self._refresh()
            return
        inst = self._target(fault)
        if inst is None:
            return
        self._started.add(n)
        iid = inst.instance_id
        if kind == "crash":
            self._event("fault", inst.name, "Crash:Started")
            self._crash(inst)
        elif kind == "slow":
            self._event("fault", inst.name, "Slow:Started")
            self._factors.setdefault(iid, {})[n] = fault.factor
            inst.slowdown = math.prod(self._factors[iid].values())
        elif kind == "errors":
            self._event("fault", inst.name, "Errors:Started")
            self._fractions.setdefault(iid, {})[n] = fault.fraction
            inst.error_frac = 1.0 - math.prod(1.0 - f for f in self._fractions[iid].values())
        elif kind == "hang":
            self._event("fault", inst.name, "Hang:Started")
            self._hung[iid] = self._hung.get(iid, 0) + 1
            inst.hung = True
        elif kind == "drain":
            self._event("fault", inst.name, "Drain:Started")
            model.drain(inst, fault.drain_timeout_s, reason="Removed")

    def _fault_end(self, n: int, fault) -> None:
        model = self.cluster
        kind = fault.kind
        if kind == "zone_loss":
            self._event("fault", fault.target, "ZoneLoss:Ended")
            for inst in self._zone_crashed.pop(n, []):
                self._uncrash(inst)
            return
        if kind == "latency_spike":
            self._event("fault", _spike_subject(fault), "LatencySpike:Ended")
            self._spikes.pop(n, None)
            self._refresh()
            return
        if n not in self._started:
            return
        inst = self.cluster.instances[fault.target]
        iid = inst.instance_id
        if kind == "crash":
            self._event("fault", inst.name, "Crash:Ended")
            self._uncrash(inst)
        elif kind == "slow":
            self._event("fault", inst.name, "Slow:Ended")
            self._factors[iid].pop(n, None)
            inst.slowdown = math.prod(self._factors[iid].values())
        elif kind == "errors":
            self._event("fault", inst.name, "Errors:Ended")
            self._fractions[iid].pop(n, None)
            inst.error_frac = 1.0 - math.prod(1.0 - f for f in self._fractions[iid].values())
        elif kind == "hang":
            self._event("fault", inst.name, "Hang:Ended")
            self._hung[iid] -= 1
            if self._hung[iid] == 0:
                inst.hung = False
                if inst.state == READY:  # a watchdog restarts it: what it held fails
                    model.crash(inst, "Restarted:Hung")
                    if self._down.get(iid, 0) == 0:
                        model.recover(inst, "Restarted")

    def _target(self, fault):
        """The instance a fault names (None, with an event, when there is no such instance:
        an autoscaler may have started fewer than instances.count)."""
        if fault.target < len(self.cluster.instances):
            return self.cluster.instances[fault.target]
        self._event("fault", f"instance-{fault.target}", "Fault:NoSuchInstance")
        return None

    def _crash(self, inst) -> None:
        iid = inst.instance_id
        self._down[iid] = self._down.get(iid, 0) + 1
        if self._down[iid] == 1:
            self.cluster.crash(inst)

    def _uncrash(self, inst) -> None:
        iid = inst.instance_id
        self._down[iid] -= 1
        if self._down[iid] == 0:
            self.cluster.recover(inst)

    # ------------------------------------------------------------ metrics

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """The window's resilience columns (simscale.outputs.columns.RESILIENCE); clears
        limiters and the retry budget that refused nothing for a window."""
        win = self._win
        ejected = sum(1 for m in self.members.values() if m.ejected)
        breakers = sum(1 for m in self.members.values()
                       if m.breaker is not None and m.breaker.state != CLOSED)
        values = (self._n_healthy, ejected, breakers, int(self._panic), win["retries"],
                  win["retries_denied"], win["rate_limited"], win["probes_failed"])
        for key in win:
            win[key] = 0
        for lim in self.limiters:  # a limiter that refused nothing for a window has cleared
            if lim.limiting and lim.window == 0:
                lim.limiting = False
                self._event("limiter", lim.label, "RateLimit:Cleared")
            lim.window = 0
        if self._budget_denying and self._budget_denied_win == 0:
            self._budget_denying = False
            self._event("retry", "budget", "RetryBudget:Restored")
        self._budget_denied_win = 0
        return values

    def _summary(self, extra: dict) -> None:
        extra.update(self.totals)


def _spike_subject(fault) -> str:
    """What a latency spike's events are about: an instance, a zone, or all."""
    if fault.target is None:
        return "all"
    return fault.target if isinstance(fault.target, str) else f"instance-{fault.target}"


class _Limiter:
    """A rate limiter and its bookkeeping (for limiter events and counts)."""

    __slots__ = ("label", "name", "policy_name", "policy", "limiting", "window")

    def __init__(self, label: str, name: str | None, policy_name: str, policy) -> None:
        self.label = label
        self.name = name
        self.policy_name = policy_name
        self.policy = policy
        self.limiting = False
        self.window = 0
