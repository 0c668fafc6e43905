"""The one registry: spec names → policy factories, grouped by family.

Each family package (balancers, autoscalers, caches, limiters) lists its entries in a tuple
named ENTRIES; adding a policy is one file in that package and one line in that tuple.
A factory takes the policy's frozen config dataclass and a numpy Generator (used by
randomized policies, ignored by the others) and returns the policy object: a randomized
policy's class is its own factory, and `deterministic(cls)` is the factory of one built from
its config alone. A policy whose factory is not `deterministic` is built only with its own
Generator (one stream per policy, from the run's seed): there is no default seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FAMILIES = ("balancer", "autoscaler", "cache", "limiter", "placement")


@dataclass(frozen=True)
class PolicyEntry:
    """A registered policy: its spec name, family, config type and factory."""

    name: str
    family: str
    config_type: type
    factory: Callable[[Any, np.random.Generator], Any]
    summary: str = ""

    @property
    def randomized(self) -> bool:
        """Whether the factory may draw from its Generator (it is not `deterministic`)."""
        return not getattr(self.factory, "deterministic", False)


def deterministic(policy_type: Callable[[Any], Any]) -> Callable[[Any, np.random.Generator], Any]:
    """The factory of a policy built from its config alone (the generator goes unused)."""

    def factory(config: Any, rng: np.random.Generator | None) -> Any:
        return policy_type(config)

    factory.deterministic = True
    return factory


def _collect() -> dict[tuple[str, str], PolicyEntry]:
    from policies import autoscalers, balancers, caches, limiters

    table: dict[tuple[str, str], PolicyEntry] = {}
    for package in (balancers, autoscalers, caches, limiters):
        for entry in package.ENTRIES:
            key = (entry.family, entry.name)
            if key in table:
                raise RuntimeError(f"policy {entry.family}/{entry.name} registered twice")
            table[key] = entry
    return table


_REGISTRY: dict[tuple[str, str], PolicyEntry] | None = None


def entries() -> dict[tuple[str, str], PolicyEntry]:
    """Every registered policy, keyed by (family, name)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _collect()
    return _REGISTRY


def names(family: str) -> list[str]:
    """Sorted spec names registered in one family."""
    return sorted(name for fam, name in entries() if fam == family)


def get(family: str, name: str) -> PolicyEntry:
    """The entry for (family, name); KeyError names the known ones."""
    try:
        return entries()[(family, name)]
    except KeyError:
        known = ", ".join(names(family))
        raise KeyError(f"unknown {family} policy {name!r} (known: {known})") from None


def build(family: str, name: str, config: Any = None, rng: np.random.Generator | None = None):
    """Build a policy from its config object (default config when None).

    rng: the policy's own Generator; required for a randomized policy (ValueError without
    one), unused by a deterministic one."""
    entry = get(family, name)
    if config is None:
        config = entry.config_type()
    if rng is None and entry.randomized:
        raise ValueError(f"{family} policy {name!r} draws random numbers: build it with its "
                         "own numpy Generator (rng)")
    return entry.factory(config, rng)
