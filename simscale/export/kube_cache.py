"""The cache on Kubernetes: Redis StatefulSets with headless Services, a Secret, probes, a
PodDisruptionBudget, and the environment that wires the app's pods to them.

Field names follow the Kubernetes API reference (apps/v1 StatefulSet, v1 Service with
`clusterIP: None`, v1 ConfigMap and Secret, policy/v1 PodDisruptionBudget, batch/v1 Job).
With the ring placement each shard is a StatefulSet of one pod behind its own headless
Service (`NAME-redis-N-0.NAME-redis-N`), so a shard keeps its name — and its place on the
app's ring — across restarts. With Redis Cluster placement the shards are the pods of one
StatefulSet (`NAME-redis-i.NAME-redis`), and a Job runs cluster-create.sh once they are
ready. The password lives in a Secret (`redis-secret.yaml`, written 0600 and kept across
exports), read by the Redis pods, the Job and the app through `secretKeyRef`.

Memory: the container gets maxmemory / 0.75, leaving a quarter for Redis's own overhead
(buffers, fragmentation) as ElastiCache's default reserved-memory-percent of 25 does; Redis
runs commands on one thread, so each pod requests one CPU core.
"""

from __future__ import annotations

import math
from typing import Any

from simscale.export import cluster, redis
from simscale.export.base import Losses, new_secret
from simscale.export.yamlio import dump_yaml

REDIS_IMAGE = "redis:7"
CONF_DIR = "/etc/redis"
RESERVED_FRAC = 0.25
MI = 1 << 20


def names(app: str, plan) -> dict[str, Any]:
    """The objects' names: config, secret, the StatefulSets with their Services, the pods'
    host names (in shard order) and the PDB."""
    base = f"{app}-redis"
    shards = plan.cache.shards
    if cluster.is_cluster(plan):
        sets = [base]
        hosts = [f"{base}-{i}.{base}" for i in range(shards)]
    else:
        sets = [f"{base}-{n}" for n in range(1, shards + 1)]
        hosts = [f"{s}-0.{s}" for s in sets]
    return {"config": base, "secret": base, "sets": sets, "hosts": hosts, "pdb": base,
            "job": f"{base}-cluster-create"}


def _labels(app: str, shard: str | None = None) -> dict[str, str]:
    labels = {"app": f"{app}-redis", "part-of": app}
    if shard is not None:
        labels["shard"] = shard
    return labels


def _password_env(secret: str) -> dict:
    return {"name": redis.PASSWORD_VAR, "valueFrom": {"secretKeyRef": {
        "name": secret, "key": redis.PASSWORD_VAR}}}


def memory_mi(plan, losses: Losses) -> int:
    """The Redis container's memory (request = limit), in Mi."""
    maxmemory = redis.maxmemory_bytes(plan.cache, losses)
    return max(1, math.ceil(maxmemory / (1 - RESERVED_FRAC) / MI))


def _probe(initial_s: int) -> dict:
    return {"exec": {"command": ["sh", "-c", "REDISCLI_AUTH=\"$REDIS_PASSWORD\" redis-cli ping"
                                 " | grep -q PONG"]},
            "initialDelaySeconds": initial_s, "periodSeconds": 5, "timeoutSeconds": 3,
            "failureThreshold": 3}


def statefulset(app: str, name: str, replicas: int, plan, losses: Losses, shard: str | None,
                secret: str, config: str) -> dict:
    memory = f"{memory_mi(plan, losses)}Mi"
    container = {
        "name": "redis",
        "image": REDIS_IMAGE,
        "command": ["sh", "-c", "exec " + redis.start_command(f"{CONF_DIR}/redis.conf")],
        "env": [_password_env(secret)],
        "ports": [{"name": "redis", "containerPort": redis.REDIS_PORT}],
        "readinessProbe": _probe(2),
        "livenessProbe": _probe(15),
        "resources": {"requests": {"cpu": "1", "memory": memory},
                      "limits": {"memory": memory}},
        "volumeMounts": [{"name": "config", "mountPath": CONF_DIR, "readOnly": True},
                         {"name": "data", "mountPath": "/data"}],
    }
    if cluster.is_cluster(plan):
        container["ports"].append({"name": "cluster-bus",
                                   "containerPort": redis.REDIS_PORT + 10000})
    labels = _labels(app, shard)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "containers": [container],
                "volumes": [{"name": "config", "configMap": {"name": config}},
                            {"name": "data", "emptyDir": {}}]}},
        },
    }


