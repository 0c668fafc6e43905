"""The compose target: docker-compose.yml with one service per app instance behind nginx, and
Redis (one service per cache shard), plus the nginx.conf and redis.conf it mounts.

Compose file syntax follows the Compose Specification (services, image, environment, ports,
volumes, depends_on, healthcheck, deploy.resources.limits). Each instance is its own service
(app-1 … app-N) so that it gets its own INSTANCE_ID and nginx can weight it.
"""

from __future__ import annotations

from typing import Any

from simscale.export import nginx, redis
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
# A probe with the image's own Node.js (18+ has fetch), so no curl or wget is needed.
NODE_PROBE = (f"fetch('http://127.0.0.1:{{port}}{HEALTH_PATH}')"
              ".then(r => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))")


def app_services(plan: Plan) -> list[str]:
    return [f"app-{n}" for n in range(1, plan.replicas + 1)]


def redis_services(plan: Plan) -> list[str]:
    shards = plan.cache.shards if plan.cache is not None else 1
    return ["redis"] if shards == 1 else [f"redis-{n}" for n in range(1, shards + 1)]


def render(plan: Plan, losses: Losses) -> dict[str, str]:
    """{"docker-compose.yml", "nginx.conf", and "redis.conf" when the spec has a cache}."""
    apps = app_services(plan)
    files = {"nginx.conf": nginx.nginx_conf(plan, losses, [f"{a}:{plan.port}" for a in apps])}
    if plan.cache is not None:
        files["redis.conf"] = redis.redis_conf(plan, losses, bind="0.0.0.0")
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
    """The app's healthcheck: Go durations of at least 1 ms (Docker's smallest)."""
    check, where = plan.health_check, "resilience.health_check"
    return {
        "test": ["CMD", "node", "-e", NODE_PROBE.format(port=plan.port)],
        "interval": proxy_time(check.interval_s, f"{where}.interval_s", COMPOSE_TIME, losses),
        "timeout": proxy_time(check.timeout_s, f"{where}.timeout_s", COMPOSE_TIME, losses),
        "retries": whole(check.unhealthy_threshold, f"{where}.unhealthy_threshold", 1,
                         INT64_MAX, "Docker's healthcheck retries"),
    }


def compose_document(plan: Plan, losses: Losses, apps: list[str]) -> dict:
    redis_names = redis_services(plan)
    urls = [f"http://{a}:{plan.port}" for a in apps]
    shared = service_env(plan, losses, urls)
    services: dict[str, Any] = {
        "nginx": {
            "image": NGINX_IMAGE,
            "ports": ["80:80"],
            "volumes": ["./nginx.conf:/etc/nginx/nginx.conf:ro"],
            "depends_on": list(apps),
            "restart": "unless-stopped",
        },
    }
    for app, server in zip(apps, plan.server_names()):
        service: dict[str, Any] = {
            "image": plan.image,
            "environment": {**shared, "INSTANCE_ID": server, "PORT": str(plan.port)},
            "expose": [str(plan.port)],
            "depends_on": list(redis_names),
            "restart": "unless-stopped",
            "deploy": {"resources": {"limits": _limits(plan)}},
        }
        if plan.health_check is not None:
            service["healthcheck"] = _healthcheck(plan, losses)
        services[app] = service
    for name in redis_names:
        if plan.cache is not None:
            services[name] = {
                "image": REDIS_IMAGE,
                "command": ["redis-server", REDIS_CONF_PATH],
                "volumes": [f"./redis.conf:{REDIS_CONF_PATH}:ro"],
                "restart": "unless-stopped",
            }
        else:
            services[name] = {
                "image": REDIS_IMAGE,
                "command": ["redis-server", "--save", "", "--appendonly", "no"],
                "restart": "unless-stopped",
            }
    return {"name": plan.name, "services": services}
