"""Kubernetes with its cache: Redis StatefulSets and headless Services, a Secret, probes,
resources from the spec, PodDisruptionBudgets, the app wired to them, every name present."""

from __future__ import annotations

import copy
import os
import stat

import pytest

from simscale.export.references import check_references
from simscale.export.targets import write_export
from simscale.export.yamlio import load_yaml_documents
from tests.export.helpers import export, export_and_validate, make_spec, ran

CACHE = {"shards": 2, "capacity_items": "none", "capacity_bytes": 3 << 28,
         "eviction": {"policy": "lfu"}}
CLUSTER = {**CACHE, "shards": 3, "placement": "redis_cluster"}


def _docs(files: dict[str, str]) -> list[dict]:
    return [d for name, text in files.items() for d in load_yaml_documents(text, name)]


def _kinds(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _app(docs) -> dict:
    [deployment] = _kinds(docs, "Deployment").values()
    return deployment["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("cache", [CACHE, CLUSTER], ids=["ring", "cluster"])
def test_the_cache_is_exported_and_every_object_validates(cache, tmp_path):
    # Before: Deployment, Service and HPA only; the [cache] was silently lost.
    pytest.importorskip("kubernetes_validate")
    exported, results = export_and_validate(make_spec(cache=cache), "kubernetes", tmp_path)
    assert ran(results, "kubernetes-validate")
    kinds = {d["kind"] for d in _docs(exported.files)}
    assert {"StatefulSet", "Service", "Secret", "ConfigMap", "PodDisruptionBudget"} <= kinds
    assert ("Job" in kinds) == (cache is CLUSTER)
    assert stat.S_IMODE(os.stat(tmp_path / "redis-secret.yaml").st_mode) == 0o600


def test_one_statefulset_and_headless_service_per_shard_with_probes_and_resources():
    docs = _docs(export(make_spec(cache=CACHE), "kubernetes").files)
    sets = _kinds(docs, "StatefulSet")
    assert sorted(sets) == ["chat-redis-1", "chat-redis-2"]
    services = _kinds(docs, "Service")
    for name, sts in sets.items():
        assert sts["spec"]["replicas"] == 1
        assert services[name]["spec"]["clusterIP"] == "None"
        redis = sts["spec"]["template"]["spec"]["containers"][0]
        assert {"readinessProbe", "livenessProbe"} <= set(redis)
        # maxmemory 768 MiB is 75 % of the container: 1024 Mi
        assert redis["resources"] == {"requests": {"cpu": "1", "memory": "1024Mi"},
                                      "limits": {"memory": "1024Mi"}}
        assert '--requirepass "$REDIS_PASSWORD"' in redis["command"][-1]
    app = _app(docs)
    # the spec's cores and memory are both request and limit
    assert app["resources"] == {"requests": {"cpu": "2", "memory": "2048Mi"},
                                "limits": {"cpu": "2", "memory": "2048Mi"}}
    env = {e["name"]: e for e in app["env"]}
    assert env["REDIS_NODES"]["value"] == ("chat-redis-1-0.chat-redis-1:6379,"
                                           "chat-redis-2-0.chat-redis-2:6379")
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "chat-redis",
                                                                  "key": "REDIS_PASSWORD"}
    assert sorted(_kinds(docs, "PodDisruptionBudget")) == ["chat", "chat-redis"]


def test_a_cluster_is_one_statefulset_and_a_create_job_over_its_pods():
    docs = _docs(export(make_spec(cache=CLUSTER), "kubernetes").files)
    [sts] = _kinds(docs, "StatefulSet").values()
    assert sts["spec"]["replicas"] == 3
    [job] = _kinds(docs, "Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][2:] == [
        f"chat-redis-{i}.chat-redis:6379" for i in range(3)]
    assert "cluster-enabled yes" in _kinds(docs, "ConfigMap")["chat-redis"]["data"]["redis.conf"]
    assert {e["name"]: e.get("value") for e in _app(docs)["env"]}["REDIS_CLUSTER"] == "true"


def test_no_password_is_written_outside_the_secret(tmp_path):
    exported = export(make_spec(cache=CACHE), "kubernetes")
    [secret] = _kinds(_docs({"s": exported.files["redis-secret.yaml"]}), "Secret").values()
    password = secret["stringData"]["REDIS_PASSWORD"]
    assert len(password) == 64 and exported.secrets == ("redis-secret.yaml",)
    assert not any(password in text for name, text in exported.files.items()
                   if name != "redis-secret.yaml")
    write_export(exported, tmp_path)
    write_export(export(make_spec(cache=CACHE), "kubernetes"), tmp_path)
    assert password in (tmp_path / "redis-secret.yaml").read_text()   # kept


@pytest.mark.parametrize(("break_it", "message"), [
    (lambda d: _kinds(d, "Secret")["chat-redis"]["metadata"].update(name="other"),
     "no Secret 'chat-redis' with key 'REDIS_PASSWORD'"),
    (lambda d: _kinds(d, "ConfigMap")["chat-redis"]["metadata"].update(name="other"),
     "no ConfigMap 'chat-redis'"),
    (lambda d: _kinds(d, "Service")["chat-redis-2"]["spec"].update(clusterIP="10.0.0.1"),
     "serviceName 'chat-redis-2' is no headless Service"),
    (lambda d: _kinds(d, "PodDisruptionBudget")["chat-redis"]["spec"]["selector"]
     ["matchLabels"].update(app="nothing"), "matches no pods"),
    (lambda d: _kinds(d, "StatefulSet")["chat-redis-2"]["metadata"].update(name="x"),
     "'chat-redis-2-0.chat-redis-2:6379' is no StatefulSet pod"),
    (lambda d: _app(d).setdefault("volumeMounts", []).append({"name": "gone", "mountPath": "/x"}),
     "volumeMount 'gone': no such volume"),
])
def test_every_referenced_name_must_exist(break_it, message):
    docs = _docs(export(make_spec(cache=CACHE), "kubernetes").files)
    assert check_references(docs) == []
    broken = copy.deepcopy(docs)
    break_it(broken)
    assert any(message in p for p in check_references(broken)), check_references(broken)
