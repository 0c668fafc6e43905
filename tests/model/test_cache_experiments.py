"""The cache experiments: each runs briefly with the cache on, compared pairs differ only in
what they compare, and the shipped 90 % configuration reaches a 90 % hit rate."""

from __future__ import annotations

import pytest

from simscale.runner import run
from simscale.spec import load_spec
from tests.conftest import ROOT

CACHE = ROOT / "experiments" / "cache"


def cache_specs() -> list:
    return sorted(CACHE.glob("*.toml"))


def test_there_are_cache_experiments():
    names = {p.stem for p in cache_specs()}
    assert {"hit_rate_90", "ttl_sweep", "eviction_zipf", "scale_out_cold", "scale_out_warm",
            "stampede_none", "stampede_single_flight", "shard_loss",
            "llm_response_cache", "quickstart_cache"} <= names


@pytest.mark.parametrize("path", cache_specs(), ids=lambda p: p.stem)
def test_each_runs_briefly_with_the_cache_on(path):
    spec = load_spec(path, ["duration_s=10"])
    assert spec.cache.enabled
    s = run(spec, None).summary
    assert s["complete"] and s["cache_reads"] > 0 and s["cache_hit_rate"] is not None
    assert s["arrivals"] == s["ok"] + s["error"] + s["timeout"] + s["rejected"]


def without(spec, *paths: str) -> dict:
    data = spec.model_dump()
    for path in ("name", "description", *paths):
        *parents, leaf = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        node.pop(leaf)
    return data


@pytest.mark.parametrize("a, b, setting", [
    ("scale_out_cold", "scale_out_warm", "cache.warming.on_join"),
    ("stampede_none", "stampede_single_flight", "cache.stampede"),
])
def test_compared_pairs_differ_only_in_what_they_compare(a, b, setting):
    spec_a, spec_b = load_spec(CACHE / f"{a}.toml"), load_spec(CACHE / f"{b}.toml")
    assert spec_a != spec_b
    assert without(spec_a, setting) == without(spec_b, setting)


def test_the_shipped_configuration_reaches_a_90_percent_hit_rate():
    spec = load_spec(CACHE / "hit_rate_90.toml", ["duration_s=120"])
    assert "90%+" in spec.description
    s = run(spec, None).summary
    assert s["cache_hit_rate"] >= 0.9
    assert all(s[f"cache_hit_rate_{t}"] >= 0.9 for t in ("user", "session", "conversation"))
