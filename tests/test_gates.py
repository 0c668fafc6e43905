"""Exit codes as gates: `run --slo`, `run --fail-on`, `export --validate`; each both ways,
and distinct from bad input (2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from simscale.cli import app
from simscale.errors import InputError
from simscale.monitoring.slo import Slo, fired_at_or_above, judge_run, parse_slo
from tests.export.helpers import EXAMPLES, needs_nginx

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "experiments" / "quickstart.toml"
runner = CliRunner()


def run(tmp_path: Path, *args: str, env: dict | None = None):
    return runner.invoke(app, ["run", str(QUICKSTART), "--out", str(tmp_path / "run"), "--force",
                               "--set", "duration_s=20", "--quiet", *args], env=env)


def rule(severity: str) -> str:
    """An alert rule that fires at once at `severity` (CPU is always above 0 here)."""
    return (f'alerts.rules=[{{ name = "Busy", metric = "cpu_util_frac", {severity} = 0.001 '
            '}]')


# ---------------------------------------------------------------- run --slo


def test_a_met_slo_exits_0_and_prints_its_verdict(tmp_path):
    res = run(tmp_path, "--slo", "latency_p95_s<=5", "--slo", "ok>=1")
    assert res.exit_code == 0, res.output
    assert "slo latency_p95_s<=5: " in res.output and ": holds" in res.output
    assert res.output.count(": holds") == 2


def test_a_missed_slo_exits_1_and_says_which(tmp_path):
    res = run(tmp_path, "--slo", "latency_p95_s<=5", "--slo", "throughput_rps>=100000")
    assert res.exit_code == 1
    assert "slo latency_p95_s<=5: " in res.output
    assert "slo throughput_rps>=100000: " in res.output and ": missed" in res.output
    assert (tmp_path / "run" / "summary.json").is_file()  # the run itself is kept


@pytest.mark.parametrize("slo, message", [
    ("latency_p95_s=1", "expected METRIC<=VALUE"),
    ("latency_p95_s<=fast", "expected METRIC<=VALUE"),
    ("latency_p95_s<=1e999", "must be a finite number"),
])
def test_an_slo_that_does_not_parse_exits_2_before_running(tmp_path, slo, message):
    res = run(tmp_path, "--slo", slo)
    assert res.exit_code == 2
    assert message in res.output
    assert not (tmp_path / "run").exists()


def test_an_slo_on_a_metric_the_run_lacks_exits_2(tmp_path):
    res = run(tmp_path, "--slo", "ttft_p95_s<=1")  # the quickstart streams no LLM answer
    assert res.exit_code == 2
    assert "--slo: the run reports no metric 'ttft_p95_s' (metrics: " in res.output


def test_judge_run_on_a_summary():
    summary = {"a": 1.0, "b": None, "flag": True}
    verdicts = judge_run([Slo("a", "<", 2), Slo("a", ">", 2), Slo("b", "<=", 1)], summary)
    assert [(v.holds, v.value) for v in verdicts] == [(True, 1.0), (False, 1.0), (False, None)]
    assert str(verdicts[2]) == "slo b<=1: no data: missed"
    with pytest.raises(InputError, match="no metric 'flag'"):
        judge_run([parse_slo("flag>=1")], summary)


# ---------------------------------------------------------------- run --fail-on


def test_no_alert_fired_passes_the_alert_gate(tmp_path):
    res = run(tmp_path, "--fail-on", "warning")
    assert res.exit_code == 0, res.output
    assert "alerts: --fail-on warning: none fired" in res.output


def test_a_warning_fails_fail_on_warning_but_not_fail_on_critical(tmp_path):
    res = run(tmp_path, "--set", rule("warning"), "--fail-on", "warning")
    assert res.exit_code == 1
    assert "alerts: --fail-on warning: fired: Busy (warning)" in res.output
    res = run(tmp_path, "--set", rule("warning"), "--fail-on", "critical")
    assert res.exit_code == 0, res.output
    res = run(tmp_path, "--set", rule("warning"))  # no gate asked for
    assert res.exit_code == 0, res.output


def test_a_critical_alert_fails_both_gates(tmp_path):
    for level in ("warning", "critical"):
        res = run(tmp_path, "--set", rule("critical"), "--fail-on", level)
        assert res.exit_code == 1
        assert f"alerts: --fail-on {level}: fired: Busy (critical)" in res.output


def test_fired_at_or_above_reads_the_worst_severity_of_each_rule():
    summary = {"alerts": {"worst_severity": {"A": "warning", "B": "critical"}}}
    assert fired_at_or_above(summary, "warning") == {"A": "warning", "B": "critical"}
    assert fired_at_or_above(summary, "critical") == {"B": "critical"}
    assert fired_at_or_above({}, "warning") == {}  # alerts disabled


# ---------------------------------------------------------------- export --validate


def export(tmp_path: Path, *args: str, env: dict | None = None):
    return runner.invoke(app, ["export", str(EXAMPLES / "affinity_hpa.toml"), "--target",
                               "nginx", "--out", str(tmp_path / "out"), "--validate", *args],
                         env=env)


@needs_nginx
def test_validated_files_exit_0(tmp_path):
    res = export(tmp_path)
    assert res.exit_code == 0, res.output
    assert "ok: nginx -t nginx.conf" in res.output


def test_a_missing_validator_exits_1_unless_allowed(tmp_path):
    no_tools = {"PATH": str(tmp_path / "empty")}  # no nginx on the PATH
    res = export(tmp_path, env=no_tools)
    assert res.exit_code == 1
    assert "skipped: nginx nginx.conf: nginx is not installed" in res.output
    assert "1 check(s) skipped: no validator for them" in res.output
    res = export(tmp_path, "--allow-missing-validators", env=no_tools)
    assert res.exit_code == 0, res.output
    assert "skipped: nginx nginx.conf" in res.output
