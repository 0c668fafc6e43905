"""Percentiles of a stream of non-negative values in bounded memory.

A `Digest` keeps values exactly while there are few of them (quantiles as numpy computes them,
linear interpolation). Beyond `memory_values` values held, they are appended to an unnamed
temporary file (in `spill_dir`: the run's own folder when there is one) and the quantiles
are found there by an exact selection (simscale.outputs.selection) that reads it in blocks:
the same floats np.quantile gives over all of them, in a few MB. Past `exact_limit`, the
values move into a log-bucketed histogram: the bucket of x > 0 is ceil(log_γ x) with
γ = (1 + α)/(1 − α), whose representative value 2γ^i/(γ + 1) is within a relative error α
of every value in it (Masson, Rim and Lee,
"DDSketch: a fast and fully-mergeable quantile sketch with relative-error guarantees",
VLDB 2019). Memory is then O(log(max/min)/α) however long the run.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import numpy as np

from simscale.outputs.selection import order_statistics

MEMORY_VALUES = 1 << 18  # values held in memory before they go to the file (2 MB)
_BLOCK_BYTES = 1 << 20   # the file is read back 1 MB at a time (the passes hold a few such)


class Digest:
    """Count, mean and quantiles of the values added; exact up to `exact_limit` values."""

    def __init__(self, exact_limit: int = 5_000_000, relative_error: float = 0.005,
                 memory_values: int | None = None, spill_dir: Path | None = None) -> None:
        if not 0 < relative_error < 1:
            raise ValueError("relative_error must be in (0, 1)")
        self.exact_limit = exact_limit
        self.alpha = relative_error
        self.memory_values = MEMORY_VALUES if memory_values is None else memory_values
        self.spill_dir = spill_dir
        self._log_gamma = math.log((1 + relative_error) / (1 - relative_error))
        self._chunks: list[np.ndarray] = []  # the values held in memory
        self._held = 0
        self._spill = None  # the temporary file of the values moved out of memory
        self._spilled = 0
        self._exact_count = 0
        self._counts: np.ndarray | None = None  # histogram over bucket indices, from _offset
        self._offset = 0
        self._zeros = 0
        self.count = 0
        self.total = 0.0

    @property
    def exact(self) -> bool:
        return self._counts is None

    def add(self, values: np.ndarray) -> None:
        """Add a batch of values (>= 0)."""
        if not len(values):
            return
        values = np.asarray(values, np.float64)
        self.count += len(values)
        self.total += float(values.sum())
        if self._counts is None:
            self._chunks.append(values)
            self._held += len(values)
            self._exact_count += len(values)
            if self._exact_count > self.exact_limit:
                self._to_histogram()
            elif self._held > self.memory_values:
                self._write_out()
            return
        self._bucket(values)

    def _write_out(self) -> None:
        """Append the values held in memory to the temporary file."""
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(dir=self.spill_dir, prefix=".digest-",
                                                 buffering=0)
        data = memoryview(np.concatenate(self._chunks)).cast("B")
        while data:
            data = data[self._spill.write(data):]
        self._spilled += self._held
        self._chunks = []
        self._held = 0

    def _blocks(self) -> Iterator[np.ndarray]:
        """The exact values: those in the file (a block at a time), then those held."""
        if self._spill is not None:
            fd = self._spill.fileno()
            size = self._spilled * 8
            for offset in range(0, size, _BLOCK_BYTES):
                raw = os.pread(fd, min(_BLOCK_BYTES, size - offset), offset)
                yield np.frombuffer(raw, np.float64)
        yield from self._chunks

    def _to_histogram(self) -> None:
        """Past exact_limit: every value so far into the histogram; the file is dropped."""
        self._counts = np.zeros(0, np.int64)
        for block in self._blocks():
            self._bucket(block)
        self.close()
        self._chunks = []
        self._held = 0

    def close(self) -> None:
        """Drop the temporary file and the values in it (once they are in the histogram, or
        when the digest will not be read again)."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
            self._spilled = 0

    def _bucket(self, values: np.ndarray) -> None:
        positive = values[values > 0]
        self._zeros += len(values) - len(positive)
        if not len(positive):
            return
        index = np.ceil(np.log(positive) / self._log_gamma).astype(np.int64)
        low, high = int(index.min()), int(index.max())
        if not len(self._counts):
            self._offset = low
        new_low = min(low, self._offset)
        new_high = max(high, self._offset + len(self._counts) - 1)
        if new_low < self._offset or new_high >= self._offset + len(self._counts):
            grown = np.zeros(new_high - new_low + 1, np.int64)
            start = self._offset - new_low
            grown[start:start + len(self._counts)] = self._counts
            self._counts, self._offset = grown, new_low
        self._counts += np.bincount(index - self._offset, minlength=len(self._counts))

    def mean(self) -> float | None:
        """The mean; while exact, of the correctly rounded sum of every value (math.fsum), so
        it does not depend on how the values were batched. Past exact_limit, of the sum
        added up batch by batch."""
        if not self.count:
            return None
        if self._counts is None:
            return math.fsum(chain.from_iterable(b.tolist() for b in self._blocks())) / self.count
        return self.total / self.count

    def values(self) -> np.ndarray:
        """Every value, while the digest is exact (all in memory: for small digests)."""
        if self._counts is not None:
            raise ValueError("the digest is no longer exact")
        blocks = list(self._blocks())
        return np.concatenate(blocks) if blocks else np.empty(0)

    def quantiles(self, qs: list[float]) -> list[float] | None:
        """The q-quantiles (None when empty): exact, or within the relative error."""
        if not self.count:
            return None
        if self._counts is None:
            if self._spill is None:
                return np.quantile(self.values(), qs).tolist()
            return self._selected_quantiles(qs)
        cumulative = np.cumsum(self._counts)
        gamma = math.exp(self._log_gamma)
        out = []
        for q in qs:
            rank = q * (self.count - 1)
            if rank < self._zeros:
                out.append(0.0)
                continue
            i = int(np.searchsorted(cumulative, rank - self._zeros, side="right"))
            i = min(i, len(cumulative) - 1)
            out.append(2.0 * gamma ** (i + self._offset) / (gamma + 1.0))
        return out

    def _selected_quantiles(self, qs: list[float]) -> list[float]:
        """np.quantile's answer over every exact value, found by reading them in blocks."""
        n = self._exact_count
        positions = [linear_position(n, q) for q in qs]
        ranks = {n - 1} | {r for lo, hi, _ in positions for r in (lo, hi)}
        value = order_statistics(self._blocks, n, ranks)
        if math.isnan(value[n - 1]):  # numpy's answer when any value is NaN
            return [math.nan] * len(qs)
        return [lerp(value[lo], value[hi], t) for lo, hi, t in positions]


def linear_position(n: int, q: float) -> tuple[int, int, float]:
    """The ranks (from 0) and weight np.quantile's linear method interpolates between for
    the q-quantile of n values, computed as numpy computes them."""
    virtual = (n - 1) * q
    if virtual >= n - 1:  # numpy takes the last value, with weight virtual + 1
        return n - 1, n - 1, virtual + 1.0
    lo = math.floor(virtual)
    return lo, lo + 1, virtual - lo


def lerp(a: float, b: float, t: float) -> float:
    """a + (b - a)·t as numpy's quantile computes it, bit for bit (from b when t >= 0.5)."""
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t
