"""Resilience primitives: circuit breaker, health checks, outlier ejection, panic, retries."""

from policies.resilience.circuit_breaker import CircuitBreaker, CircuitBreakerConfig
from policies.resilience.health_check import HealthCheckConfig, HealthChecker
from policies.resilience.outlier import OutlierDetectionConfig, OutlierDetector, OutlierEvent
from policies.resilience.panic import PanicFilter, PanicThresholdConfig, in_panic
from policies.resilience.retry import RetryPolicy, RetryPolicyConfig, backoff_bound_s
from policies.resilience.slow_start import SlowStartConfig, slow_start_factor, slow_start_weight
from policies.resilience.states import CLOSED, HALF_OPEN, HEALTHY, OPEN, UNHEALTHY, Transition
from policies.resilience.window import SlidingCounts

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "HEALTHY",
    "OPEN",
    "UNHEALTHY",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "HealthCheckConfig",
    "HealthChecker",
    "OutlierDetectionConfig",
    "OutlierDetector",
    "OutlierEvent",
    "PanicFilter",
    "PanicThresholdConfig",
    "RetryPolicy",
    "RetryPolicyConfig",
    "SlidingCounts",
    "SlowStartConfig",
    "Transition",
    "backoff_bound_s",
    "in_panic",
    "slow_start_factor",
    "slow_start_weight",
]
