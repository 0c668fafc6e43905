"""metrics.parquet as the model makes it: one row per metrics interval, from window counters.

A mixin of simscale.model.core.Model: the hot path counts arrivals, statuses and ok latencies
into the window's accumulators; one periodic URGENT event closes the window, builds the core
row (simscale.outputs.columns.CORE, in its order), asks each metric source for its columns
(simscale.model.seam.MetricSource) and hands the row to the listeners (a live view).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy
from simpy.core import URGENT

from policies.views import BOOTING, DRAINING, FAILED, READY
from simscale.model.instance import Instance
from simscale.model.memory import MemoryPlan
from simscale.model.request import ERROR, OK, REJECTED, TIMEOUT
from simscale.model.scopes import ResponseScopes, linear_quantiles
from simscale.model.seam import Hooks
from simscale.outputs.recorder import RequestLog
from simscale.spec import Spec

_NO_MARKS = (0.0, 0.0, 0.0, 0.0, 0.0)


class MetricsWindow:
    """The metrics window's accumulators and the row they make every interval."""

    # the model's state this mixin reads (set by Model.__init__)
    env: simpy.Environment
    spec: Spec
    hooks: Hooks
    memory: MemoryPlan
    instances: list[Instance]
    log: RequestLog

    def _init_window(self, streamed: bool) -> None:
        """Empty accumulators and run totals; streamed: some kind calls the LLM (each ok
        response's time to first token is kept beside its latency, -1 for none, so a window
        splits into API and streamed responses)."""
        self.interval_s = self.spec.metrics.interval_s
        self.metric_rows: list[dict] = []
        self.metric_listeners: list[Callable[[dict], None]] = []
        self._win_arrivals = 0
        self._win_counts = [0, 0, 0, 0]  # by status; ok is len(_win_latencies)
        self._win_latencies: list[float] = []
        self.scopes = ResponseScopes(streamed, self.log.spill_dir)
        self._streamed = self.scopes.streamed
        self._win_ttfts: list[float] = []
        self._win_start = 0.0
        self._win_marks: dict[int, tuple[float, float, float]] = {}
        self.busy_slot_s = 0.0
        self.slot_s = 0.0

    def _arm_metrics(self) -> None:
        """The next metrics tick, one interval on. It is URGENT, so it fires before anything
        else due at the same instant: a row covers [t_s, t_s + interval_s), and a request
        that ends (or arrives) exactly on a boundary counts in the next row."""
        ev = simpy.Event(self.env)
        ev._ok = True
        ev._value = None
        ev.callbacks.append(self._on_metrics)
        self.env.schedule(ev, URGENT, self.interval_s)

    def _on_metrics(self, _ev) -> None:
        self.emit_metrics(self.env._now)
        self._arm_metrics()

    def emit_metrics(self, now: float) -> None:
        """Close the window [start, now): make its row, keep it, reset the accumulators."""
        span = now - self._win_start
        if span <= 0:
            return
        fleet = self._fleet(now)
        row = self._core_row(now, span, fleet)
        for source in self.hooks.metrics:
            row.update(zip(source.columns.names, source.metric_values(row, now, span)))
        self.busy_slot_s += fleet.busy_s
        self.slot_s += fleet.slots * span
        self.metric_rows.append(row)
        for listener in self.metric_listeners:
            listener(row)
        self._win_start = now
        self._win_arrivals = 0
        self._win_counts = [0, 0, 0, 0]
        self._win_latencies = []
        self._win_ttfts = []

    def _fleet(self, now: float) -> _Fleet:
        """The instances over the window: slot, CPU, in-flight and held-memory areas since the
        last row, running time (instances that ran the whole window counted apart, so that a
        steady fleet's is exactly count × span), counts by state, and the slots and cores of
        the ready ones."""
        fleet = _Fleet()
        marks = self._win_marks
        states = fleet.states
        start = self._win_start
        for inst in self.instances:
            if inst.ended_s is not None and inst.ended_s < start:
                continue  # gone before this window
            areas = (inst.busy_area(now), inst.cpu_area(now), inst.in_flight_area(now),
                     inst.held_area(now), inst.running_s(now))
            last = marks.get(inst.instance_id, _NO_MARKS)
            fleet.busy_s += areas[0] - last[0]
            fleet.cpu_s += areas[1] - last[1]
            fleet.flight_s += areas[2] - last[2]
            fleet.held_s += areas[3] - last[3]
            since = inst.running_since_s
            if since is not None and since <= start:
                fleet.whole += 1
            else:
                fleet.part_s += areas[4] - last[4]
            marks[inst.instance_id] = areas
            fleet.in_flight += inst.in_flight
            fleet.queued += len(inst.queue)
            if inst.state in states:
                states[inst.state] += 1
            if inst.state == READY:
                fleet.slots += inst.slots
                fleet.cores += inst.cores
        return fleet

    def _core_row(self, now: float, span: float, fleet: _Fleet) -> dict:
        """The row's core columns, in the order simscale.outputs.columns.CORE declares."""
        states = fleet.states
        ready = states[READY]
        counts = self._win_counts
        counts[OK] = len(self._win_latencies)
        ended = sum(counts)
        lat = np.asarray(self._win_latencies)
        p50, p95, p99 = linear_quantiles(lat, (0.5, 0.95, 0.99)) if len(lat) else (None,) * 3
        slots, cores = fleet.slots, fleet.cores
        return {
            "t_s": self._win_start,
            "interval_s": span,
            "instances_ready": ready,
            "arrivals_rps": self._win_arrivals / span,
            "throughput_rps": counts[OK] / span,
            "latency_p50_s": p50,
            "latency_p95_s": p95,
            "latency_p99_s": p99,
            "error_rate": (ended - counts[OK]) / ended if ended else 0.0,
            "errors": counts[ERROR],
            "timeouts": counts[TIMEOUT],
            "rejected": counts[REJECTED],
            "utilization": min(1.0, fleet.busy_s / (slots * span)) if slots else 0.0,
            "cpu_util_frac": min(1.0, fleet.cpu_s / (cores * span)) if cores else 0.0,
            "in_flight": fleet.in_flight,
            "queued": fleet.queued,
            "instances_booting": states[BOOTING],
            "instances_draining": states[DRAINING],
            "instances_failed": states[FAILED],
            **self.scopes.columns(lat, self._win_ttfts, p95),
            "memory_frac": self._memory_frac(fleet, span),
        }

    def _memory_frac(self, fleet: _Fleet, span: float) -> float:
        """Memory of a mean running instance over the window / its limit: at most 1, as no
        instance ever holds more than its limit (simscale.model.memory); 0 with none."""
        run_s = fleet.whole * span + fleet.part_s
        if run_s <= 0.0:
            return 0.0
        plan = self.memory
        held_mb = (plan.per_request_mb * (fleet.flight_s / run_s) if plan.uniform
                   else fleet.held_s / run_s)
        return min(1.0, (plan.base_mb + held_mb) / plan.limit_mb)


class _Fleet:
    """What the instances did over one window (see MetricsWindow._fleet)."""

    __slots__ = ("busy_s", "cpu_s", "flight_s", "held_s", "whole", "part_s", "in_flight",
                 "queued", "slots", "cores", "states")

    def __init__(self) -> None:
        self.busy_s = self.cpu_s = self.flight_s = self.held_s = self.part_s = 0.0
        self.whole = 0
        self.in_flight = self.queued = self.slots = self.cores = 0
        self.states = {BOOTING: 0, READY: 0, DRAINING: 0, FAILED: 0}
