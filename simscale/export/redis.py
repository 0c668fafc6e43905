"""The redis target: a redis.conf for one cache shard, with maxmemory and maxmemory-policy.

Redis's eviction policies (redis.io, "Key eviction"): allkeys-lru and allkeys-lfu evict any
key by approximated recency or frequency (sampling `maxmemory-samples` keys); there is no
FIFO, S3-FIFO or W-TinyLFU, so those map to the closest policy and the difference is a Loss.
maxmemory is per redis-server, so the file is for one shard and the spec's shard count is
the number of servers to run. The cache keeps nothing across restarts (save "", appendonly
no), as the simulator's shards do.
"""

from __future__ import annotations

from simscale.errors import InputError
from simscale.export.base import Losses, token
from simscale.export.limits import UINT64_MAX, at_most
from simscale.export.plan import CachePlan, Plan

# simscale eviction policy → (Redis maxmemory-policy, what is lost or None).
EVICTION = {
    "lru": ("allkeys-lru", None),
    "lfu": ("allkeys-lfu", None),
    "fifo": ("allkeys-lru", "Redis has no FIFO eviction; allkeys-lru evicts by recency, so "
                            "keys that are read stay longer than under FIFO"),
    "s3fifo": ("allkeys-lfu", "Redis has no S3-FIFO; allkeys-lfu (decaying access counts) is "
                              "the closest scan-resistant policy; the small/main/ghost queues "
                              "are lost"),
    "wtinylfu": ("allkeys-lfu", "Redis has no W-TinyLFU; allkeys-lfu keeps frequent keys but "
                                "has no admission window or sketch filter"),
}
SAMPLES = 10   # redis.conf suggests 10 to approximate true LRU/LFU closely
REDIS_PORT = 6379


def maxmemory_bytes(cache: CachePlan, losses: Losses) -> int:
    """The room of one shard in bytes: capacity_bytes, else items × mean item size (a Loss)."""
    what = "Redis's maxmemory (unsigned 64-bit bytes; larger values are silently capped)"
    if cache.capacity_bytes is not None:
        return int(at_most(cache.capacity_bytes, "cache.capacity_bytes", UINT64_MAX, what))
    sizes = list(cache.size_bytes_by_type.values()) or [1024]
    mean = sum(sizes) / len(sizes)
    total = int(round(at_most(cache.capacity_items * mean, "cache.capacity_items", UINT64_MAX,
                              what + " / the mean item size")))
    losses.lose("cache.capacity_items",
                f"Redis limits memory, not items: maxmemory = {cache.capacity_items} items × "
                f"{mean:g} B (mean of size_bytes_by_type) = {total} B; Redis also counts its "
                "own per-key overhead")
    return total


def redis_policy(cache: CachePlan, losses: Losses) -> str:
    policy, lost = EVICTION.get(cache.policy, ("allkeys-lru", "no Redis equivalent"))
    if lost is not None:
        losses.lose("cache.eviction.policy", f"{cache.policy}: {lost}")
    return policy


def redis_conf(plan: Plan, losses: Losses, bind: str = "127.0.0.1 -::1") -> str:
    """The redis.conf of one shard. `bind`: the addresses to listen on."""
    cache = plan.cache
    if cache is None:
        raise InputError("cache: the spec configures no cache (a [cache] table); the redis "
                         "target exports the cache's memory and eviction policy")
    memory = maxmemory_bytes(cache, losses)
    policy = redis_policy(cache, losses)
    lines = [
        f"# Redis configuration for one cache shard of {token(plan.name, 'name')}, exported by "
        "simscale.",
        f"# The spec has {cache.shards} shard(s): run one redis-server per shard with this file.",
        f"bind {' '.join(token(b, 'bind') for b in bind.split())}",
        f"port {REDIS_PORT}",
        "protected-mode yes",
        f"maxmemory {memory}",
        f"maxmemory-policy {policy}",
        f"maxmemory-samples {SAMPLES}",
        'save ""',
        "appendonly no",
        "",
    ]
    return "\n".join(lines)


def render(plan: Plan, losses: Losses) -> dict[str, str]:
    return {"redis.conf": redis_conf(plan, losses)}


def expected_settings(text: str) -> dict[str, str]:
    """The maxmemory settings a redis.conf sets, as CONFIG GET reports them."""
    wanted = {"maxmemory", "maxmemory-policy", "maxmemory-samples"}
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in wanted:
            found[parts[0]] = parts[1]
    return found
