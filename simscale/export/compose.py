"""The compose target: docker-compose.yml with one service per app instance behind nginx, and
Redis (one service per cache shard), plus the nginx.conf and redis.conf it mounts and the
redis.env that holds the Redis password.

Compose file syntax follows the Compose Specification (services, image, environment,
env_file, ports, volumes, depends_on with `condition: service_healthy`, healthcheck,
deploy.resources.limits). Each instance is its own service (app-1 … app-N) so that it gets
its own INSTANCE_ID and nginx can weight it. Redis listens on every address of its container
with protected mode on and a password (from redis.env, given on its command line, never in a
committed file); every app gets the shards' addresses (REDIS_NODES) and the password
(env_file). Services start in order: Redis healthy (an authenticated PING), then the apps
healthy (their health route), then nginx (TLS on 443 with the certificate from ./tls, which
the user provides; port 80 redirected; the management routes' token file mounted). With
Redis Cluster placement the shards are cluster nodes and a one-shot `cluster-create` service
runs cluster-create.sh once they are healthy; the apps wait for it to complete
(REDIS_CLUSTER=true).
"""

from __future__ import annotations

import posixpath
from typing import Any

from simscale.export import cluster, edge, nginx, redis
from simscale.export.base import Losses, ceil_seconds, number
from simscale.export.env import service_env
from simscale.export.limits import COMPOSE_TIME, INT64_MAX, at_most, proxy_time, whole
from simscale.export.plan import HEALTH_PATH, Plan
from simscale.export.yamlio import dump_yaml

# Docker keeps a CPU limit in billionths of a core and a memory limit in bytes, each int64.
MAX_CPUS = INT64_MAX / 1e9
MAX_MEMORY_MB = INT64_MAX >> 20
NGINX_IMAGE = "nginx:1.27"
REDIS_IMAGE = "redis:7"
REDIS_CONF_PATH = "/usr/local/etc/redis/redis.conf"
CLUSTER_SERVICE = "cluster-create"
# The Redis health check: PING with the password from the environment (redis-cli reads
# REDISCLI_AUTH, so the password is not on a command line).
REDIS_PROBE = 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping | grep -q PONG'
# A probe with the image's own Node.js (18+ has fetch), so no curl or wget is needed.
NODE_PROBE = (f"fetch('http://127.0.0.1:{{port}}{HEALTH_PATH}')"
              ".then(r => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))")


def app_services(plan: Plan) -> list[str]:
    return [f"app-{n}" for n in range(1, plan.replicas + 1)]


def redis_services(plan: Plan) -> list[str]:
    return redis.shard_names(plan)


def render(plan: Plan, losses: Losses) -> dict[str, str]:
    """{"docker-compose.yml", "nginx.conf", "redis.conf", "redis.env"}."""
    apps = app_services(plan)
    files = nginx.render(plan, losses, [f"{a}:{plan.port}" for a in apps])
    if cluster.is_cluster(plan):
        files.update(redis.render(plan, losses))
    elif plan.cache is not None:
        files["redis.conf"] = redis.redis_conf(plan, losses, bind=redis.ALL_ADDRESSES)
    files[redis.SECRET_FILE] = redis.secret_env()
    if plan.autoscaling_enabled:
        losses.lose("autoscaling",
                    f"Docker Compose runs a fixed set of containers: {plan.replicas} app "
                    f"services (the instances at t = 0); scaling between {plan.min_replicas} "
                    f"and {plan.max_replicas} is lost (export --target kubernetes)")
    files["docker-compose.yml"] = dump_yaml(compose_document(plan, losses, apps))
    return files


def _limits(plan: Plan) -> dict[str, str]:
    at_most(plan.cores, "instances.cores", MAX_CPUS, "Docker's CPU limit (cores)")
    at_most(plan.memory_limit_mb, "instances.memory_limit_mb", MAX_MEMORY_MB,
            "Docker's memory limit (MiB)")
    return {"cpus": number(plan.cores, "instances.cores"),
            "memory": f"{ceil_seconds(plan.memory_limit_mb)}M"}


def _healthcheck(plan: Plan, losses: Losses) -> dict:
    """The app's healthcheck: the spec's interval, timeout and threshold as Go durations of
    at least 1 ms (Docker's smallest); Docker's defaults without a spec health check."""
    out: dict[str, Any] = {"test": ["CMD", "node", "-e", NODE_PROBE.format(port=plan.port)]}
    check, where = plan.health_check, "resilience.health_check"
    if check is None:
        return out
    out.update({
        "interval": proxy_time(check.interval_s, f"{where}.interval_s", COMPOSE_TIME, losses),
        "timeout": proxy_time(check.timeout_s, f"{where}.timeout_s", COMPOSE_TIME, losses),
        "retries": whole(check.unhealthy_threshold, f"{where}.unhealthy_threshold", 1,
                         INT64_MAX, "Docker's healthcheck retries"),
    })
    return out


