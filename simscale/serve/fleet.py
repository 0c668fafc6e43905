"""A fleet in production: samples in, the registry's autoscaler in a ControlLoop, decisions out.

The policy object comes from policies/registry.py, built from the fleet spec's validated
config, and runs unchanged: `policies.runtime.ControlLoop` calls observe → decide → apply
every `sync_period_s` of an injected clock (the first decision one period after start, as in
the simulator). observe() takes the scrapes due by then (FleetScraper) and builds the
ClusterView; apply() records the decision with its reason and hands it to the apply hook
(shadow: record only). Every sample, metrics row, decision and event is appended to the
fleet's AppendStore before it counts. A policy that raises stops the loop loudly: the fleet
is marked failed, with the policy's name and the time.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from policies import registry
from policies.runtime import ControlLoop
from policies.views import ClusterView, ScaleDecision
from simscale.model.autoscaling import fleet_average, policy_metric
from simscale.monitoring.alerts import rules_from_spec
from simscale.serve.fleetspec import FleetSpec
from simscale.serve.hooks import ApplyHook, Shadow
from simscale.serve.scrape import GAUGES, FleetScraper, Sample
from simscale.serve.store import AppendStore
from simscale.serve.tables import FLEET_SCHEMAS, metrics_record
from simscale.tui.state import DashboardState

DECISIONS_KEPT = 50
MAX_CATCH_UP_SCRAPES = 1000


class Fleet:
    """One fleet's state, store and control loop; thread-safe (one lock around the state)."""

    def __init__(self, spec: FleetSpec, directory: Path, *, clock: Callable[[], float],
                 sleep: Callable[[float], None] | None = None, hook: ApplyHook | None = None,
                 roll_s: float = 60.0) -> None:
        self.spec = spec
        self.name = spec.name
        self.clock = clock
        self.hook = hook or Shadow()
        self.lock = threading.RLock()
        self.store = AppendStore(directory, FLEET_SCHEMAS, roll_s=roll_s,
                                 metadata={"simscale.fleet": spec.model_dump_json()})
        self.dashboard = DashboardState(rules_from_spec(spec.alerts), keep_s=3600.0)
        self.decisions: deque[dict] = deque(maxlen=DECISIONS_KEPT)
        self.reasons: Counter[str] = Counter()
        self.state = "starting"
        self.error: str | None = None
        self.current: int | None = None
        self.desired: int | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sleep = sleep or self._wait
        self._reconfigured = False
        self._thread: threading.Thread | None = None
        self._configure(spec.autoscaling, clock())
        self._restore()

    # ------------------------------------------------------------ configuration

    def _configure(self, section, now: float) -> None:
        self.section = section
        self.policy = registry.build("autoscaler", section.policy, section.config,
                                     np.random.default_rng(0))
        self.metric = (policy_metric(self.policy) if section.scaler_metric == "auto"
                       else section.scaler_metric)
        settings = (section.scrape_interval_s, section.metrics_window_s,
                    section.metrics_delay_s)
        old = getattr(self, "scraper", None)
        self.scraper = FleetScraper(*settings) if old is None else old.reset(*settings)
        self.next_scrape_s = now

    def reconfigure(self, section) -> None:
        """Replace the autoscaling section (already validated): a new policy object, whose
        windows start empty; the loop restarts one sync period from now."""
        with self.lock:
            now = self.clock()
            self._configure(section, now)
            self._reconfigured = True
            self._event(now, "config", section.policy, f"ConfigUpdated;policy={section.policy}")
        self._wake.set()

    def _restore(self) -> None:
        """After a restart: the last decisions, and the samples the next scrapes can use."""
        tail = self.store.tail("decisions", DECISIONS_KEPT)
        self.decisions.extend(tail)
        if tail:
            self.current = tail[-1]["current_replicas"]
            self.desired = tail[-1]["desired_replicas"]
        since = self.clock() - self.scraper.keep_s - self.section.metrics_delay_s
        for row in self.store.read("samples", min_t_s=since).to_pylist():
            self.scraper.add(row["instance"], _sample(row["t_s"], row))

    # ------------------------------------------------------------ input

    def add_samples(self, samples: list[dict]) -> int:
        """Store then keep per-instance samples (dicts of instance, state, ready, gauges)."""
        with self.lock:
            now = self.clock()
            rows = [{"t_s": now, **s} for s in samples]
            self.store.append("samples", rows, now)
            for row in rows:
                self.scraper.add(row["instance"], _sample(now, row))
        return len(samples)

    def add_cluster(self, metrics: dict[str, float]) -> int:
        """Store then keep one cluster-level sample (metric name → value)."""
        with self.lock:
            now = self.clock()
            rows = [{"t_s": now, "metric": k, "value": v} for k, v in metrics.items()]
            self.store.append("cluster", rows, now)
            self.scraper.add_cluster(now, metrics)
        return len(metrics)

    # ------------------------------------------------------------ the control loop

    def catch_up(self, now: float) -> None:
        """Take every scrape due by `now` (lock held): rows to the dashboard and the store."""
        interval = self.scraper.interval_s
        behind = math.floor((now - self.next_scrape_s) / interval) + 1
        if behind > MAX_CATCH_UP_SCRAPES:  # after a long stop: only the recent ones matter
            self.next_scrape_s += (behind - MAX_CATCH_UP_SCRAPES) * interval
        rows = []
        while self.next_scrape_s <= now + 1e-9:
            _, row = self.scraper.scrape(self.next_scrape_s)
            row["desired_replicas"] = self.desired
            rows.append(row)
            self.next_scrape_s += interval
        if rows:
            self.store.append("metrics", [metrics_record(r) for r in rows], now)
            seen = len(self.dashboard.transitions)
            self.dashboard.add_rows(rows)
            for tr in self.dashboard.transitions[seen:]:
                self._event(tr.t_s, *tr.as_event())
        self.scraper.forget(now)

    def refresh(self) -> None:
        """Take the scrapes due by now (the dashboard shows rows up to now)."""
        with self.lock:
            self.catch_up(self.clock())

    def observe(self, now: float) -> ClusterView:
        with self.lock:
            self.catch_up(now)
            view = self.scraper.view(now)
            self._view = view
            return view

    def apply(self, decision: ScaleDecision, now: float) -> None:
        with self.lock:
            view = self._view
            desired = int(decision.desired_replicas)
            current = view.current_replicas
            self.current, self.desired = current, desired
            self.reasons[decision.reason] += 1
        applied = self.hook.apply(self.name, desired, current)
        age = view.metrics_age_s
        record = {
            "t_s": now, "policy": self.section.policy, "desired_replicas": desired,
            "current_replicas": current, "ready_replicas": view.ready_replicas,
            "reason": decision.reason, "metric": self.metric,
            "metric_value": fleet_average(view.pods, self.metric),
            "metrics_age_s": age if math.isfinite(age) else None, "applied": applied,
        }
        with self.lock:
            self.decisions.append(record)
            self.store.append("decisions", [record], now)
            self._event(now, "autoscaler", self.section.policy,
                        f"{decision.reason};desired={desired};current={current}")

    def _event(self, t_s: float, kind: str, subject: str, reason: str) -> None:
        self.dashboard.add_events([(t_s, kind, subject, reason)])
        self.store.append("events", [{"t_s": t_s, "kind": kind, "subject": subject,
                                      "reason": reason}], t_s)

    def _observe_failed(self, exc: BaseException, now: float) -> None:
        with self.lock:
            self._event(now, "fleet", self.name, f"StepFailed:{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------ the thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"fleet-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.store.close()

    def _wait(self, seconds: float) -> None:
        self._wake.wait(max(0.0, seconds))
        self._wake.clear()

    def _stopping(self) -> bool:
        return self._stop.is_set() or self._reconfigured

    def _run(self) -> None:
        self.state = "running"
        while not self._stop.is_set():
            with self.lock:
                self._reconfigured = False
                policy, period = self.policy, self.section.sync_period_s
            self._sleep(period)  # the first decision is one period in
            if self._stopping():
                continue
            loop = ControlLoop(policy, self.observe, self.apply, period, clock=self.clock,
                               sleep=self._sleep, on_error=self._observe_failed)
            try:
                loop.run(should_stop=self._stopping)
            except Exception as exc:  # the policy raised: stop loudly
                now = self.clock()
                self.error = (f"policy {self.section.policy!r} raised at t={now:.3f}: "
                              f"{type(exc).__name__}: {exc}")
                self.state = "failed"
                with self.lock:
                    self._event(now, "fleet", self.name, f"PolicyFailure:{self.section.policy}")
                return
        self.state = "stopped"

    # ------------------------------------------------------------ reading

    def status(self) -> dict:
        """GET /api/scaling/auto-scale: the policy, its config, replicas, last decisions."""
        from dataclasses import asdict

        with self.lock:
            section = self.section
            return {
                "fleet": self.name, "state": self.state, "error": self.error,
                "policy": section.policy, "config": _plain(asdict(section.config)),
                "autoscaling": section.model_dump(mode="json"), "mode": self.hook.mode,
                "current_replicas": self.current, "desired_replicas": self.desired,
                "instances": len(self.scraper.pods_now(self.clock())),
                "decisions": list(self.decisions),
                "decisions_by_reason": dict(self.reasons),
                "samples_accepted": self.store.accepted["samples"],
            }


def _sample(t_s: float, row: dict) -> Sample:
    return Sample(t_s, row.get("state") or "ready", bool(row.get("ready", True)),
                  tuple(row.get(g) for g in GAUGES))


def _plain(value):
    """Tuples to lists, recursively (JSON-ready config)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
