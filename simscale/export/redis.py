"""The redis target: a redis.conf for one cache shard, with maxmemory and maxmemory-policy.

Redis's eviction policies (redis.io, "Key eviction"): allkeys-lru and allkeys-lfu evict any
key by approximated recency or frequency (sampling `maxmemory-samples` keys); there is no
FIFO, S3-FIFO or W-TinyLFU, so those map to the closest policy and the difference is a Loss.
maxmemory is per redis-server, so the file is for one shard and the spec's shard count is
the number of servers to run. The cache keeps nothing across restarts (save "", appendonly
no), as the simulator's shards do.

The password is never written into redis.conf: the export writes `redis.env`
(REDIS_PASSWORD=…, a fresh random secret, file mode 0600; an existing one in the output folder
is kept) and the server is started with `--requirepass "$REDIS_PASSWORD"` from that
environment. With a password set, protected mode (kept on) no longer refuses clients from
other hosts, and every client must AUTH first.
"""

from __future__ import annotations

import shlex

from simscale.errors import InputError
from simscale.export.base import Losses, new_secret, token
from simscale.export.env import dotenv
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
PASSWORD_VAR = "REDIS_PASSWORD"
SECRET_FILE = "redis.env"
# Listen on every IPv4 and IPv6 address; '-' keeps going when IPv6 is missing (redis.conf).
ALL_ADDRESSES = "* -::*"


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


def redis_conf(plan: Plan, losses: Losses, bind: str = "127.0.0.1 -::1",
               extra: tuple[str, ...] = ()) -> str:
    """The redis.conf of one shard. `bind`: the addresses to listen on; `extra`: more lines
    (the cluster settings of a Redis Cluster node)."""
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
        f"# Start it with the password from {SECRET_FILE} (never written here):",
        f"#   set -a; . ./{SECRET_FILE}; set +a; {start_command('redis.conf')}",
        f"bind {' '.join(b if b in ('*', '-::*') else token(b, 'bind') for b in bind.split())}",
        f"port {REDIS_PORT}",
        "protected-mode yes",
        f"maxmemory {memory}",
        f"maxmemory-policy {policy}",
        f"maxmemory-samples {SAMPLES}",
        'save ""',
        "appendonly no",
        *extra,
        "",
    ]
    return "\n".join(lines)


def start_command(conf_path: str | None) -> str:
    """The shell command that starts redis-server with `conf_path` (None: no file, no
    persistence) and the password from the environment (REDIS_PASSWORD)."""
    source = shlex.quote(conf_path) if conf_path is not None else "--save '' --appendonly no"
    return (f'redis-server {source} --requirepass "${PASSWORD_VAR}" '
            f'--masterauth "${PASSWORD_VAR}"')


def secret_env() -> str:
    """The text of redis.env: a fresh random password (256 bits, hex)."""
    return dotenv({PASSWORD_VAR: new_secret()},
                  "The Redis password (exported by simscale). Keep this file out of version "
                  "control.")


def shard_names(plan: Plan) -> list[str]:
    """The shards' host names (compose services, Kubernetes pods in order): redis-1 … N, or
    redis for a single shard."""
    shards = plan.cache.shards if plan.cache is not None else 1
    return ["redis"] if shards == 1 else [f"redis-{n}" for n in range(1, shards + 1)]


def render(plan: Plan, losses: Losses) -> dict[str, str]:
    """{"redis.conf", "redis.env"}, and "cluster-create.sh" for a Redis Cluster."""
    from simscale.export import cluster

    if not cluster.is_cluster(plan):
        return {"redis.conf": redis_conf(plan, losses), SECRET_FILE: secret_env()}
    conf = redis_conf(plan, losses, bind=ALL_ADDRESSES, extra=cluster.node_lines(plan))
    nodes = [f"{name}:{REDIS_PORT}" for name in shard_names(plan)]
    return {"redis.conf": conf, cluster.SCRIPT: cluster.create_script(nodes),
            SECRET_FILE: secret_env()}


def expected_settings(text: str) -> dict[str, str]:
    """The maxmemory settings a redis.conf sets, as CONFIG GET reports them."""
    wanted = {"maxmemory", "maxmemory-policy", "maxmemory-samples"}
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in wanted:
            found[parts[0]] = parts[1]
    return found
