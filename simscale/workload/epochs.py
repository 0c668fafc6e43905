"""Shared machinery of the arrival processes: endless ascending epochs, chunk by chunk.

Every process draws only from the numpy Generator it is given and yields float64 chunks of at
most `chunk_size` times (never an empty chunk). Running sums are carried from chunk to chunk
through the first cell of a sequential `np.cumsum`, which adds in the same order whatever
the chunking, so the same seed gives bit-identical times for any chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

CHUNK = 65_536
"""Default number of arrivals (or candidates) drawn per chunk."""

DAY_S = 86_400.0


def check_run(horizon_s: float, chunk_size: int) -> None:
    if not math.isfinite(horizon_s) or horizon_s < 0:
        raise ValueError(f"horizon_s must be finite and >= 0, got {horizon_s}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")


def substreams(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """`n` independent generators derived from `rng` (it gives up four 63-bit draws).

    Processes that need two kinds of randomness (candidates and acceptances, environment and
    arrivals) give each kind its own stream so that neither depends on the chunking.
    """
    entropy = rng.integers(0, 2**63 - 1, size=4).tolist()
    return [
        np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(entropy).spawn(n)
    ]


Draw = Callable[[np.ndarray], None]
"""Fills its argument in place with the next inter-arrival times of a stream."""


def first_size(chunk_size: int, expected: float) -> int:
    """A first chunk just big enough for a short horizon (about 6 sd above the mean), so a
    short run does not draw a whole chunk; the path does not depend on chunk sizes."""
    if not math.isfinite(expected):
        return chunk_size
    return max(1, min(chunk_size, int(expected + 6 * math.sqrt(expected)) + 16))


def running_sums(
    first_s: float | None, draw: Draw, chunk_size: int, first_size: int | None = None
) -> Iterator[np.ndarray]:
    """Endless ascending epochs t_k = t_{k-1} + x_k (t_0 = 0), `chunk_size` at a time (the
    first chunk `first_size`).

    `first_s`, when given, is x_1 (an equilibrium start); later x_k come from `draw`. The sum
    is carried between chunks through the first cell of a sequential cumsum, so the epochs are
    bit-identical for every chunk size.
    """
    last = 0.0
    size = first_size or chunk_size
    while True:
        buf = np.empty(size + 1)
        buf[0] = last
        if first_s is not None:
            buf[1] = first_s
            if size > 1:
                draw(buf[2:])
            first_s = None
        else:
            draw(buf[1:])
        np.cumsum(buf, out=buf)
        last = float(buf[-1])
        size = chunk_size
        yield buf[1:]


def until(epochs: Iterator[np.ndarray], horizon_s: float) -> Iterator[np.ndarray]:
    """Chunks of an ascending endless sequence, cut at the first value >= horizon_s."""
    for chunk in epochs:
        if chunk[-1] >= horizon_s:
            chunk = chunk[: int(np.searchsorted(chunk, horizon_s, side="left"))]
            if len(chunk):
                yield chunk
            return
        yield chunk


def exponential_draw(rng: np.random.Generator, mean_s: float) -> Draw:
    def draw(out: np.ndarray) -> None:
        rng.standard_exponential(out=out)
        out *= mean_s

    return draw


def unit_poisson(
    rng: np.random.Generator, chunk_size: int, expected: float = math.inf
) -> Iterator[np.ndarray]:
    """Epochs of a unit-rate Poisson process (standard exponential spacings), endless;
    `expected` (the likely number needed) sizes the first chunk."""
    first = first_size(chunk_size, expected)
    return running_sums(None, exponential_draw(rng, 1.0), chunk_size, first)

