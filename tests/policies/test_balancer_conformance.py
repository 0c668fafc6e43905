"""Every registered balancer and limiter honours the contract; policies import no simulator."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from policies import registry
from policies.views import InstanceView, RequestInfo

BALANCERS = registry.names("balancer")
LIMITERS = registry.names("limiter")


def test_the_expected_names_are_registered():
    assert set(BALANCERS) >= {
        "round_robin", "random", "least_connections", "power_of_two_choices",
        "weighted_round_robin", "least_response_time", "consistent_hash", "sticky",
    }
    assert set(LIMITERS) >= {"token_bucket", "per_user_token_bucket"}


def drive(name: str, seed: int) -> list[tuple[int, str]]:
    """Many requests over candidate sets that grow, shrink and change load."""
    balancer = registry.build("balancer", name, rng=np.random.default_rng(seed))
    rng = np.random.default_rng(99)
    pool = [InstanceView(i, in_flight=int(rng.integers(0, 5)), weight=float(1 + i % 3),
                         latency_ewma_s=float(rng.random())) for i in range(8)]
    routes = []
    for size in (1, 3, 8, 5, 2, 8):
        candidates = tuple(pool[:size])
        for r in range(60):
            info = RequestInfo(r, user_id=r % 7, session_id=r % 11, arrival_s=float(r))
            index, reason = balancer.choose(info, candidates, float(r))
            assert isinstance(index, int) and 0 <= index < size, (name, index, size)
            assert isinstance(reason, str) and reason
            routes.append((candidates[index].instance_id, reason))
    return routes


@pytest.mark.parametrize("name", BALANCERS)
def test_balancer_contract_and_determinism(name):
    assert drive(name, seed=5) == drive(name, seed=5)


@pytest.mark.parametrize(("family", "name"), [("balancer", n) for n in BALANCERS]
                         + [("limiter", n) for n in LIMITERS])
def test_config_is_frozen_and_forbids_unknown_fields(family, name):
    entry = registry.get(family, name)
    cfg_type = entry.config_type
    assert dataclasses.is_dataclass(cfg_type)
    assert cfg_type.__dataclass_params__.frozen
    assert cfg_type.__pydantic_config__ == {"extra": "forbid"}
    assert TypeAdapter(cfg_type).validate_python({}) == cfg_type()
    with pytest.raises(ValidationError):
        TypeAdapter(cfg_type).validate_python({"no_such_field": 1})


@pytest.mark.parametrize("name", LIMITERS)
def test_limiter_contract(name):
    limiter = registry.build("limiter", name)
    for r in range(500):
        admitted, reason = limiter.allow(RequestInfo(r, user_id=r % 3), r * 0.001)
        assert isinstance(admitted, bool)
        assert reason == "Admitted" if admitted else reason.startswith("RateLimited:")


def test_policy_packages_import_only_stdlib_and_numpy():
    code = (
        "import sys, policies.balancers, policies.resilience, policies.limiters\n"
        "bad = [m for m in ('simpy', 'simscale', 'textual', 'pydantic') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=60)
    assert out.stdout.strip() == ""
