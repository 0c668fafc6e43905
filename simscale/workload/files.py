"""Reading the files a workload names: its trace (cached per file version) and the values
of empirical distributions, checked before anything runs.

Errors are InputError naming the file (and line) and what is wrong, or the spec field.
"""

from __future__ import annotations

import os
from pathlib import Path

from simscale.errors import InputError
from simscale.sections.workload import TraceArrivals, WorkloadSpec
from simscale.workload.traces import Trace, read_trace, replay_problems

_TRACES: dict[tuple, Trace] = {}
_TRACES_KEPT = 8


def load_trace(spec: TraceArrivals) -> Trace:
    """The trace a `trace` arrivals section names, read once per file version and cached.

    Raises InputError naming file:line and the problem.
    """
    try:
        stat = os.stat(spec.path)
        version: tuple = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = ()
    key = (str(Path(spec.path)), version, spec.format, spec.lenient, spec.prefix_blocks)
    trace = _TRACES.get(key)
    if trace is None:
        trace = read_trace(spec.path, spec.format, lenient=spec.lenient,
                           kind=spec.request_kind, prefix_blocks=spec.prefix_blocks)
        if len(_TRACES) >= _TRACES_KEPT:
            _TRACES.clear()
        _TRACES[key] = trace
    return trace


def check_replay(trace: Trace, spec: TraceArrivals, horizon_s: float) -> None:
    """Refuse a replay that is invalid or would be unbounded over the horizon (a lap with
    no length, too many laps, copies or arrivals per simulated second), naming the field."""
    start, end = spec.window_s if spec.window_s is not None else (0.0, None)
    problems = replay_problems(trace, horizon_s, speed=spec.speed, start_s=start, end_s=end,
                               loop=spec.loop, rate_scale=spec.rate_scale)
    if problems:
        raise InputError([f"workload.arrivals.{field}: {problem} (trace {trace.source})"
                          for field, problem in problems])


def check_files(spec: WorkloadSpec, source: str) -> None:
    """Read every file the workload names (trace, empirical distributions) now, so that a bad
    one fails before anything runs; raises InputError naming the file and line."""
    for field, dist in spec.empirical_files():
        try:
            dist.values()
        except ValueError as exc:
            raise InputError(f"{source}: {field}.path: {exc}") from None
    if isinstance(spec.arrivals, TraceArrivals):
        problem = spec.trace_kinds_problem(load_trace(spec.arrivals))
        if problem:
            raise InputError(problem)