def headless_service(name: str, labels: dict[str, str], plan) -> dict:
    ports = [{"name": "redis", "port": redis.REDIS_PORT, "targetPort": "redis"}]
    if cluster.is_cluster(plan):
        ports.append({"name": "cluster-bus", "port": redis.REDIS_PORT + 10000,
                      "targetPort": "cluster-bus"})
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "labels": labels},
            "spec": {"clusterIP": "None", "selector": labels, "ports": ports}}


def create_job(app: str, plan, n: dict) -> dict:
    """The Job that creates the Redis Cluster from the pods (retried until they are up)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": n["job"], "labels": {"app": f"{app}-redis", "part-of": app}},
        "spec": {"backoffLimit": 20, "template": {"spec": {
            "restartPolicy": "OnFailure",
            "containers": [{
                "name": "create",
                "image": REDIS_IMAGE,
                "command": ["sh", f"{CONF_DIR}/{cluster.SCRIPT}",
                            *(f"{h}:{redis.REDIS_PORT}" for h in n["hosts"])],
                "env": [_password_env(n["secret"])],
                "volumeMounts": [{"name": "config", "mountPath": CONF_DIR, "readOnly": True}],
            }],
            "volumes": [{"name": "config", "configMap": {"name": n["config"]}}]}}},
    }


def cache_objects(app: str, plan, losses: Losses) -> list[dict]:
    """ConfigMap, then per StatefulSet its headless Service and itself, the PDB, the Job."""
    n = names(app, plan)
    conf = redis.redis_conf(plan, losses, bind=redis.ALL_ADDRESSES,
                            extra=cluster.node_lines(plan) if cluster.is_cluster(plan) else ())
    data = {"redis.conf": conf}
    if cluster.is_cluster(plan):
        data[cluster.SCRIPT] = cluster.create_script(
            [f"{h}:{redis.REDIS_PORT}" for h in n["hosts"]])
        losses.lose("cache.placement",
                    "a Redis Cluster pod keeps nodes.conf on an emptyDir: a restarted pod "
                    "rejoins as a new, empty master and its slots must be reassigned "
                    "(redis-cli --cluster fix), as the simulator's shard loss does")
    objects: list[dict] = [{"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": n["config"], "labels": _labels(app)},
                            "data": data}]
    for i, name in enumerate(n["sets"]):
        shard = None if cluster.is_cluster(plan) else str(i + 1)
        replicas = plan.cache.shards if cluster.is_cluster(plan) else 1
        objects.append(headless_service(name, _labels(app, shard), plan))
        objects.append(statefulset(app, name, replicas, plan, losses, shard, n["secret"],
                                   n["config"]))
    objects.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                    "metadata": {"name": n["pdb"], "labels": _labels(app)},
                    "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _labels(app)}}})
    if cluster.is_cluster(plan):
        objects.append(create_job(app, plan, n))
    return objects


def secret(app: str, plan) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": names(app, plan)["secret"], "labels": _labels(app)},
            "stringData": {redis.PASSWORD_VAR: new_secret()}}


def app_env(app: str, plan) -> list[dict]:
    """The app container's cache variables: the shards' addresses, the mode, the password."""
    n = names(app, plan)
    nodes = ",".join(f"{h}:{redis.REDIS_PORT}" for h in n["hosts"])
    return [{"name": "REDIS_NODES", "value": nodes},
            {"name": "REDIS_CLUSTER", "value": "true" if cluster.is_cluster(plan) else "false"},
            _password_env(n["secret"])]


def render(app: str, plan, losses: Losses) -> dict[str, str]:
    """{"redis.yaml", "redis-secret.yaml"} (none without a cache)."""
    if plan.cache is None:
        return {}
    docs = cache_objects(app, plan, losses)
    return {"redis.yaml": "---\n".join(dump_yaml(d) for d in docs),
            "redis-secret.yaml": dump_yaml(secret(app, plan))}
