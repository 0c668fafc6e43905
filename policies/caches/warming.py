"""Cache warming: which keys to preload when the cache starts or a shard joins.

Pure functions: given popularity (observed counts, or keys in Zipf rank order), return the
K most popular keys, optionally only those a predicate keeps (e.g. the keys a new shard
owns on the hash ring). Preloading them means `put`-ting them in the returned order,
most popular first.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter

import numpy as np


@dataclass(frozen=True)
class WarmingConfig:
    """top_k: keys to preload (0: start cold).

    on_start: warm every shard when the run (or the service) starts.
    on_join: warm a shard that joins the ring with the top keys it now owns.
    """

    __pydantic_config__ = {"extra": "forbid"}
    top_k: int = 0
    on_start: bool = True
    on_join: bool = True

    def __post_init__(self) -> None:
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k!r}")


def top_k_by_count(counts: Mapping[Hashable, float], k: int,
                   keep: Callable[[Hashable], bool] | None = None) -> list:
    """The k keys with the highest counts, highest first; ties keep the mapping's order.

    keep: when given, only keys for which keep(key) is true are candidates.
    Raises ValueError if k < 0.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k!r}")
    items: Iterable = counts.items()
    if keep is not None:
        items = ((key, n) for key, n in items if keep(key))
    # nlargest is documented as sorted(..., reverse=True)[:k], a stable sort: ties keep order.
    return [key for key, _ in heapq.nlargest(k, items, key=itemgetter(1))]


def top_k_by_rank(keys_by_rank: Iterable[Hashable], k: int,
                  keep: Callable[[Hashable], bool] | None = None) -> list:
    """The first k keys of a most-popular-first ordering (a Zipf rank order).

    keep: when given, keys for which keep(key) is false are skipped.
    Raises ValueError if k < 0.
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k!r}")
    keys = keys_by_rank if keep is None else (key for key in keys_by_rank if keep(key))
    return list(islice(keys, k))


def zipf_popularity(n_keys: int, alpha: float) -> np.ndarray:
    """Request probability of each rank 1..n_keys under Zipf(alpha): p(r) ~ r**-alpha.

    Entry i is rank i + 1; the array sums to 1. Raises ValueError if n_keys < 1 or alpha < 0.
    """
    if n_keys < 1:
        raise ValueError(f"n_keys must be >= 1, got {n_keys!r}")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    weights = np.arange(1, n_keys + 1, dtype=float) ** -alpha
    return weights / weights.sum()


def warm_hit_ratio(popularity: np.ndarray, k: int) -> float:
    """The share of requests the k most popular keys serve (the hit ratio a warm, static
    top-k cache would have), given per-key probabilities in any order."""
    if k <= 0:
        return 0.0
    p = np.sort(np.asarray(popularity, dtype=float))[::-1]
    return float(p[:k].sum() / p.sum())
