"""The sweep engine: run folders, manifest, summary table, resume, crash isolation, Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simscale.errors import InputError
from simscale.sweep import engine
from simscale.sweep.engine import execute_run, run_sweep
from simscale.sweep.runlist import load_sweep
from tests.sweep.helpers import write_sweep

ONE_VARIANT = '[[parameters]]\npath = "instances.count"\nvalues = [4]\n'
RUN_FILES = {"summary.json", "metrics.parquet", "events.parquet", "requests.parquet",
             "run.json"}


def run_folders(out: Path) -> dict[str, set[str]]:
    """Every folder under out/runs/<variant>/ with the names of its files."""
    found = {}
    for variant in (out / "runs").iterdir():
        for child in variant.iterdir():
            found[f"{variant.name}/{child.name}"] = {p.name for p in child.iterdir()}
    return found


def test_a_sweep_writes_complete_run_folders_a_manifest_and_one_row_per_run(
        balancer_sweep, tmp_path):
    out = tmp_path / "out"
    sweep = load_sweep(balancer_sweep)
    result = run_sweep(sweep, out, workers=2)
    assert result.counts == {"ok": 6}
    assert (result.ran, result.skipped) == (6, 0)
    assert run_folders(out) == {f"{v}/{r:03d}": RUN_FILES
                                for v in ("round_robin", "least_connections",
                                          "power_of_two_choices") for r in range(2)}
    table = pq.read_table(out / "summary.parquet").to_pydict()
    assert table["variant"] == ["round_robin"] * 2 + ["least_connections"] * 2 + [
        "power_of_two_choices"] * 2
    assert table["replication"] == [0, 1] * 3
    assert table["seed"] == [7, 8] * 3
    assert table["param.balancer.policy"] == table["variant"]
    assert table["run_status"] == ["ok"] * 6
    assert "wall_s" not in table  # wall-clock time differs between identical runs
    for key in ("latency_p95_s", "arrivals", "instance_hours"):
        assert all(isinstance(x, int | float) for x in table[key])
    # common random numbers: replication r sees the same arrivals in every variant
    assert table["arrivals"][0::2] == [table["arrivals"][0]] * 3
    assert table["arrivals"][1::2] == [table["arrivals"][1]] * 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r["status"] for r in manifest["runs"]] == ["ok"] * 6
    assert manifest["baseline"] == "round_robin"
    summary = json.loads((out / "runs/round_robin/001/summary.json").read_text())
    assert summary["seed"] == 8 and summary["complete"] is True


def test_an_existing_sweep_folder_needs_resume(balancer_sweep, tmp_path):
    sweep = load_sweep(balancer_sweep, replications=1)
    run_sweep(sweep, tmp_path / "out", workers=1)
    with pytest.raises(InputError, match="already holds a sweep"):
        run_sweep(sweep, tmp_path / "out", workers=1)


def test_interrupt_leaves_complete_folders_and_resume_runs_only_the_rest(
        balancer_sweep, tmp_path):
    sweep = load_sweep(balancer_sweep)
    out = tmp_path / "out"
    seen = []

    def stop_after_two(record):
        seen.append(record)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out, workers=1, on_record=stop_after_two)
    folders = run_folders(out)
    assert all(files == RUN_FILES for files in folders.values())  # no partial folder
    assert not list((out / "runs").glob("*/.*"))
    assert 2 <= len(folders) < 6
    partial = pq.read_table(out / "summary.parquet").to_pydict()
    assert len(partial["variant"]) == len(folders)

    resumed = []
    result = run_sweep(sweep, out, workers=2, resume=True, on_record=resumed.append)
    assert result.skipped == len(folders)
    assert result.ran == 6 - len(folders)
    done_first = {(r["variant"], r["replication"]) for r in seen}
    assert not done_first & {(r["variant"], r["replication"]) for r in resumed}

    fresh = run_sweep(sweep, tmp_path / "fresh", workers=2)
    assert fresh.counts == result.counts == {"ok": 6}
    assert pq.read_table(out / "summary.parquet").equals(
        pq.read_table(tmp_path / "fresh" / "summary.parquet"), check_metadata=True)


def test_resume_reruns_a_run_whose_spec_changed(balancer_sweep, tmp_path):
    out = tmp_path / "out"
    run_sweep(load_sweep(balancer_sweep, replications=1), out, workers=2)
    result = run_sweep(load_sweep(balancer_sweep, ["duration_s=5"], replications=1), out,
                       workers=2, resume=True)
    assert (result.ran, result.skipped) == (3, 0)
    summary = json.loads((out / "runs/round_robin/000/summary.json").read_text())
    assert summary["duration_s"] == 5


def test_a_run_that_crashes_is_recorded_and_the_others_finish(tmp_path):
    trace = tmp_path / "service.txt"
    trace.write_text("0.01\n0.02\n0.03\n")
    path = write_sweep(tmp_path, f"""
