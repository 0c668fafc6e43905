"""Power of two choices: Envoy least_request semantics, unchanged sample path, weighted mode."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter

from policies import registry
from policies.balancers import PowerOfTwoChoices, PowerOfTwoConfig
from policies.views import InstanceView, RequestInfo

REQ = RequestInfo(0)


def reference_picks(loads, choice_count, seed, count):
    """Envoy's rule spelled out: draw choice_count indices with replacement, keep the first
    strictly least loaded (uniforms are drawn in batches of 4096 and used from the end)."""
    uniforms = np.random.default_rng(seed).random(4096).tolist()
    out = []
    for _ in range(count):
        draws = [int(uniforms.pop() * len(loads)) for _ in range(choice_count)]
        best = draws[0]
        for i in draws[1:]:
            if loads[i] < loads[best]:
                best = i
        out.append(best)
    return out


@pytest.mark.parametrize("choice_count", [1, 2, 3])
@pytest.mark.parametrize("loads", [(0, 0, 0, 0), (5, 1, 3, 0, 2), (2, 9)])
def test_equal_weights_follow_envoy_least_request(loads, choice_count):
    candidates = tuple(InstanceView(i, in_flight=x) for i, x in enumerate(loads))
    balancer = PowerOfTwoChoices(PowerOfTwoConfig(choice_count=choice_count),
                                 np.random.default_rng(3))
    routes = [balancer.choose(REQ, candidates, 0.0) for _ in range(200)]
    assert [i for i, _ in routes] == reference_picks(loads, choice_count, 3, 200)
    assert {reason for _, reason in routes} == {"PowerOfChoices"}


@pytest.mark.parametrize(
    ("weights", "loads", "bias", "expected_counts"),
    [
        ((2, 1), (0, 0), 1.0, (200, 100)),
        # Envoy's example: weight 2 with 4 active requests counts as 2 / 5 = 0.4
        ((2, 1), (4, 0), 1.0, (200, 500)),
        # bias 0: plain weighted round robin whatever the load
        ((2, 1), (4, 0), 0.0, (200, 100)),
        # bias 2: 2 / 5^2 = 0.08 against 1
        ((2, 1), (4, 0), 2.0, (8, 100)),
    ],
)
def test_unequal_weights_use_load_adjusted_weighted_round_robin(weights, loads, bias,
                                                                expected_counts):
    candidates = tuple(InstanceView(i, weight=w, in_flight=x)
                       for i, (w, x) in enumerate(zip(weights, loads, strict=True)))
    balancer = PowerOfTwoChoices(PowerOfTwoConfig(active_request_bias=bias),
                                 np.random.default_rng(0))
    n = sum(expected_counts)
    routes = [balancer.choose(REQ, candidates, 0.0) for _ in range(n)]
    counts = tuple(sum(1 for i, _ in routes if i == k) for k in range(2))
    assert counts == pytest.approx(expected_counts, abs=1)
    assert {reason for _, reason in routes} == {"WeightedLeastRequest"}


def test_name_and_config_stay_compatible():
    entry = registry.get("balancer", "power_of_two_choices")
    assert entry.config_type is PowerOfTwoConfig
    assert TypeAdapter(PowerOfTwoConfig).validate_python({"choice_count": 3}) == PowerOfTwoConfig(3)
