"""The [autoscaling] section at the edge: bad input exits 2 naming the field; the service's
defaults; a raising policy stops the run. (The experiments' effects:
test_autoscaling_experiments.py.)"""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from simscale.cli import app
from simscale.model.runner import run
from simscale.spec import load_spec
from tests.conftest import ROOT, small_spec

SPIKE = str(ROOT / "experiments" / "autoscaling" / "spike_flash_crowd.toml")


def test_bad_input_exits_2_with_the_field_paths(tmp_path):
    out = tmp_path / "never"
    proc = subprocess.run(
        [sys.executable, "-m", "simscale", "run", SPIKE, "--out", str(out), "--quiet",
         "--set", 'autoscaling.boot_delay={kind="deterministic", value_s=-5}',
         "--set", "autoscaling.scaler_metric=gpu_util"],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    assert "Traceback" not in err
    assert "autoscaling.boot_delay.value_s: Input should be greater than or equal to 0" in err
    assert "--set autoscaling.scaler_metric: Input should be 'auto', 'cpu_util_frac'" in err
    assert not out.exists()


@pytest.mark.parametrize("override, expected", [
    ("autoscaling.params.min_replicas=12",
     "--set autoscaling.params.min_replicas: autoscaling.params: max_replicas (10) must be >= "
     "min_replicas (12)"),
    ("autoscaling.params.scale_down={stabilization_window_s=4000}",
     "stabilization_window_s must be an integer between 0 and 3600, got 4000"),
    ('autoscaling.params.scale_up={policies=[{type="Pods", value=2, period_s=2400}]}',
     "autoscaling.params.scale_up.policies.0: period_s must be an integer between 1 and 1800"),
    ("autoscaling.params.sync_period_s=3600",
     "autoscaling.params: sync_period_s must be between 1.0 and 1800.0"),
    ('autoscaling.params.metrics=[{metric="gpu_util", target=0.5}]',
     "autoscaling.params.metrics.0: metric: unknown metric 'gpu_util'"),
    ("autoscaling.policy=hpa", "--set autoscaling.policy: unknown autoscaler policy 'hpa'"),
    ("autoscaling.scale_in_victims=random",
     "--set autoscaling.scale_in_victims: Input should be 'newest_first'"),
    ("autoscaling.metrics_window_s=5",
     "metrics_window_s (5.0) must be at least scrape_interval_s (15.0)"),
    ("autoscaling.metrics_delay_s=-1", "autoscaling.metrics_delay_s: Input should be greater"),
    ("autoscaling.warmup_slowdown=0.5", "autoscaling.warmup_slowdown: Input should be greater"),
    ("instances.price_per_instance_hour_usd=-0.1",
     "instances.price_per_instance_hour_usd: Input should be greater than or equal to 0"),
    ("autoscaling.replicas=3", "--set autoscaling.replicas: unknown field"),
])
def test_bad_autoscaling_fields_exit_2(override, expected, tmp_path):
    res = CliRunner().invoke(app, ["run", SPIKE, "--out", str(tmp_path / "x"), "--set", override])
    assert res.exit_code == 2
    assert expected in res.output, res.output


def test_a_bad_field_in_the_file_names_the_file_and_field(tmp_path):
    text = (ROOT / "experiments" / "autoscaling" / "service_defaults.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("max_replicas = 10", "max_replicas = 1"))
    res = CliRunner().invoke(app, ["run", str(bad), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert f"{bad}: autoscaling.params: max_replicas (1) must be >= min_replicas (2)" in res.output


def test_the_service_defaults_are_the_threshold_policy_from_2_to_10():
    spec = load_spec(ROOT / "experiments" / "autoscaling" / "service_defaults.toml")
    assert spec.autoscaling.policy == "threshold"
    assert (spec.autoscaling.min_replicas, spec.autoscaling.max_replicas) == (2, 10)
    cfg = spec.autoscaling.config
    assert (cfg.scale_up_threshold, cfg.scale_down_threshold) == (0.70, 0.30)
    off = load_spec(ROOT / "experiments" / "autoscaling" / "service_defaults.toml",
                    ["autoscaling.enabled=false", "duration_s=300"])
    rows = run(off, None).metric_rows
    assert {r["instances_ready"] for r in rows} == {2}


class _Exploding:
    def __init__(self, after: int) -> None:
        self.calls = 0
        self.after = after

    def decide(self, cluster, now_s):
        self.calls += 1
        if self.calls > self.after:
            raise ZeroDivisionError("no metrics to divide")
        from policies.views import ScaleDecision
        return ScaleDecision(cluster.current_replicas, "Steady")


def test_a_raising_policy_ends_the_run_incomplete(monkeypatch, tmp_path):
    from policies import registry

    real_build = registry.build

    def build(family, name, config=None, rng=None):
        if family == "autoscaler":
            return _Exploding(after=3)
        return real_build(family, name, config, rng)

    monkeypatch.setattr(registry, "build", build)
    spec = small_spec(autoscaling={"enabled": True, "policy": "threshold",
                                   "params": {"sync_period_s": 10.0}})
    result = run(spec, tmp_path / "run")
    s = result.summary
    assert s["complete"] is False
    assert s["failure"].startswith("policy 'threshold' raised at t=40.000s: ZeroDivisionError")
    assert ("run", "simscale", "PolicyFailure:threshold") == result.events[-1][1:]
    assert (tmp_path / "run" / "summary.json").exists()
