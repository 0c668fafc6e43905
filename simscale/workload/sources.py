"""The service's own API traffic at run time: dashboard polls, metric pushes, load-test starts.

Each source (simscale.sections.workload_sources) sends requests of one kind through the
model's `RequestPort` (simscale.workload.users), as closed-loop users do, on top of the
arrival stream. A source keeps one pending SimPy event however many requests it sends: it
walks a batch of ascending send times, sending every request due at each wake-up, and asks
for the next batch when this one is done.

- Dashboard viewers: the batches are the chunks of their `Periodic` process (stream
  "workload.dashboard"); the rate is viewers / interval_s while the dashboard is open.
- Metric pushes: at every multiple of interval_s the source reads the ready instances and
  schedules one push from each in the period that starts, instance i at the fixed offset
  interval_s × frac((i + 1) × φ) (φ the golden ratio: the offsets of any number of instances
  are spread over the period); a push is sent only if its instance is still ready. So the
  rate is (ready instances) / interval_s, and an instance that becomes ready starts pushing
  in the next period.
- Load tests: the start times given, sorted.

Request ids come from the port; a source's request has its own id as user and session id.
CPU work draws from the source's own stream ("workload.dashboard.costs",
"workload.metrics_push.costs", "workload.load_tests.costs"), in send order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import simpy

from policies.views import RequestInfo
from simscale.streams import stream
from simscale.workload.kinds import Kinds
from simscale.workload.users import RequestPort

GOLDEN_FRAC = (math.sqrt(5.0) - 1.0) / 2.0
_new_info = tuple.__new__

Batch = tuple[np.ndarray, np.ndarray | None]
"""(ascending send times, s; the instance each is from, or None)."""


class Source:
    """Sends one kind's requests at the times its batches give, with one pending event.

    `batches(now_s)` returns the next batch (None: no more, or not until `wake_s`) and when
    to ask again (None: never again, or as soon as this batch is sent).
    """

    def __init__(self, env: simpy.Environment, port: RequestPort, kinds: Kinds, name: str,
                 kind: str, seed: int, end_s: float,
                 batches: Callable[[float], tuple[Batch | None, float | None]],
                 still_sends: Callable[[int], bool] | None = None) -> None:
        self.env = env
        self.port = port
        self.kinds = kinds
        self.code = kinds.codes[kind]
        self.kind = kind
        self.end_s = end_s
        self.rng = stream(seed, f"workload.{name}.costs")
        self.batches = batches
        self.still_sends = still_sends
        self.sent = 0
        self._times: list[float] = []
        self._work: list[float] = []
        self._senders: list[int] | None = None
        self._pos = 0
        self._refill_s: float | None = 0.0
        self._wake(0.0)

    def _wake(self, at_s: float) -> None:
        ev = self.env.timeout(max(0.0, at_s - self.env._now))
        ev.callbacks.append(self._on_wake)

    def _on_wake(self, _ev) -> None:
        now = self.env._now
        if self._pos >= len(self._times) and self._refill_s is not None and \
                now >= self._refill_s:
            self._refill(now)
        times = self._times
        pos = self._pos
        while pos < len(times) and times[pos] <= now:
            if self.still_sends is None or self.still_sends(self._senders[pos]):
                self._send(self._work[pos], now)
            pos += 1
        self._pos = pos
        nxt = times[pos] if pos < len(times) else self._refill_s
        if nxt is not None and nxt < self.end_s:
            self._wake(nxt)

    def _refill(self, now: float) -> None:
        batch, self._refill_s = self.batches(now)
        if batch is None:
            self._times, self._work, self._senders, self._pos = [], [], None, 0
            return
        times, senders = batch
        codes = np.full(len(times), self.code, dtype=np.int64)
        work, _prompt, _output = self.kinds.draw_costs(codes, lambda _code, _what: self.rng)
        self._times = times.tolist()
        self._work = work.tolist()
        self._senders = None if senders is None else senders.tolist()
        self._pos = 0

    def _send(self, work_s: float, now: float) -> None:
        rid = self.port.new_request_id()
        self.sent += 1
        info = _new_info(RequestInfo, (rid, self.kind, rid, rid, 0, 0, now))
        self.port.send(info, work_s, self.code)


def viewer_batches(chunks: Iterator[np.ndarray]
                   ) -> Callable[[float], tuple[Batch | None, float | None]]:
    """Batches from the chunks of a Periodic process: the next chunk, asked for once the
    last is sent."""

    def batches(_now_s: float) -> tuple[Batch | None, float | None]:
        chunk = next(chunks, None)
        if chunk is None:
            return None, None
        return (chunk, None), float(chunk[-1])

    return batches


def push_offsets_s(instance_ids: np.ndarray, interval_s: float) -> np.ndarray:
    """Each instance's push offset within a period: interval_s × frac((id + 1) × φ)."""
    return interval_s * np.modf((instance_ids + 1) * GOLDEN_FRAC)[0]


def push_batches(ready_ids: Callable[[], list[int]], interval_s: float
                 ) -> Callable[[float], tuple[Batch | None, float | None]]:
    """At each multiple of interval_s: one push from each ready instance in the coming
    period, in offset order; asked for again at the next multiple."""

    def batches(now_s: float) -> tuple[Batch | None, float | None]:
        period_s = math.floor(now_s / interval_s + 1e-9) * interval_s
        ids = np.asarray(ready_ids(), dtype=np.int64)
        offsets = push_offsets_s(ids, interval_s)
        order = np.argsort(offsets, kind="stable")
        times = period_s + offsets[order]
        return (times, ids[order]), period_s + interval_s

    return batches


def fixed_batches(times_s: list[float]) -> Callable[[float], tuple[Batch | None, float | None]]:
    """One batch: the given times, sorted."""

    def batches(_now_s: float) -> tuple[Batch | None, float | None]:
        return (np.sort(np.asarray(times_s, dtype=np.float64)), None), None

    return batches


class Sources:
    """The configured sources of one run, with their totals for summary.json."""

    def __init__(self, env: simpy.Environment, port: RequestPort, spec, kinds: Kinds,
                 seed: int, end_s: float, ready_ids: Callable[[], list[int]],
                 is_ready: Callable[[int], bool]) -> None:
        self.sources: dict[str, Source] = {}
        if spec.dashboard is not None:
            times = spec.dashboard.process().times(stream(seed, "workload.dashboard"), end_s)
            self._add(env, port, kinds, seed, end_s, "dashboard", spec.dashboard.kind,
                      viewer_batches(times))
        if spec.metrics_push is not None:
            self._add(env, port, kinds, seed, end_s, "metrics_push", spec.metrics_push.kind,
                      push_batches(ready_ids, spec.metrics_push.interval_s), is_ready)
        if spec.load_tests is not None:
            self._add(env, port, kinds, seed, end_s, "load_tests", spec.load_tests.kind,
                      fixed_batches(spec.load_tests.at_s))

    def _add(self, env, port, kinds, seed, end_s, name, kind, batches, is_ready=None) -> None:
        self.sources[name] = Source(env, port, kinds, name, kind, seed, end_s, batches,
                                    is_ready)

    def summary(self, summary: dict) -> None:
        """dashboard_polls, metrics_pushes, load_test_starts: requests each source sent."""
        names = {"dashboard": "dashboard_polls", "metrics_push": "metrics_pushes",
                 "load_tests": "load_test_starts"}
        for name, source in self.sources.items():
            summary[names[name]] = source.sent