replications = 2
[[parameters]]
path = "workload.service"
labels = ["lognormal", "trace"]
values = [{{kind = "lognormal", mean_s = 0.04, cv = 1.5}}, {{kind = "empirical", path = "{trace}"}}]
""")
    sweep = load_sweep(path)  # validated while the file exists
    trace.unlink()  # the trace variant now fails inside its runs
    out = tmp_path / "out"
    result = run_sweep(sweep, out, workers=2)
    assert result.counts == {"ok": 2, "error": 2}
    errors = [r for r in result.records if r["status"] == "error"]
    assert {r["variant"] for r in errors} == {"trace"}
    assert "service.txt" in errors[0]["error"] and "Traceback" in errors[0]["traceback"]
    run_json = json.loads((out / "runs/trace/000/run.json").read_text())
    assert run_json["status"] == "error"
    table = pq.read_table(out / "summary.parquet").to_pydict()
    assert table["run_status"] == ["ok", "ok", "error", "error"]
    assert table["latency_p95_s"][2:] == [None, None]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [r.get("error") is not None for r in manifest["runs"]] == [False, False, True, True]

    # resume tries errored runs again (here they fail again: the file is still missing)
    again = run_sweep(sweep, out, workers=2, resume=True)
    assert (again.ran, again.skipped) == (2, 2)


def test_execute_run_records_an_exception_and_keeps_no_partial_folder(tmp_path, monkeypatch):
    sweep = load_sweep(write_sweep(tmp_path, ONE_VARIANT),
                       replications=1)
    task = sweep.tasks[0]

    def boom(task, out_dir):
        (out_dir / "requests.parquet").write_text("half")
        raise RuntimeError("model exploded")

    monkeypatch.setattr(engine, "_simulate", boom)
    record = execute_run(task, str(tmp_path / "runs"))
    assert record["status"] == "error"
    assert record["error"] == "RuntimeError: model exploded"
    folder = tmp_path / "runs" / task.folder
    assert json.loads((folder / "run.json").read_text())["status"] == "error"
    assert not list(folder.parent.glob(".*"))


def test_execute_run_removes_its_partial_folder_on_interrupt(tmp_path, monkeypatch):
    sweep = load_sweep(write_sweep(tmp_path, ONE_VARIANT),
                       replications=1)
    task = sweep.tasks[0]

    def interrupted(task, out_dir):
        (out_dir / "summary.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "_simulate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        execute_run(task, str(tmp_path / "runs"))
    assert list((tmp_path / "runs" / task.variant).iterdir()) == []


def test_summary_outputs_skip_the_request_table(tmp_path):
    path = write_sweep(tmp_path, 'outputs = "summary"\n' + ONE_VARIANT)
    out = tmp_path / "out"
    run_sweep(load_sweep(path, replications=1), out, workers=1)
    assert run_folders(out) == {"4/000": RUN_FILES - {"requests.parquet"}}


def test_bad_engine_options_are_input_errors(balancer_sweep, tmp_path):
    sweep = load_sweep(balancer_sweep, replications=1)
    with pytest.raises(InputError, match="--engine spark"):
        run_sweep(sweep, tmp_path / "a", engine="spark")
    with pytest.raises(InputError, match="--address needs --engine dask"):
        run_sweep(sweep, tmp_path / "b", address="tcp://127.0.0.1:8786")
