"""A run replaces its directory whole: a kill or a crash at any moment leaves a complete run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simscale.errors import InputError
from simscale.model.runner import run
from simscale.outputs import staging
from simscale.outputs.run_files import OUTPUT_NAMES
from simscale.reports.rundir import find_runs, load_run
from simscale.spec import load_spec
from tests.conftest import ROOT, small_spec

QUICKSTART = ROOT / "experiments" / "quickstart.toml"
# The new run of the kill test: about half a second of simulation here.
NEW_RUN = ["--set", "duration_s=60", "--seed", "2"]
DEADLINE_S = 60.0


def complete_run(folder: Path) -> dict:
    """The summary of the complete run in folder; fails unless all four files are whole and
    belong to the same run (no mix of an old and a new run)."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(OUTPUT_NAMES)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["complete"] is True
    for name in ("requests", "metrics", "events"):
        table = pq.read_table(folder / f"{name}.parquet")
        assert table.schema.metadata[b"simscale.spec_sha256"].decode() == summary["spec_sha256"]
        if name == "requests":
            assert table.num_rows == summary["arrivals"]
    return summary


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if staging.is_staging_name(p.name))


def test_the_old_run_stays_whole_until_the_new_one_is_complete(tmp_run):
    old = run(small_spec(), tmp_run).summary
    seen = []

    def check_then_crash(sim_t, end_t):
        seen.append(complete_run(tmp_run))  # mid-run, the old run is still all there
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(small_spec(seed=8), tmp_run, on_progress=check_then_crash)
    assert seen == [old]
    assert complete_run(tmp_run) == old
    assert leftovers(tmp_run) == []

    new = run(small_spec(seed=8), tmp_run).summary
    assert complete_run(tmp_run) == new and new["seed"] == 8
    assert leftovers(tmp_run) == []


def test_a_stopped_run_replaces_the_old_one_marked_incomplete(tmp_run):
    run(small_spec(), tmp_run)
    result = run(small_spec(seed=8), tmp_run, should_stop=lambda: True)
    summary = json.loads((tmp_run / "summary.json").read_text())
    assert summary == result.summary and summary["complete"] is False
    assert summary["failure"].startswith("stopped at t=")
    assert pq.read_metadata(tmp_run / "requests.parquet").num_rows == summary["arrivals"]


