"""The command line as a user meets it: runs, overrides, and clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from simscale.cli import app
from tests.conftest import ROOT

runner = CliRunner()
QUICKSTART = str(ROOT / "experiments" / "quickstart.toml")


def invoke(*args):
    return runner.invoke(app, list(args))


def test_run_quickstart_with_overrides(tmp_path):
    out = tmp_path / "q"
    res = invoke("run", QUICKSTART, "--out", str(out), "--set", "duration_s=20",
                 "--set", "balancer.policy=least_connections", "--seed", "5", "--quiet")
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 5 and summary["duration_s"] == 20
    meta_spec = json.loads(__import__("pyarrow.parquet").parquet.read_schema(
        out / "requests.parquet").metadata[b"simscale.spec"])
    assert meta_spec["balancer"]["policy"] == "least_connections"


def test_run_prints_a_summary_table(tmp_path):
    res = invoke("run", QUICKSTART, "--out", str(tmp_path / "q"), "--set", "duration_s=10")
    assert res.exit_code == 0
    assert "latency_p95_s" in res.output and "arrivals" in res.output


def test_schema_prints_json_schema():
    res = invoke("schema")
    schema = json.loads(res.output)
    assert "workload" in schema["properties"] and "duration_s" in schema["required"]


BAD_TOML = {"syntax": "name = 'x'\nduration_s = = 3\n", "eof": "name = 'x'\nduration_s = [1, 2,"}


@pytest.mark.parametrize("setup, args, expected", [
    (None, ["run", "missing.toml"], "missing.toml: no such file"),
    ("syntax", ["run", "{spec}"], "bad.toml:2:14: TOML syntax error: Invalid value"),
    ("eof", ["run", "{spec}"], "bad.toml:2:20: TOML syntax error: Invalid value (at end of file)"),
    (None, ["run", QUICKSTART, "--set", "balancer.policy=fastest"],
     "--set balancer.policy: unknown balancer policy 'fastest' (known: "),
    (None, ["run", QUICKSTART, "--set", "workload.arrivals.rate_rps=0"],
     "workload.arrivals.rate_rps: Input should be greater than 0"),
    (None, ["run", QUICKSTART, "--set", "instances.slots=-1"],
     "instances.slots: Input should be greater than 0"),
    (None, ["run", QUICKSTART, "--set", "duration_s=0"], "duration_s: Input should be greater"),
    (None, ["run", QUICKSTART, "--set", "instances.colour=3"],
     "--set instances.colour: unknown field"),
    (None, ["run", QUICKSTART, "--set", "balancer.params.choice_count=0"],
     "--set balancer.params.choice_count: balancer.params: choice_count must be >= 1"),
])
def test_bad_input_exits_2_with_one_clear_line(tmp_path, setup, args, expected):
    spec = tmp_path / "bad.toml"
    if setup:
        spec.write_text(BAD_TOML[setup])
    args = [a.replace("{spec}", str(spec)) for a in args]
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "simscale", *args, "--out", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()  # nothing written under a final name


def test_help_is_fast_and_lists_commands():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "simscale", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("run", "validate", "bench", "schema", "serve"):
        assert command in proc.stdout
    heavy = [line for line in proc.stderr.splitlines()
             if line.rstrip().endswith((" textual", " simpy", " pyarrow", " scipy", " fastapi",
                                        " uvicorn", " prometheus_client"))]
    assert heavy == []  # heavy modules load only inside the commands that need them
