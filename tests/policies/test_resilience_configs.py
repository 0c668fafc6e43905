"""Every resilience config rejects impossible values and unknown fields."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import TypeAdapter, ValidationError

from policies.resilience import (
    CircuitBreakerConfig,
    HealthCheckConfig,
    OutlierDetectionConfig,
    PanicThresholdConfig,
    RetryPolicyConfig,
    SlowStartConfig,
)

CONFIGS = [CircuitBreakerConfig, HealthCheckConfig, OutlierDetectionConfig,
           PanicThresholdConfig, RetryPolicyConfig, SlowStartConfig]

IMPOSSIBLE = [
    (HealthCheckConfig, {"unhealthy_threshold": 0}),
    (HealthCheckConfig, {"healthy_threshold": 0}),
    (HealthCheckConfig, {"interval_s": 0.0}),
    (HealthCheckConfig, {"timeout_s": -1.0}),
    (HealthCheckConfig, {"unhealthy_interval_s": 0.0}),
    (OutlierDetectionConfig, {"max_ejection_percent": 101.0}),
    (OutlierDetectionConfig, {"max_ejection_percent": -1.0}),
    (OutlierDetectionConfig, {"consecutive_5xx": 0}),
    (OutlierDetectionConfig, {"base_ejection_time_s": 0.0}),
    (OutlierDetectionConfig, {"max_ejection_time_s": 10.0, "base_ejection_time_s": 30.0}),
    (OutlierDetectionConfig, {"interval_s": 0.0}),
    (CircuitBreakerConfig, {"consecutive_failures": 0}),
    (CircuitBreakerConfig, {"error_rate_threshold": 0.0}),
    (CircuitBreakerConfig, {"error_rate_threshold": 1.5}),
    (CircuitBreakerConfig, {"consecutive_failures": None, "error_rate_threshold": None}),
    (CircuitBreakerConfig, {"half_open_probes": 0}),
    (CircuitBreakerConfig, {"open_duration_s": 0.0}),
    (CircuitBreakerConfig, {"min_requests": 0}),
    (CircuitBreakerConfig, {"window_buckets": 0}),
    (RetryPolicyConfig, {"max_attempts": 0}),
    (RetryPolicyConfig, {"retry_on": ("5xx",)}),
    (RetryPolicyConfig, {"per_try_timeout_s": 10.0, "overall_timeout_s": 5.0}),
    (RetryPolicyConfig, {"budget_ratio": -0.1}),
    (RetryPolicyConfig, {"budget_window_s": 0.0}),
    (RetryPolicyConfig, {"backoff_base_s": 0.1, "backoff_max_s": 0.05}),
    (PanicThresholdConfig, {"healthy_panic_threshold_percent": 100.1}),
    (SlowStartConfig, {"window_s": 0.0}),
    (SlowStartConfig, {"aggression": 0.0}),
    (SlowStartConfig, {"min_weight_percent": 150.0}),
]


@pytest.mark.parametrize(("cfg_type", "kwargs"), IMPOSSIBLE)
def test_impossible_values_raise(cfg_type, kwargs):
    with pytest.raises(ValueError):
        cfg_type(**kwargs)
    with pytest.raises(ValidationError):  # and the edge validation reports them too
        TypeAdapter(cfg_type).validate_python(kwargs)


@pytest.mark.parametrize("cfg_type", CONFIGS)
def test_frozen_defaults_and_extra_forbidden(cfg_type):
    assert cfg_type.__dataclass_params__.frozen and dataclasses.is_dataclass(cfg_type)
    assert TypeAdapter(cfg_type).validate_python({}) == cfg_type()
    with pytest.raises(ValidationError):
        TypeAdapter(cfg_type).validate_python({"typo_field": 1})
