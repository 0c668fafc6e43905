"""The registry builds a randomized policy only with its own Generator: no hidden default seed."""

from __future__ import annotations

import numpy as np
import pytest

from policies import registry

RANDOMIZED = [(fam, name) for (fam, name), e in registry.entries().items() if e.randomized]
DETERMINISTIC = [(fam, name) for (fam, name), e in registry.entries().items()
                 if not e.randomized]


def test_both_kinds_are_registered():
    assert ("balancer", "random") in RANDOMIZED and ("cache", "wtinylfu") in RANDOMIZED
    assert ("balancer", "round_robin") in DETERMINISTIC
    assert ("placement", "ring") in DETERMINISTIC


@pytest.mark.parametrize("family, name", RANDOMIZED)
def test_a_randomized_policy_needs_its_generator(family, name):
    with pytest.raises(ValueError, match=f"{family} policy '{name}' draws random numbers"):
        registry.build(family, name)
    assert registry.build(family, name, rng=np.random.default_rng(1)) is not None


@pytest.mark.parametrize("family, name", DETERMINISTIC)
def test_a_deterministic_policy_is_built_from_its_config_alone(family, name):
    assert registry.build(family, name) is not None
