"""Every registered policy meets its family's declared Protocol (policies.protocols), and the
optional capabilities a driver asks about say what the policy, as configured, does."""

from __future__ import annotations

import numpy as np
import pytest

from policies import protocols, registry
from policies.autoscalers.predictive import PredictiveConfig
from policies.autoscalers.scheduled import ScheduledConfig
from policies.autoscalers.step import StepConfig
from policies.autoscalers.target_tracking import MetricTarget, TargetTrackingConfig
from policies.autoscalers.threshold import ThresholdConfig
from policies.balancers.least_response_time import LeastResponseTimeConfig
from simscale.model.autoscaling import policy_metric

FAMILY = {"balancer": protocols.Balancer, "autoscaler": protocols.Autoscaler,
          "limiter": protocols.Limiter, "cache": protocols.CacheStore,
          "placement": protocols.Placement}
ENTRIES = sorted(registry.entries().values(), key=lambda e: (e.family, e.name))


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e.family}/{e.name}")
def test_every_registered_policy_meets_its_family_protocol(entry):
    policy = registry.build(entry.family, entry.name, None, np.random.default_rng(0))
    assert isinstance(policy, FAMILY[entry.family])


def test_a_protocol_check_can_fail():
    assert not isinstance(object(), protocols.Balancer)
    assert not isinstance(registry.build("balancer", "round_robin"), protocols.ResponseObserver)


@pytest.mark.parametrize(("mode", "learns"), [("ewma", False), ("peak_ewma", True)])
def test_least_response_time_learns_from_responses_only_in_peak_ewma_mode(mode, learns):
    policy = registry.build("balancer", "least_response_time", LeastResponseTimeConfig(mode=mode),
                            np.random.default_rng(0))  # it samples candidates: its own Generator
    assert isinstance(policy, protocols.ResponseObserver)
    assert policy.learns_from_responses is learns


INNER_STEP = {"metric": "latency_s"}
SCALER_METRICS = [
    ("threshold", ThresholdConfig(metric="memory_frac"), "memory_frac"),
    ("threshold", None, "cpu_util_frac"),
    ("step", StepConfig(metric="request_rps"), "request_rps"),
    ("target_tracking", TargetTrackingConfig(metrics=(MetricTarget("in_flight", 4.0),
                                                      MetricTarget("cpu_util_frac", 0.7))),
     "in_flight"),
    ("target_tracking", None, "cpu_util_frac"),
    ("concurrency", None, "in_flight"),
    ("predictive", PredictiveConfig(inner_policy="step", inner_config=INNER_STEP), "latency_s"),
    ("predictive", None, "cpu_util_frac"),
    ("scheduled", ScheduledConfig(inner_policy="step", inner_config=INNER_STEP), "latency_s"),
    ("scheduled", None, "cpu_util_frac"),
]


@pytest.mark.parametrize(("name", "config", "metric"), SCALER_METRICS)
def test_an_autoscaler_declares_the_metric_it_reacts_to(name, config, metric):
    policy = registry.build("autoscaler", name, config, np.random.default_rng(0))
    assert isinstance(policy, protocols.MetricScaler)
    assert policy.scaler_metric == metric
    assert policy_metric(policy) == metric


def test_an_autoscaler_that_declares_no_metric_reports_cpu():
    class Fixed:
        def decide(self, cluster, now_s):
            raise AssertionError("not called")

    assert isinstance(Fixed(), protocols.Autoscaler)
    assert policy_metric(Fixed()) == "cpu_util_frac"
