"""The compose cache as the app containers reach it: a password, the shards' addresses, health
checks, and a real redis-server reached from another network namespace."""

from __future__ import annotations

import os
import stat

import pytest

from simscale.export import reach
from simscale.export.env import parse_dotenv
from simscale.export.targets import write_export
from simscale.export.validate import FAILED, OK, SKIPPED
from simscale.export.yamlio import load_yaml_documents
from tests.export.helpers import export, make_spec, needs_redis

CACHE = {"shards": 2, "capacity_items": "none", "capacity_bytes": 1 << 20}


def _written(tmp_path, **sections):
    exported = export(make_spec(**sections), "compose")
    write_export(exported, tmp_path)
    return exported


def _reach_or_skip(out):
    result = reach.compose_reach(out)
    if result.status == SKIPPED:
        pytest.skip(result.detail)
    return result


def test_no_password_is_written_into_a_committed_file_and_the_secret_is_0600(tmp_path):
    exported = _written(tmp_path, cache=CACHE)
    [password] = parse_dotenv(exported.files["redis.env"])[0].values()
    assert len(password) == 64
    for name, text in exported.files.items():
        if name != "redis.env":
            assert password not in text, name
    assert stat.S_IMODE(os.stat(tmp_path / "redis.env").st_mode) == 0o600
    assert "requirepass" not in exported.files["redis.conf"].replace("--requirepass", "")


def test_a_second_export_keeps_the_deployed_password(tmp_path):
    _written(tmp_path, cache=CACHE)
    first = (tmp_path / "redis.env").read_text()
    written = write_export(export(make_spec(cache=CACHE), "compose"), tmp_path)
    assert (tmp_path / "redis.env").read_text() == first
    assert tmp_path / "redis.env" not in written


def test_apps_are_told_where_the_shards_are_and_wait_for_them_to_be_healthy():
    # Before: no REDIS_* variable; depends_on was a bare list (started, not healthy).
    doc = load_yaml_documents(export(make_spec(cache=CACHE), "compose")
                              .files["docker-compose.yml"], "compose")[0]
    services = doc["services"]
    app = services["app-2"]
    assert app["environment"]["REDIS_NODES"] == "redis-1:6379,redis-2:6379"
    assert app["env_file"] == ["redis.env"]
    assert app["depends_on"] == {"redis-1": {"condition": "service_healthy"},
                                 "redis-2": {"condition": "service_healthy"}}
    assert services["nginx"]["depends_on"]["app-1"] == {"condition": "service_healthy"}
    for name in ("redis-1", "redis-2", "app-1"):
        assert "healthcheck" in services[name]
    assert '--requirepass "$$REDIS_PASSWORD"' in services["redis-1"]["command"][-1]


@needs_redis
@pytest.mark.parametrize("cache", [CACHE, None], ids=["cache", "no-cache"])
def test_the_cache_answers_an_app_container_from_another_network(tmp_path, cache):
    # Before: `bind 0.0.0.0` + protected mode + no password: DENIED from any other address.
    _written(tmp_path, **({"cache": cache} if cache else {}))
    result = _reach_or_skip(tmp_path)
    assert result.status == OK, result.detail
    assert "NOAUTH" in result.detail


@needs_redis
def test_the_check_fails_on_a_cache_without_a_password(tmp_path):
    """The defect as exported before: protected mode refuses the app's connection."""
    _written(tmp_path, cache=CACHE)
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(compose.read_text().replace('--requirepass "$$REDIS_PASSWORD"', "")
                       .replace('--masterauth "$$REDIS_PASSWORD"', ""))
    result = _reach_or_skip(tmp_path)
    assert result.status == FAILED
    assert "DENIED" in result.detail and "protected mode" in result.detail


def test_the_verdict_needs_every_part():
    good = {"authenticated": "ok", "client_info": f"id=3 addr={reach.CLIENT_ADDRESS}:4000",
            "anonymous": "NOAUTH Authentication required.",
            "wrong_password": "WRONGPASS invalid username-password pair", "health_rc": 0}
    assert reach.verdict(good) == []
    for key, bad in [("authenticated", "['DENIED']"), ("client_info", "addr=127.0.0.1:4000"),
                     ("anonymous", "1"), ("wrong_password", "OK"), ("health_rc", 1)]:
        assert len(reach.verdict({**good, key: bad})) == 1, key
