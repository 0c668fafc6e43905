"""Percentiles of a stream of non-negative values in bounded memory.

A `Digest` keeps values exactly while there are few of them (quantiles as numpy computes them,
linear interpolation) and, past `exact_limit`, moves them into a log-bucketed histogram: the
bucket of x > 0 is ceil(log_γ x) with γ = (1 + α)/(1 − α), whose representative value
2γ^i/(γ + 1) is within a relative error α of every value in it (Masson, Rim and Lee,
"DDSketch: a fast and fully-mergeable quantile sketch with relative-error guarantees",
VLDB 2019). Memory is then O(log(max/min)/α) however long the run.
"""

from __future__ import annotations

import math

import numpy as np


class Digest:
    """Count, mean and quantiles of the values added; exact up to `exact_limit` values."""

    def __init__(self, exact_limit: int = 5_000_000, relative_error: float = 0.005) -> None:
        if not 0 < relative_error < 1:
            raise ValueError("relative_error must be in (0, 1)")
        self.exact_limit = exact_limit
        self.alpha = relative_error
        self._log_gamma = math.log((1 + relative_error) / (1 - relative_error))
        self._chunks: list[np.ndarray] = []
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
            self._exact_count += len(values)
            if self._exact_count > self.exact_limit:
                everything = np.concatenate(self._chunks)
                self._chunks = []
                self._counts = np.zeros(0, np.int64)
                self._bucket(everything)
            return
        self._bucket(values)

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
        return self.total / self.count if self.count else None

    def values(self) -> np.ndarray:
        """Every value, while the digest is exact."""
        if self._counts is not None:
            raise ValueError("the digest is no longer exact")
        return np.concatenate(self._chunks) if self._chunks else np.empty(0)

    def quantiles(self, qs: list[float]) -> list[float] | None:
        """The q-quantiles (None when empty): exact, or within the relative error."""
        if not self.count:
            return None
        if self._counts is None:
            return np.quantile(self.values(), qs).tolist()
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
