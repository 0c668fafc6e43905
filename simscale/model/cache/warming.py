"""Cache warming: preload the most popular keys at start and when a shard joins.

Out of band (from a snapshot, not through the database pool). With keys drawn by the key
population (keys.source = "zipf") the most popular keys are known by rank
(policies.caches.top_k_by_rank over simscale.workload.population's ranking); with keys from
the workload, by the reads counted so far (policies.caches.top_k_by_count), so only a
joining shard can be warmed. A shard gets the top-K keys it owns, least popular first, so
that recency- and insertion-ordered policies keep the most popular when K exceeds the room.
"""

from __future__ import annotations

from collections import Counter

from policies.caches import top_k_by_count, top_k_by_rank
from simscale.model.cache.shards import TYPE_INDEX, Shard, Shards
from simscale.model.cache.stats import CacheStats
from simscale.model.seam import Cluster
from simscale.workload.population import KeyPopulation


class Warming:
    """The warming of one run's shards; `spec` is the cache section's warming."""

    def __init__(self, cluster: Cluster, spec, population: KeyPopulation, shards: Shards,
                 stats: CacheStats) -> None:
        self.cluster = cluster
        self.top_k = spec.top_k
        self.types = spec.types
        self.on_start = bool(spec.top_k and spec.on_start)
        self.on_join = bool(spec.top_k and spec.on_join)
        self.population = population
        self.shards = shards
        self.stats = stats
        # reads counted by key, to warm a joining shard with keys from the workload
        self.counts: Counter | None = (Counter() if population.from_workload and self.on_join
                                       else None)

    def warm_all(self, now: float) -> None:
        """Preload every shard with the top-K keys it owns, in one pass over the keys by
        popularity (the same keys `warm` would pick shard by shard)."""
        k = self.top_k
        shards = self.shards.shards
        if self.population.from_workload:
            for shard in shards:
                self.warm(shard, now)
            return
        chosen: dict[str, list[str]] = {shard.name: [] for shard in shards}
        open_shards = len(chosen)
        shard_for = self.shards.shard_map.shard_for
        for key in self.population.keys_by_rank(self.types):
            keys = chosen[shard_for(key)]
            if len(keys) < k:
                keys.append(key)
                if len(keys) == k:
                    open_shards -= 1
                    if not open_shards:
                        break
        for shard in shards:
            self._preload(shard, chosen[shard.name], now)

    def warm(self, shard: Shard, now: float) -> None:
        """Preload the top-K keys `shard` owns, least popular first."""
        k = self.top_k

        def owns(key: str) -> bool:
            return self.shards.shard_of(key) is shard

        if self.population.from_workload:
            keys = top_k_by_count(self.counts, k, keep=owns) if self.counts else []
        else:
            keys = top_k_by_rank(self.population.keys_by_rank(self.types), k, keep=owns)
        self._preload(shard, keys, now)

    def _preload(self, shard: Shard, keys: list[str], now: float) -> None:
        for key in reversed(keys):
            self.shards.fill(key, TYPE_INDEX[key.partition(":")[0]], now, shard)
        self.stats.warmed += len(keys)
        self.cluster.event("cache", shard.name, f"Warmed:{len(keys)}")
