"""Runs are never lost: each `simscale run` gets its own directory; `latest` follows the
newest; `--out` writes exactly there and refuses a folder that holds anything without --force."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from simscale.cli import app
from simscale.outputs.rundirs import mark_latest, new_run_dir, resolve_run_dir
from simscale.reports.rundir import find_runs, load_run

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["--set", "duration_s=5", "--quiet"]


def run_cli(*args: str):
    return CliRunner().invoke(app, ["run", str(ROOT / "experiments" / "quickstart.toml"), *args])


def test_two_runs_without_out_keep_both_and_latest_is_the_newest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli(*QUICK).exit_code == 0
    assert run_cli(*QUICK, "--set", "instances.count=3").exit_code == 0
    folder = tmp_path / "runs" / "quickstart"
    runs = sorted(p for p in folder.iterdir() if p.name != "latest")
    assert len(runs) == 2
    summaries = [json.loads((p / "summary.json").read_text()) for p in runs]
    assert [p.name[-8:] for p in runs] == [s["spec_sha256"][:8] for s in summaries]
    newest = max(runs, key=lambda p: p.stat().st_mtime_ns)
    assert (folder / "latest").resolve() == newest.resolve()
    assert load_run(folder / "latest").summary == json.loads((newest / "summary.json").read_text())
    assert load_run(folder).path.resolve() == newest.resolve()  # runs/<name>/ opens the latest
    assert sorted(find_runs(tmp_path / "runs")) == runs  # `latest` is not listed twice


def test_same_second_same_spec_gets_a_numbered_directory(tmp_path):
    first = new_run_dir(tmp_path, "x", "abcdef0123", now_s=0)
    first.mkdir(parents=True)
    second = new_run_dir(tmp_path, "x", "abcdef0123", now_s=0)
    assert second.name == f"{first.name}-2"


def test_out_refuses_a_non_empty_folder_unless_forced(tmp_path):
    out = tmp_path / "mine"
    assert run_cli(*QUICK, "--out", str(out)).exit_code == 0
    before = json.loads((out / "summary.json").read_text())
    refused = run_cli(*QUICK, "--out", str(out), "--seed", "9")
    assert refused.exit_code == 2
    assert "not empty" in refused.output and "--force" in refused.output
    assert json.loads((out / "summary.json").read_text()) == before
    assert not (out.parent / "latest").exists()  # an explicit --out is not an experiment folder
    forced = run_cli(*QUICK, "--out", str(out), "--seed", "9", "--force")
    assert forced.exit_code == 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 9


def test_out_accepts_an_empty_folder(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert run_cli(*QUICK, "--out", str(out)).exit_code == 0
    assert (out / "summary.json").exists()


def test_a_pointer_file_is_followed_where_links_cannot_be_made(tmp_path, monkeypatch):
    run = tmp_path / "x" / "20250101-000000-abcdef01"
    run.mkdir(parents=True)
    (run / "summary.json").write_text("{}")

    def no_links(*args, **kwargs):
        raise OSError("links not supported")

    monkeypatch.setattr(os, "symlink", no_links)
    pointer = mark_latest(run)
    assert pointer is not None and pointer.is_file() and not pointer.is_symlink()
    assert resolve_run_dir(pointer) == run
    assert resolve_run_dir(tmp_path / "x") == run
