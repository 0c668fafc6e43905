"""Arrival sources: lazily generated chunks of arrival times with per-request attributes.

A source yields chunks (numpy arrays) so that memory stays flat however long the run is.
All draws come from the source's own named streams, in arrival order, so the sample path is
the same whichever policies the run uses (common random numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simscale.sections.workload import PoissonArrivals, WorkloadSpec
from simscale.streams import stream

CHUNK = 65_536


@dataclass
class ArrivalChunk:
    """A run of consecutive arrivals: times (s, ascending) and the CPU work of each (s)."""

    times_s: np.ndarray
    work_s: np.ndarray


def poisson_times(rng: np.random.Generator, rate_rps: float, horizon_s: float,
                  chunk: int = CHUNK) -> Iterator[np.ndarray]:
    """Arrival times of a rate-`rate_rps` Poisson process on [0, horizon_s), in chunks."""
    t = 0.0
    while True:
        times = t + np.cumsum(rng.exponential(1.0 / rate_rps, chunk))
        if times[-1] >= horizon_s:
            yield times[: np.searchsorted(times, horizon_s, side="left")]
            return
        t = float(times[-1])
        yield times


def arrival_chunks(workload: WorkloadSpec, seed: int, horizon_s: float) -> Iterator[ArrivalChunk]:
    """The workload's arrivals on [0, horizon_s) as chunks, drawn from named streams."""
    arrivals = workload.arrivals
    work_rng = stream(seed, "service")
    if isinstance(arrivals, PoissonArrivals):
        times_iter = poisson_times(stream(seed, "arrivals"), arrivals.rate_rps, horizon_s)
    else:  # pragma: no cover - the spec union admits only what is handled above
        raise TypeError(f"unsupported arrivals {arrivals!r}")
    for times in times_iter:
        if len(times):
            yield ArrivalChunk(times, workload.service.sample(work_rng, len(times)))
