"""The policies a wrapper (scheduled, predictive) may run inside, and how to build one by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from policies.autoscalers import concurrency, step, target_tracking, threshold
from policies.autoscalers._common import BoundedAutoscaler
from policies.autoscalers._config import config_from_mapping

# name -> (config type, factory); the leaf policies (wrappers add themselves where allowed).
LEAF_POLICIES: dict[str, tuple[type, Callable[[Any, np.random.Generator], BoundedAutoscaler]]] = {
    "target_tracking": (target_tracking.TargetTrackingConfig, target_tracking.build),
    "threshold": (threshold.ThresholdConfig, threshold.build),
    "step": (step.StepConfig, step.build),
    "concurrency": (concurrency.ConcurrencyConfig, concurrency.build),
}


def inner_config(
    table: Mapping[str, tuple[type, Any]], name: str, config: Any, field: str = "inner_config"
) -> Any:
    """The inner policy's config: its default (None), the instance given, or one built from a table.

    Raises ValueError for an unknown policy name or an invalid config.
    """
    if name not in table:
        raise ValueError(f"inner_policy: unknown policy {name!r} (allowed: {', '.join(table)})")
    config_type = table[name][0]
    if config is None:
        return config_type()
    return config_from_mapping(config_type, config, field)


def build_inner(
    table: Mapping[str, tuple[type, Any]], name: str, config: Any, rng: np.random.Generator
) -> BoundedAutoscaler:
    """Build the named inner policy from its (possibly tabular) config."""
    cfg = inner_config(table, name, config)
    return table[name][1](cfg, rng)