def _compose_shell(command: str) -> str:
    """A shell command inside docker-compose.yml: `$` doubled, so Compose leaves the variable
    for the container's shell instead of interpolating it from the host."""
    return command.replace("$", "$$")


def _nginx_volumes(plan: Plan) -> list[str]:
    """nginx.conf, the certificate folder (./tls, which the user fills) and the token file."""
    cert_dir = posixpath.dirname(plan.edge.tls_certificate)
    key_dir = posixpath.dirname(plan.edge.tls_certificate_key)
    volumes = ["./nginx.conf:/etc/nginx/nginx.conf:ro", f"./tls:{cert_dir}:ro"]
    if key_dir != cert_dir:
        volumes.append(f"./tls-key:{key_dir}:ro")
    if edge.guarded(plan):
        volumes.append(f"./{edge.NGINX_TOKENS_FILE}:{edge.NGINX_TOKENS}:ro")
    return volumes


def _healthy(names: list[str]) -> dict[str, dict[str, str]]:
    return {name: {"condition": "service_healthy"} for name in names}


def redis_service(plan: Plan) -> dict[str, Any]:
    """One Redis shard: redis.conf mounted, the password from redis.env on the command line
    (not in any committed file), a PING health check that authenticates."""
    conf = REDIS_CONF_PATH if plan.cache is not None else None
    service: dict[str, Any] = {
        "image": REDIS_IMAGE,
        "command": ["sh", "-c", _compose_shell("exec " + redis.start_command(conf))],
        "env_file": [redis.SECRET_FILE],
        "healthcheck": {"test": ["CMD-SHELL", _compose_shell(REDIS_PROBE)],
                        "interval": "5s", "timeout": "3s", "retries": 5},
        "restart": "unless-stopped",
    }
    if plan.cache is not None:
        service["volumes"] = [f"./redis.conf:{REDIS_CONF_PATH}:ro"]
    return service


def cache_env(plan: Plan) -> dict[str, str]:
    """Where an app finds its cache: REDIS_NODES (host:port of every shard, in shard order)
    and REDIS_CLUSTER; the password comes from redis.env (env_file)."""
    nodes = ",".join(f"{name}:{redis.REDIS_PORT}" for name in redis_services(plan))
    return {"REDIS_NODES": nodes,
            "REDIS_CLUSTER": "true" if cluster.is_cluster(plan) else "false"}


def cluster_service(plan: Plan) -> dict[str, Any]:
    """A one-shot service that creates the Redis Cluster once every node is healthy."""
    return {
        "image": REDIS_IMAGE,
        "command": ["sh", f"/{cluster.SCRIPT}"],
        "env_file": [redis.SECRET_FILE],
        "volumes": [f"./{cluster.SCRIPT}:/{cluster.SCRIPT}:ro"],
        "depends_on": _healthy(redis_services(plan)),
        "restart": "no",
    }


def compose_document(plan: Plan, losses: Losses, apps: list[str]) -> dict:
    redis_names = redis_services(plan)
    urls = [f"http://{a}:{plan.port}" for a in apps]
    shared = {**service_env(plan, losses, urls), **cache_env(plan)}
    services: dict[str, Any] = {
        "nginx": {
            "image": NGINX_IMAGE,
            "ports": ["80:80", "443:443"],
            "volumes": _nginx_volumes(plan),
            "depends_on": _healthy(apps),
            "restart": "unless-stopped",
        },
    }
    cache_ready = _healthy(redis_names)
    if cluster.is_cluster(plan):
        cache_ready = {CLUSTER_SERVICE: {"condition": "service_completed_successfully"}}
    for app, server in zip(apps, plan.server_names()):
        services[app] = {
            "image": plan.image,
            "env_file": [redis.SECRET_FILE],
            "environment": {**shared, "INSTANCE_ID": server, "PORT": str(plan.port)},
            "expose": [str(plan.port)],
            "depends_on": cache_ready,
            "healthcheck": _healthcheck(plan, losses),
            "restart": "unless-stopped",
            "deploy": {"resources": {"limits": _limits(plan)}},
        }
    for name in redis_names:
        services[name] = redis_service(plan)
    if cluster.is_cluster(plan):
        services[CLUSTER_SERVICE] = cluster_service(plan)
    return {"name": plan.name, "services": services}
