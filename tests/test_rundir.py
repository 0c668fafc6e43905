"""Reading run directories: whole, missing files, truncated files, not a run at all."""

from __future__ import annotations

import pytest

from simscale.errors import InputError
from simscale.model.runner import run
from simscale.reports.rundir import find_runs, load_run
from simscale.sections.alerts import AlertsSpec
from simscale.spec import load_spec
from tests.tui.conftest import write_run, write_spec


def test_reads_a_real_run(tmp_path):
    spec = load_spec(write_spec(tmp_path, "real", duration=60))
    run(spec, tmp_path / "runs" / "real")
    data = load_run(tmp_path / "runs" / "real")
    assert data.problems == [] and data.complete
    assert data.name == "real"
    assert len(data.metric_rows) == 7 and data.metric_rows[0]["t_s"] == 0.0
    assert data.spec["name"] == "real"
    assert data.alerts_spec() == AlertsSpec()  # the spec recorded the default [alerts]


def test_missing_and_truncated_files_are_named(tmp_path):
    folder = write_run(tmp_path / "r")
    (folder / "events.parquet").unlink()
    (folder / ".events.parquet.partial").write_bytes(b"PAR1")
    raw = (folder / "metrics.parquet").read_bytes()
    (folder / "metrics.parquet").write_bytes(raw[: len(raw) // 2])
    data = load_run(folder)
    text = "\n".join(data.problems)
    assert "metrics.parquet: unreadable, truncated or not Parquet" in text
    assert "events.parquet: missing (only a partial .events.parquet.partial" in text
    assert data.metric_rows == [] and not data.complete
    assert data.summary["name"] == "synthetic"


def test_bad_summary_and_incomplete_runs(tmp_path):
    folder = write_run(tmp_path / "r", summary={"complete": False, "failure": "stopped at t=5s"})
    assert "run incomplete: stopped at t=5s" in load_run(folder).problems
    (folder / "summary.json").write_text("{not json")
    assert any(p.startswith("summary.json: unreadable") for p in load_run(folder).problems)


def test_not_a_run_directory(tmp_path):
    with pytest.raises(InputError, match="no such directory"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a run directory"):
        load_run(tmp_path / "empty")


def test_find_runs(tmp_path):
    write_run(tmp_path / "runs" / "a")
    write_run(tmp_path / "runs" / "b")
    (tmp_path / "runs" / "junk").mkdir()
    assert sorted(p.name for p in find_runs(tmp_path / "runs")) == ["a", "b"]
    assert find_runs(tmp_path / "missing") == []
