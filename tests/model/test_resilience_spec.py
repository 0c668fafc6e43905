"""The [resilience] section at the edge: bad input exits 2 naming the field, every field is
described, and the sub-tables are the policies' own configs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from policies.resilience import HealthCheckConfig, RetryPolicyConfig
from simscale.cli import app
from simscale.sections.resilience import HealthCheckSpec, ResilienceSpec, RetrySpec
from simscale.spec import json_schema
from tests.conftest import ROOT

DRILL = str(ROOT / "experiments" / "resilience" / "failover_drill.toml")
QUICKSTART = str(ROOT / "experiments" / "quickstart.toml")

BAD = [
    # unknown strategy names
    ([QUICKSTART, "balancer.policy=fastest"], "--set balancer.policy: unknown balancer policy"),
    ([DRILL, 'resilience.rate_limit=[{policy = "leaky"}]'],
     "resilience.rate_limit.0.policy: unknown limiter policy 'leaky' (known: "),
    # weights that cannot be weights
    ([QUICKSTART, "balancer.policy=weighted_round_robin", "balancer.params={weights = {0 = -1}}"],
     "balancer.params: weights[0] must be > 0"),
    ([DRILL, 'resilience.rate_limit=[{policy = "token_bucket", params = {rate_per_s = 0}}]'],
     "resilience.rate_limit.0.params: rate_per_s must be > 0"),
    # thresholds that cannot be met
    ([DRILL, "resilience.health_check.unhealthy_threshold=0"],
     "--set resilience.health_check.unhealthy_threshold: Input should be greater than 0"),
    ([DRILL, "resilience.health_check.healthy_threshold=0"],
     "resilience.health_check.healthy_threshold: Input should be greater than 0"),
    ([DRILL, "resilience.outlier_detection={max_ejection_percent = 120}"],
     "resilience.outlier_detection.max_ejection_percent: Input should be less than or equal "
     "to 100"),
    ([DRILL, "resilience.outlier_detection={base_ejection_time_s = 500}"],
     "resilience.outlier_detection: max_ejection_time_s must be >= base_ejection_time_s"),
    ([DRILL, "resilience.circuit_breaker={error_rate_threshold = 1.5}"],
     "resilience.circuit_breaker.error_rate_threshold: Input should be less than or equal to 1"),
    ([DRILL, 'resilience.circuit_breaker={consecutive_failures = "none", '
             'error_rate_threshold = "none"}'],
     "resilience.circuit_breaker: set consecutive_failures or error_rate_threshold"),
    ([DRILL, "resilience.retry={per_try_timeout_s = 5, overall_timeout_s = 1}"],
     "resilience.retry: per_try_timeout_s must not exceed overall_timeout_s"),
    ([DRILL, 'resilience.retry={retry_on = ["rejected"]}'],
     "resilience.retry.retry_on.0: Input should be 'error' or 'timeout'"),
    ([DRILL, "resilience.panic_threshold_percent=101"],
     "resilience.panic_threshold_percent: Input should be less than or equal to 100"),
    # faults aimed at nothing
    ([DRILL, 'resilience.faults=[{kind = "crash", target = 7, at_s = 60}]'],
     "--set resilience.faults: resilience.faults.0.target: no instance 7 (instances.count is "
     "4, so indices run 0..3)"),
    ([DRILL, 'resilience.faults=[{kind = "zone_loss", target = "eu-west-1a", at_s = 5}]'],
     "resilience.faults.0.target: no zone 'eu-west-1a' (zones: none: set instances.zones)"),
    ([DRILL, 'instances.zones=["a", "b"]',
      'resilience.faults=[{kind = "latency_spike", target = "c", at_s = 5, '
      'extra_latency_s = 0.1}]'],
     "resilience.faults.0.target: no zone 'c' (zones: a, b)"),
    ([DRILL, 'resilience.faults=[{kind = "meteor", target = 1, at_s = 5}]'],
     "resilience.faults.0: Input tag 'meteor' found using 'kind' does not match"),
    ([DRILL, 'resilience.faults=[{kind = "crash", target = 1, at_s = 50, recover_at_s = 40}]'],
     "resilience.faults.0: recover_at_s (40.0) must be after at_s (50.0)"),
    ([DRILL, 'resilience.faults=[{kind = "slow", target = 1, at_s = 5, factor = 0.5}]'],
     "resilience.faults.0.factor: Input should be greater than or equal to 1"),
    ([DRILL, 'resilience.faults=[{kind = "crash", target = 1, at_s = 5, factor = 2}]'],
     "resilience.faults.0.factor: unknown field"),
    ([DRILL, "resilience.health_check.rise=2"], "resilience.health_check.rise: unknown field"),
]


@pytest.mark.parametrize("args, expected", BAD, ids=[b[1][:60] for b in BAD])
def test_bad_input_exits_2_naming_the_field(tmp_path, args, expected):
    spec, *sets = args
    cli = ["run", spec, "--out", str(tmp_path / "out"), "--quiet"]
    for s in sets:
        cli += ["--set", s]
    res = CliRunner().invoke(app, cli)
    assert res.exit_code == 2, res.output
    assert expected in res.output, res.output
    assert not (tmp_path / "out").exists()


def test_a_bad_fault_target_is_a_clean_exit_2_from_the_real_command(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(open(DRILL).read().replace("target = 1", "target = 4"))
    proc = subprocess.run([sys.executable, "-m", "simscale", "run", str(bad), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {bad}: resilience.faults.0.target: no instance 4 "
                                   "(instances.count is 4, so indices run 0..3)")


def test_every_resilience_field_is_described():
    defs = json_schema()["$defs"]
    names = [n for n in defs if n in {
        "ResilienceSpec", "HealthCheckSpec", "OutlierDetectionSpec", "CircuitBreakerSpec",
        "RetrySpec", "LimiterRef", "SlowStartSpec", "CrashFault", "SlowFault", "ErrorsFault",
        "HangFault", "ZoneLossFault", "LatencySpikeFault", "DrainFault"}]
    assert len(names) == 14
    for name in names:
        for field, prop in defs[name]["properties"].items():
            if field != "kind":
                assert prop.get("description"), f"{name}.{field} has no description"


def test_sub_tables_are_the_policies_own_configs():
    assert HealthCheckSpec().config == HealthCheckConfig(start_healthy=False)
    assert RetrySpec().config == RetryPolicyConfig()
    unlimited = RetrySpec(budget_ratio="none").config
    assert unlimited.budget_ratio == 0.0 and unlimited.min_retries_per_s == float("inf")
    assert not ResilienceSpec().configured
    assert ResilienceSpec(panic_threshold_percent=10).configured is False
