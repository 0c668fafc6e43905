"""Drawing from the workload's distributions: token counts, and one value at a time in chunks.

`token_counts` draws a lognormal of a given mean and cv as whole token counts;
`sample_tokens` draws the counts of a kind's `prompt_tokens` / `output_tokens` spec (a
TokenCounts or any distribution); `ChunkedSampler` hands out one value at a time from a
distribution drawn a chunk at a time (one numpy call per chunk, so a per-event draw costs
a list index).
"""

from __future__ import annotations

import math

import numpy as np

from simscale.limits import MAX_TOKENS
from simscale.sections.workload import TokenCounts

SAMPLER_CHUNK = 4096


def token_counts(
    rng: np.random.Generator, n: int, mean_tokens: float, cv: float, max_tokens: int | None = None
) -> np.ndarray:
    """`n` token counts (int64, 1 to max_tokens and to simscale.limits.MAX_TOKENS): a
    lognormal of the given mean and cv, rounded. Drawn in single precision, which is ample
    for counts and twice as fast."""
    sigma2 = math.log1p(cv**2)
    x = rng.standard_normal(n, dtype=np.float32)
    x *= math.sqrt(sigma2)
    x += math.log(mean_tokens) - sigma2 / 2
    np.exp(x, out=x)
    x += 0.5
    top = min(max_tokens, MAX_TOKENS) if max_tokens is not None else MAX_TOKENS
    np.clip(x, 1, top, out=x)
    return np.minimum(x.astype(np.int64), top)


def sample_tokens(spec, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` token counts (int64, 0 to MAX_TOKENS) from a TokenCounts or a distribution
    (rounded; a heavy tail is clipped at MAX_TOKENS)."""
    if isinstance(spec, TokenCounts):
        counts = token_counts(rng, n, spec.mean, spec.cv, spec.max)
        return np.minimum(counts, MAX_TOKENS, out=counts)
    values = np.nan_to_num(np.rint(spec.sample(rng, n)), nan=0.0)
    return np.clip(values, 0, MAX_TOKENS).astype(np.int64)


class ChunkedSampler:
    """One value at a time from a spec distribution, drawn SAMPLER_CHUNK at a time."""

    __slots__ = ("dist", "rng", "_values", "_pos")

    def __init__(self, dist, rng: np.random.Generator) -> None:
        self.dist = dist
        self.rng = rng
        self._values: list[float] = []
        self._pos = 0

    def draw(self) -> float:
        pos = self._pos
        values = self._values
        if pos >= len(values):
            values = self._values = self.dist.sample(self.rng, SAMPLER_CHUNK).tolist()
            pos = 0
        self._pos = pos + 1
        return values[pos]
