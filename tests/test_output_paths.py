"""Unusable output paths exit 2 naming the path and the problem before any work; strict JSON."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from simscale.cli import app
from simscale.model.runner import run
from simscale.sweep.runlist import load_sweep
from simscale.sweep.table import write_summary_table
from tests.conftest import ROOT, small_spec
from tests.sweep.helpers import BALANCER_SWEEP, write_sweep

QUICKSTART = ROOT / "experiments" / "quickstart.toml"


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def refused(res, *expected: str) -> None:
    """The command exited 2 with one clear error line holding every expected part."""
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    assert "Traceback" not in res.output
    assert any(line.startswith("error: ") and all(e in line for e in expected)
               for line in res.output.splitlines()), res.output


@pytest.fixture
def sweep_folder(tmp_path):
    """A sweep folder with a summary.parquet of made-up runs (no simulation)."""
    sweep = load_sweep(write_sweep(tmp_path, BALANCER_SWEEP))
    records = [{"variant": t.variant, "replication": t.replication, "seed": t.seed,
                "params": t.params, "status": "ok", "error": None, "derived": {},
                "summary": {"latency_p95_s": 0.1 + 0.01 * i + 0.001 * (i * i % 5),
                            "throughput_rps": 100.0 + i * i % 7}}
               for i, t in enumerate(sweep.tasks)]
    folder = tmp_path / "sweep"
    folder.mkdir()
    write_summary_table(folder / "summary.parquet", sweep, records)
    return folder


@pytest.mark.parametrize("option, name, expected", [
    ("--markdown", "missing/c.md", "no such directory"),
    ("--csv", "missing/c.csv", "no such directory"),
    ("--csv", "sweep", "is a directory"),
    ("--markdown", "/proc/c.md", "cannot write in /proc"),
])
def test_compare_refuses_an_unusable_output_file_before_comparing(sweep_folder, option, name,
                                                                   expected):
    target = name if name.startswith("/") else sweep_folder.parent / name
    res = invoke("compare", sweep_folder, option, target)
    refused(res, option, str(target), expected)
    assert "ranking" not in res.output  # nothing was compared


def test_compare_refuses_a_plot_into_a_missing_directory(sweep_folder):
    target = sweep_folder / "missing" / "p.png"
    res = invoke("compare", sweep_folder, "--plot", "latency_p95_s", "--png", target)
    refused(res, "--png", str(target), "no such directory")


def test_compare_writes_markdown_and_csv_whole(sweep_folder):
    md, table = sweep_folder / "c.md", sweep_folder / "c.csv"
    res = invoke("compare", sweep_folder, "--markdown", md, "--csv", table)
    assert res.exit_code == 0, res.output
    assert md.read_text().startswith("### latency_p95_s")
    assert table.read_text().startswith("variant,")
    assert sorted(p.name for p in sweep_folder.iterdir()) == ["c.csv", "c.md", "summary.parquet"]


@pytest.mark.parametrize("setup, expected", [
    ("file", "exists and is not a directory"),
    ("under a file", "is a file, not a directory"),
])
def test_sweep_refuses_an_output_folder_that_cannot_be_one(tmp_path, setup, expected):
    (tmp_path / "f").write_text("keep me")
    out = tmp_path / "f" if setup == "file" else tmp_path / "f" / "out"
    res = invoke("sweep", write_sweep(tmp_path, BALANCER_SWEEP), "--out", out, "--quiet")
    refused(res, str(out), expected)
    assert (tmp_path / "f").read_text() == "keep me"


def test_plan_refuses_an_output_file_in_a_missing_directory_before_planning(tmp_path):
    target = tmp_path / "missing" / "plan.json"
    res = invoke("plan", QUICKSTART, "--slo", "latency_p95_s<=0.3", "--vary",
                 "instances.count=3:5", "-r", 2, "--set", "duration_s=5", "--quiet",
                 "--out", target)
    refused(res, "--out", str(target), "no such directory")
    assert "plan:" not in res.output


@pytest.mark.parametrize("setup, expected", [
    ("file", "exists and is not a directory"),
    ("under a file", "is a file, not a directory"),
    ("proc", "cannot write in /proc"),
])
def test_run_refuses_an_unusable_run_directory(tmp_path, setup, expected):
    (tmp_path / "f").write_text("keep me")
    out = {"file": tmp_path / "f", "under a file": tmp_path / "f" / "run",
           "proc": "/proc/simscale-run"}[setup]
    res = invoke("run", QUICKSTART, "--out", out, "--set", "duration_s=5", "--quiet")
    refused(res, str(out), expected)
    assert (tmp_path / "f").read_text() == "keep me"


def test_tui_with_a_missing_spec_exits_2_without_opening(tmp_path, monkeypatch):
    from simscale.tui.app import SimscaleApp

    opened = []
    monkeypatch.setattr(SimscaleApp, "run", lambda self, *a, **k: opened.append(self))
    res = invoke("tui", tmp_path / "missing.toml")
    refused(res, str(tmp_path / "missing.toml"), "no such file")
    res = invoke("tui", tmp_path)
    refused(res, str(tmp_path), "is a directory")
    (tmp_path / "f").write_text("")
    res = invoke("tui", QUICKSTART, "--runs", tmp_path / "f")
    refused(res, "--runs", "is not a directory")
    assert opened == []


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_summary_json_is_strict_json_when_a_total_is_not_finite(tmp_path):
    def overflow(model):
        model.hooks.summary.append(lambda extra: extra.update(
            cost_usd=math.inf, made_up_ratio=math.nan, nested={"x": -math.inf}))

    result = run(small_spec(), tmp_path / "run", on_start=overflow)
    summary = _strict((tmp_path / "run" / "summary.json").read_text())
    assert summary["cost_usd"] is None and summary["made_up_ratio"] is None
    assert summary["nested"] == {"x": None}
    assert summary["non_finite"] == ["cost_usd", "made_up_ratio"]
    assert summary["arrivals"] == result.summary["arrivals"] > 0
    assert result.summary["cost_usd"] is None


def test_sweep_records_and_manifests_are_strict_json(tmp_path):
    """What a sweep writes (run.json, manifest.json) stays JSON whatever a summary holds."""
    from simscale.sweep import engine

    record = {"summary": {"cost_usd": math.inf}, "wall_s": math.nan, "variant": "a"}
    engine._write_json(tmp_path / "run.json", record)
    assert _strict((tmp_path / "run.json").read_text()) == {
        "summary": {"cost_usd": None}, "wall_s": None, "variant": "a"}