def _spawn(out: Path, prelude: str = "") -> subprocess.Popen:
    """`simscale run` of the new run into out, in a subprocess (prelude: Python run first)."""
    code = f"{prelude}\nfrom simscale.cli import main\nmain()"
    args = ["run", str(QUICKSTART), "--out", str(out), "--force", "--quiet", *NEW_RUN]
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(condition, proc: subprocess.Popen) -> bool:
    """Poll until condition() (True) or the process ended (False)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    proc.kill()
    pytest.fail("the run neither started writing nor ended in time")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=DEADLINE_S)


def _writing(out: Path, before: set[str]):
    """A condition: the new run has started writing (anything beside or in out changed)."""
    def changed() -> bool:
        try:
            return ({p.name for p in out.parent.iterdir()} != before
                    or {p.name for p in out.iterdir()} != set(OUTPUT_NAMES))
        except OSError:  # out moved away meanwhile
            return True
    return changed


def _summary_staged(out: Path):
    """A condition: a staging folder beside out holds summary.json (the swap comes next)."""
    def staged() -> bool:
        return any(staging.is_staging_name(p.name) and (p / "summary.json").exists()
                   for p in out.parent.iterdir())
    return staged


@pytest.mark.parametrize("prelude, moments", [
    ("", ["any", "writing+0", "writing+random", "writing+random", "summary written"]),
    ("import simscale.outputs.staging as s\ns._exchange = lambda a, b: False",
     ["writing+random", "summary written"]),
], ids=["exchange", "two-renames"])
def test_sigkill_at_random_moments_leaves_a_complete_run(tmp_path, prelude, moments):
    """Kill `simscale run` over a good run at random moments: from start-up, while writing
    (right away or after a random delay), and just before the swap; DIR always holds one
    complete run, the old or the new."""
    out = tmp_path / "run"
    old = run(load_spec(QUICKSTART, ["duration_s=10"]), out).summary
    new_sha = load_spec(QUICKSTART, ["duration_s=60"], seed=2).sha256()
    rng = random.Random()
    for moment in moments:
        before = {p.name for p in tmp_path.iterdir()}
        proc = _spawn(out, prelude)
        delay_s = 0.0
        if moment == "any":
            delay_s = rng.uniform(0.0, 1.5)
            time.sleep(delay_s)
        elif moment == "summary written":
            _wait_for(_summary_staged(out), proc)
        elif _wait_for(_writing(out, before), proc) and moment == "writing+random":
            delay_s = rng.uniform(0.0, 0.6)
            time.sleep(delay_s)
        _kill(proc)
        staging.recover(out)  # what a reader does before reading
        summary = complete_run(out)
        assert summary["spec_sha256"] in (old["spec_sha256"], new_sha), (moment, delay_s)
    proc = _spawn(out, prelude)
    assert proc.wait(timeout=DEADLINE_S) == 0, proc.stderr.read().decode()
    assert complete_run(out)["spec_sha256"] == new_sha
    assert leftovers(out) == []  # the finished run removed what the killed ones left


def test_a_kill_between_the_two_renames_is_recovered_by_readers(tmp_path):
    """Without an atomic exchange, a kill after DIR moved aside and before the new run moved
    in leaves DIR missing; reading it puts the complete new run in place."""
    out = tmp_path / "run"
    run(small_spec(), out)
    die_mid_swap = (
        "import os, signal\nimport simscale.outputs.staging as s\n"
        "s._exchange = lambda a, b: False\nrename = os.rename\n"
        "def rename_then_die(a, b):\n"
        "    rename(a, b)\n"
        "    if '.trash-' in str(b): os.kill(os.getpid(), signal.SIGKILL)\n"
        "s.os.rename = rename_then_die\n")
    proc = _spawn(out, die_mid_swap)
    assert proc.wait(timeout=DEADLINE_S) == -signal.SIGKILL
    assert not out.exists()
    assert [p.name for p in find_runs(tmp_path)] == ["run"]  # listing restores it
    data = load_run(out)
    assert data.problems == [] and data.summary["seed"] == 2
    complete_run(out)
    run(small_spec(), out)
    assert leftovers(out) == []


def test_load_run_restores_a_missing_directory_from_a_complete_staging_folder(tmp_path):
    out = tmp_path / "run"
    run(small_spec(seed=9), out)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    stage = tmp_path / f".run.partial-{staging._host()}-{pid}-0"
    out.rename(stage)
    assert load_run(out).summary["seed"] == 9 and not stage.exists()


def test_a_staging_folder_of_a_live_process_is_left_alone(tmp_path):
    out = tmp_path / "run"
    stage = tmp_path / f".run.partial-{staging._host()}-{os.getppid()}-0"
    stage.mkdir()
    (stage / "summary.json").write_text("{}")
    assert staging.recover(out) is False and stage.exists()
    run(small_spec(), out)
    assert stage.exists()  # its writer may still be committing


@pytest.mark.parametrize("setup, expected", [
    ("file", "exists and is not a directory"),
    ("under a file", "f is a file, not a directory"),
    ("foreign", "holds files that are not run outputs (notes.txt)"),
])
def test_an_unusable_run_directory_is_refused_before_the_run(tmp_path, setup, expected):
    (tmp_path / "f").write_text("keep me")
    out = {"file": tmp_path / "f", "under a file": tmp_path / "f" / "run",
           "foreign": tmp_path / "d"}[setup]
    if setup == "foreign":
        out.mkdir()
        (out / "notes.txt").write_text("keep me")
    started = []
    with pytest.raises(InputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        run(small_spec(), out, on_start=started.append)
    assert started == []
    assert (tmp_path / "f").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["f"] + (["d"] if setup == "foreign" else []))
