"""Redis Cluster export: nodes with cluster-enabled, a create script, and the real cluster
placing keys on the slots and masters the simulator predicted."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from policies.caches import SlotMap
from simscale.errors import InputError
from simscale.export import cluster
from simscale.export.targets import write_export
from simscale.export.validate import FAILED, OK, SKIPPED, validate_files
from simscale.export.yamlio import load_yaml_documents
from tests.export.helpers import export, make_spec, needs_redis

CLUSTER = {"shards": 3, "placement": "redis_cluster", "capacity_items": "none",
           "capacity_bytes": 1 << 24}


def _ok_or_skip(result):
    if result.status == SKIPPED:
        pytest.skip(result.detail)
    assert result.status == OK, result.detail
    return result


def test_nodes_are_cluster_enabled_and_the_script_creates_the_cluster():
    files = export(make_spec(cache=CLUSTER), "redis").files
    assert sorted(files) == ["cluster-create.sh", "redis.conf", "redis.env"]
    conf = files["redis.conf"]
    assert "cluster-enabled yes\n" in conf and "cluster-config-file nodes.conf\n" in conf
    assert "bind * -::*\n" in conf and "requirepass" not in conf.replace("--requirepass", "")
    script = files["cluster-create.sh"]
    assert "redis-cli --cluster create $addresses --cluster-replicas 0" in script
    assert "set -- redis-1:6379 redis-2:6379 redis-3:6379" in script
    assert subprocess.run(["sh", "-n"], input=script, text=True).returncode == 0


def test_fewer_than_three_masters_are_refused_naming_the_field():
    with pytest.raises(InputError, match=r"cache\.shards: 2: a Redis Cluster needs at least 3"):
        export(make_spec(cache={**CLUSTER, "shards": 2}), "redis")


def test_compose_creates_the_cluster_before_the_apps_start():
    doc = load_yaml_documents(export(make_spec(cache=CLUSTER), "compose")
                              .files["docker-compose.yml"], "compose")[0]
    services = doc["services"]
    create = services[cluster.SCRIPT.removesuffix(".sh")]
    assert create["depends_on"] == {f"redis-{n}": {"condition": "service_healthy"}
                                    for n in (1, 2, 3)}
    assert services["app-1"]["depends_on"] == {
        "cluster-create": {"condition": "service_completed_successfully"}}
    assert services["app-1"]["environment"]["REDIS_CLUSTER"] == "true"


@needs_redis
@pytest.mark.parametrize("shards", [3])
def test_the_real_cluster_places_keys_where_the_simulator_predicts(tmp_path, shards):
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli not installed")
    exported = export(make_spec(cache={**CLUSTER, "shards": shards}), "redis")
    write_export(exported, tmp_path)
    results = validate_files("redis", tmp_path, list(exported.files))
    [result] = [r for r in results if r.tool == cluster.TOOL]
    _ok_or_skip(result)
    assert f"{shards} masters" in result.detail


@needs_redis
def test_the_check_fails_when_the_prediction_differs(tmp_path, monkeypatch):
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli not installed")
    exported = export(make_spec(cache=CLUSTER), "redis")
    write_export(exported, tmp_path)
    # a simulator that put the masters in another order would predict other owners
    monkeypatch.setattr(cluster, "_placement",
                        lambda masters: SlotMap([f"cache-{i}" for i in (2, 0, 1)]))
    result = cluster.cluster_check(tmp_path, 3)
    assert result.status == FAILED
    assert "differ from the predicted" in result.detail and "SET" in result.detail
