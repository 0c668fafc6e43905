"""The sweep, compare and plan commands as a user meets them: outputs and exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import typer
from typer.testing import CliRunner

from simscale.commands.sweep import register
from tests.sweep.helpers import QUICKSTART, ROOT, write_sweep

app = typer.Typer()
register(app)
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_sweep_then_compare_with_markdown_csv_and_plot(balancer_sweep, tmp_path):
    out = tmp_path / "out"
    res = invoke("sweep", balancer_sweep, "--out", out, "--workers", 2, "--quiet")
    assert res.exit_code == 0, res.output
    assert "6 runs (6 ok)" in res.output
    res = invoke("sweep", balancer_sweep, "--out", out, "--resume", "--quiet")
    assert res.exit_code == 0, res.output
    assert "ran 0, skipped 6" in res.output

    md, table = tmp_path / "c.md", tmp_path / "c.csv"
    args = ["compare", out, "--wilcoxon", "--markdown", md, "--csv", table]
    if _has_matplotlib():
        args += ["--plot", "latency_p95_s", "--png", tmp_path / "p.png"]
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert "ranking" in res.output and "least_connections" in res.output
    # cost_usd when the runs report it, else instance_hours
    assert re.search(r"Pareto front of (cost_usd|instance_hours)", res.output)
    assert md.read_text().startswith("### latency_p95_s")
    assert table.read_text().startswith("variant,param.balancer.policy,metric")
    if _has_matplotlib():
        assert (tmp_path / "p.png").stat().st_size > 0


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


class ThreadPool:
    """A pool of threads in this process, so that monkeypatched code runs in the workers."""

    def __init__(self, *args, **kwargs) -> None:
        self.executor = ThreadPoolExecutor(2)
        self.slots = 2

    def renew(self) -> None:
        pass

    def close(self, abort: bool = False) -> None:
        self.executor.shutdown()


def test_a_sweep_with_a_crashing_run_exits_1_and_names_it(balancer_sweep, tmp_path,
                                                          monkeypatch):
    from simscale.sweep import engine

    simulate = engine._simulate

    def crash_least_connections(task, out_dir):
        if task.variant == "least_connections":
            raise RuntimeError("model exploded")
        return simulate(task, out_dir)

    monkeypatch.setattr(engine, "open_pool", ThreadPool)
    monkeypatch.setattr(engine, "_simulate", crash_least_connections)
    res = invoke("sweep", balancer_sweep, "--out", tmp_path / "out", "--quiet")
    assert res.exit_code == 1
    assert "6 runs (2 error, 4 ok)" in res.output
    assert "least_connections/000: error: RuntimeError: model exploded" in res.output


@pytest.mark.parametrize("args, message", [
    (["--set", "instances.cuont=3"], "instances.cuont: unknown field"),
    (["--engine", "spark"], "--engine spark"),
    (["--engine", "dask", "--address", "localhost"], "expected tcp://HOST:PORT"),
])
def test_bad_sweep_input_exits_2_with_a_message(balancer_sweep, tmp_path, args, message):
    res = invoke("sweep", balancer_sweep, "--out", tmp_path / "out", "--quiet", *args)
    assert res.exit_code == 2
    assert "error: " in res.output and message in res.output
    assert not (tmp_path / "out" / "runs").exists()


def test_an_empty_grid_exits_2(tmp_path):
    path = write_sweep(tmp_path, '[[parameters]]\npath = "instances.count"\nvalues = []\n')
    res = invoke("sweep", path, "--quiet")
    assert res.exit_code == 2
    assert "parameters.0: values is empty" in res.output


def test_compare_of_a_folder_without_a_sweep_exits_2(tmp_path):
    res = invoke("compare", tmp_path)
    assert res.exit_code == 2 and "no summary.parquet" in res.output


def test_plan_prints_the_points_and_the_answer(tmp_path):
    out = tmp_path / "plan.json"
    res = invoke("plan", QUICKSTART, "--slo", "latency_p95_s<=0.3", "--vary",
                 "instances.count=3:5", "-r", 2, "--set", "duration_s=20", "--quiet",
                 "--out", out)
    assert res.exit_code == 0, res.output
    assert "cheapest instances.count" in res.output
    data = json.loads(out.read_text())
    assert data["best"] in (3, 4, 5) and data["objective"] in ("cost_usd", "instance_hours")
    assert [p["value"] for p in data["points"]] == sorted(p["value"] for p in data["points"])


def test_plan_without_an_answer_exits_1_and_bad_input_exits_2():
    res = invoke("plan", QUICKSTART, "--slo", "latency_p95_s<=0.00001", "--vary",
                 "instances.count=3:4", "-r", 2, "--set", "duration_s=10", "--quiet")
    assert res.exit_code == 1
    res = invoke("plan", QUICKSTART, "--slo", "latency_p95_s<=1", "--vary", "instances.count")
    assert res.exit_code == 2 and "expected PATH=LOW:HIGH" in res.output


def test_importing_the_commands_loads_no_heavy_module():
    code = ("import sys, simscale.commands.sweep; "
            "print(sorted(m for m in ('numpy', 'pydantic', 'scipy', 'pyarrow', 'distributed', "
            "'matplotlib', 'simpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True, timeout=60).stdout
    assert out.strip() == "[]"
