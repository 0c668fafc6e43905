"""Policy configs are validated one way: a table that is one policy's config (policy_table) and
a registered policy's params (PolicyRef) both go through the config's own TypeAdapter."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from policies.caches import WarmingConfig
from policies.resilience import (
    CircuitBreakerConfig,
    HealthCheckConfig,
    OutlierDetectionConfig,
    RetryPolicyConfig,
    SlowStartConfig,
)
from simscale.limits import Count
from simscale.sections.base import policy_config, policy_table
from simscale.sections.cache import WarmingSpec
from simscale.sections.resilience import (
    CircuitBreakerSpec,
    HealthCheckSpec,
    OutlierDetectionSpec,
    RetrySpec,
    SlowStartSpec,
)

# (table, its config, fields the simulator does not model, fields only the simulator has)
TABLES = [
    (HealthCheckSpec, HealthCheckConfig, set(), {"probe_cost_s"}),
    (OutlierDetectionSpec, OutlierDetectionConfig, set(), set()),
    (CircuitBreakerSpec, CircuitBreakerConfig, set(), set()),
    (RetrySpec, RetryPolicyConfig, {"backoff_base_s", "backoff_max_s"}, set()),
    (SlowStartSpec, SlowStartConfig, set(), {"update_interval_s"}),
    (WarmingSpec, WarmingConfig, set(), {"types"}),
]


@pytest.mark.parametrize("table, config, hidden, simulator", TABLES,
                         ids=[t[0].__name__ for t in TABLES])
def test_a_table_has_its_configs_fields_and_defaults(table, config, hidden, simulator):
    policy_fields = {f.name for f in dataclasses.fields(config)} - hidden
    assert set(table.model_fields) == policy_fields | simulator
    assert table().config == config()  # the defaults are the config's own
    for name in policy_fields:
        assert table.model_fields[name].description, name


@pytest.mark.parametrize("table, values, expected", [
    (HealthCheckSpec, {"interval_s": 5, "unhealthy_interval_s": "none"},
     HealthCheckConfig(interval_s=5.0)),
    (CircuitBreakerSpec, {"consecutive_failures": "none", "error_rate_threshold": 0.5},
     CircuitBreakerConfig(consecutive_failures=None, error_rate_threshold=0.5)),
    (RetrySpec, {"retry_on": ["timeout"], "max_attempts": 3},
     RetryPolicyConfig(retry_on=("timeout",), max_attempts=3)),
    (RetrySpec, {"budget_ratio": "none", "min_retries_per_s": 3},
     RetryPolicyConfig(budget_ratio=0.0, min_retries_per_s=float("inf"))),
    (SlowStartSpec, {"window_s": 60, "update_interval_s": 2}, SlowStartConfig(window_s=60.0)),
])
def test_a_tables_values_become_the_policys_config(table, values, expected):
    assert table(**values).config == expected


@pytest.mark.parametrize("table, values, message", [
    (OutlierDetectionSpec, {"base_ejection_time_s": 500},
     "max_ejection_time_s must be >= base_ejection_time_s"),
    (RetrySpec, {"per_try_timeout_s": 5, "overall_timeout_s": 1},
     "per_try_timeout_s must not exceed overall_timeout_s"),
    (HealthCheckSpec, {"rise": 2}, "Extra inputs are not permitted"),
    (HealthCheckSpec, {"healthy_threshold": 0}, "Input should be greater than 0"),
])
def test_the_config_and_the_bounds_both_check_a_table(table, values, message):
    with pytest.raises(ValidationError, match=message):
        table(**values)


def test_params_and_tables_go_through_the_same_check():
    """policy_config: strict (no bool or string for a number), with the field path."""
    with pytest.raises(ValueError, match=r"^params\.rate_per_s: Input should be a valid number"):
        policy_config(_token_bucket_config(), {"rate_per_s": "5"}, "params")
    with pytest.raises(ValueError, match=r"^params: rate_per_s must be > 0"):
        policy_config(_token_bucket_config(), {"rate_per_s": 0}, "params")
    with pytest.raises(ValueError, match=r"^params\.rate_per_s: must be a finite number"):
        policy_config(_token_bucket_config(), {"rate_per_s": float("inf")}, "params")
    assert policy_config(HealthCheckConfig, {"interval_s": 3}) == HealthCheckConfig(
        interval_s=3.0)


def _token_bucket_config() -> type:
    from policies import registry

    return registry.get("limiter", "token_bucket").config_type


@dataclass(frozen=True)
class _Toy:
    count: int = 1
    extra: float | None = None


def test_a_config_field_without_a_bound_is_refused_when_the_table_is_built():
    with pytest.raises(TypeError, match=r"_Toy\.extra: no bound and description"):
        policy_table(_Toy, "A toy.", {"count": (Count, "how many")})
    with pytest.raises(TypeError, match="_Toy has no field colour"):
        policy_table(_Toy, "A toy.", {"count": (Count, "how many"), "extra": (float, "x"),
                                      "colour": (str, "no such field")})
    toy = policy_table(_Toy, "A toy.", {"count": (Count, "how many"), "extra": (float, "x")})
    assert toy(extra="none").config == _Toy() and toy(count=3).config == _Toy(count=3)


@pytest.mark.parametrize("table, config, hidden, simulator", TABLES,
                         ids=[t[0].__name__ for t in TABLES])
def test_a_table_pickles_like_any_section(table, config, hidden, simulator):
    """A table is a module-level class of its section's module (specs cross processes)."""
    import pickle

    assert table.__module__ in ("simscale.sections.resilience", "simscale.sections.cache")
    value = table()
    assert pickle.loads(pickle.dumps(value)) == value
    assert pickle.loads(pickle.dumps(value)).config == value.config
