"""The cache component: its rooms built from the [cache] and [database] sections and plugged
into the run as its data stage (hooks.datastore), a metric source, a summary and, with the
LLM response cache, an end hook (a response is filled when its request ends ok)."""

from __future__ import annotations

from simscale.model.cache.shards import Shards
from simscale.model.cache.stage import Datastore
from simscale.model.cache.stats import CacheStats
from simscale.model.cache.warming import Warming
from simscale.model.database import Database
from simscale.model.faults import ShardFaults
from simscale.model.seam import Cluster, Hooks
from simscale.workload.population import KeyPopulation


def attach(cluster: Cluster, hooks: Hooks, section, database, seed: int) -> Datastore | None:
    """Build the cache and database from their spec sections as the run's data stage
    (None when the cache is off). Requests reach it through their stage chain
    (simscale.model.stages)."""
    if not section.enabled:
        return None
    db = Database(cluster.env, database, seed, cluster.timers)
    stats = CacheStats(db)
    # only TTL-only invalidation can serve stale values in this model, so runs check only
    # under it (tests set Datastore.verify_stale to check every hit)
    stale_check = section.invalidation == "ttl_only" or Datastore.verify_stale
    population = KeyPopulation(section.keys, section.llm_response_cache, seed)
    shards = Shards(cluster, section, seed, population, stats, stale_check)
    warming = Warming(cluster, section.warming, population, shards, stats)
    if warming.on_join:
        shards.on_join = warming.warm
    datastore = Datastore(cluster, section, db, shards, population, stats, stale_check,
                          warming.counts)
    if warming.on_start:
        warming.warm_all(0.0)
    ShardFaults(cluster, section.faults, shards).start()
    hooks.datastore = datastore
    hooks.metrics.append(datastore)
    hooks.metrics.append(db)
    hooks.summary.append(datastore.summary)
    if section.llm_response_cache.enabled:
        hooks.end.append(datastore.on_end)
    return datastore
