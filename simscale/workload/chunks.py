"""The workload at run time: arrival chunks with per-request attributes.

An open-loop or trace workload is a lazy sequence of `ArrivalChunk`s: numpy arrays of arrival
times and, per request, CPU work, kind code, user and session ids and token counts. The model
converts each chunk to lists once (`ArrivalChunk.lists`), so memory stays flat however long
the run. Closed-loop users (simscale.workload.users) make their requests as they go instead.
Arrival times draw from the stream "arrivals" (open loop); a trace's fractional rate_scale
copy thins with "workload.trace"; kinds and costs draw as simscale.workload.kinds says.

A workload with one kind, no tokens and no trace (the default) produces chunks with times
and work only, and the model takes its fast path (nothing but CPU work per request).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simscale.errors import InputError
from simscale.sections.workload import (
    OpenLoopArrivals,
    StairsArrivals,
    TraceArrivals,
    UsersArrivals,
    UserStairsArrivals,
    WorkloadSpec,
)
from simscale.streams import stream
from simscale.workload.files import check_replay, load_trace
from simscale.workload.kinds import Kinds
from simscale.workload.traces import replay


@dataclass
class ArrivalChunk:
    """A run of consecutive arrivals: times (s, ascending), the CPU work of each (s), and,
    for a workload with kinds, ids or tokens, those per request (None: not given; the model
    then uses kind 0, the request id as user and session id, and 0 tokens)."""

    times_s: np.ndarray
    work_s: np.ndarray
    kind: np.ndarray | None = None
    user_id: np.ndarray | None = None
    session_id: np.ndarray | None = None
    prompt_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None

    def lists(self) -> tuple[list, list | None, list | None, list, list]:
        """(kind codes, user ids, session ids, prompt tokens, output tokens) as Python lists,
        converted once per chunk; ids are None when the chunk has none."""
        n = len(self.times_s)
        zeros = [0] * n

        def ints(column: np.ndarray | None) -> list | None:
            return None if column is None else column.tolist()

        return (ints(self.kind) or zeros, ints(self.user_id), ints(self.session_id),
                ints(self.prompt_tokens) or zeros, ints(self.output_tokens) or zeros)


class Workload:
    """The [workload] section made runnable: its kinds, its trace, and arrival chunks.

    closed_loop: users make the requests (no chunks); stairs: the staircase section whose
    breaking point is reported (a rate or a user staircase), else None; rich: chunks carry
    kinds, ids or tokens.
    """

    def __init__(self, spec: WorkloadSpec, seed: int, horizon_s: float) -> None:
        self.spec = spec
        self.seed = seed
        self.horizon_s = horizon_s
        arrivals = spec.arrivals
        self.trace = load_trace(arrivals) if isinstance(arrivals, TraceArrivals) else None
        if self.trace is not None:
            check_replay(self.trace, arrivals, horizon_s)
        self.closed_loop = isinstance(arrivals, UsersArrivals)
        self.stairs = (arrivals if isinstance(arrivals, StairsArrivals | UserStairsArrivals)
                       else None)
        trace_kinds: list[str] = []
        if self.trace is not None and self.trace.kind is not None:
            trace_kinds = sorted(set(self.trace.kind.tolist()))
            problem = spec.trace_kinds_problem(self.trace)
            if problem:
                raise InputError(problem)
        self.kinds = Kinds(spec, seed, trace_kinds)
        self.profiles = self.kinds.profiles
        self.rich = bool(spec.mix) or self.trace is not None or self.kinds.has_tokens
        self._trace_codes = None
        if trace_kinds:
            codes = self.kinds.codes
            kind = self.trace.kind  # no list of every row (a trace may hold 20M)
            self._trace_codes = np.fromiter((codes[k] for k in kind), np.int64, len(kind))

    def chunks(self) -> Iterator[ArrivalChunk]:
        """The arrivals on [0, horizon_s), chunk by chunk (none for closed-loop users)."""
        arrivals = self.spec.arrivals
        if self.closed_loop:
            return iter(())
        if self.trace is not None:
            return self._trace_chunks(arrivals)
        if not isinstance(arrivals, OpenLoopArrivals):  # pragma: no cover - the union is closed
            raise TypeError(f"unsupported arrivals {arrivals!r}")
        times = arrivals.process().times(stream(self.seed, "arrivals"), self.horizon_s)
        return self._open_chunks(times)

    def _open_chunks(self, times_iter: Iterator[np.ndarray]) -> Iterator[ArrivalChunk]:
        kinds = self.kinds
        rngs = kinds.stream_table()
        if not self.rich:
            service, rng = self.spec.service, rngs(0, "service")
            for times in times_iter:
                yield ArrivalChunk(times, service.sample(rng, len(times)))
            return
        kinds_rng = stream(self.seed, "workload.kinds")
        for times in times_iter:
            codes = kinds.draw_kinds(kinds_rng, len(times))
            work, prompt, output = kinds.draw_costs(codes, rngs)
            yield ArrivalChunk(times, work, codes, None, None, prompt, output)

    def _trace_chunks(self, spec: TraceArrivals) -> Iterator[ArrivalChunk]:
        start, end = spec.window_s if spec.window_s is not None else (0.0, None)
        kinds = self.kinds
        rngs = kinds.stream_table()
        kinds_rng = stream(self.seed, "workload.kinds")
        for part in replay(self.trace, self.horizon_s, speed=spec.speed, start_s=start,
                           end_s=end, loop=spec.loop, rate_scale=spec.rate_scale,
                           rng=stream(self.seed, "workload.trace")):
            if self._trace_codes is not None:
                codes = self._trace_codes[part.row]
            else:
                codes = kinds.draw_kinds(kinds_rng, len(part))
            work, prompt, output = kinds.draw_costs(codes, rngs, part.prompt_tokens,
                                                    part.output_tokens)
            sessions = part.session_id if part.session_id is not None else part.prefix_id
            yield ArrivalChunk(part.arrival_s, work, codes, part.user_id, sessions, prompt,
                               output)

    def trace_totals(self, summary: dict) -> None:
        """summary.json's trace_rows and trace_skipped_rows (a trace workload only)."""
        summary["trace_rows"] = len(self.trace)
        summary["trace_skipped_rows"] = self.trace.skipped_rows


def arrival_chunks(workload: WorkloadSpec, seed: int, horizon_s: float) -> Iterator[ArrivalChunk]:
    """The workload's arrivals on [0, horizon_s) as chunks, drawn from named streams."""
    return Workload(workload, seed, horizon_s).chunks()
