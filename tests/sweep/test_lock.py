"""One process writes a sweep folder at a time, and its workers die with it (real processes)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simscale.errors import InputError
from simscale.sweep.lock import LOCK_NAME, SweepLock
from tests.sweep.helpers import ROOT, write_sweep

DEADLINE_S = 60.0
TWO_RUNS = """
replications = 1
[[parameters]]
path = "balancer.policy"
values = ["round_robin", "least_connections"]
"""


def dead_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_held_lock_refuses_a_second_holder_and_names_the_first(tmp_path):
    with SweepLock(tmp_path):
        holder = json.loads((tmp_path / LOCK_NAME).read_text())
        assert holder["pid"] == os.getpid()
        with pytest.raises(InputError, match=f"pid {os.getpid()} on "):
            SweepLock(tmp_path)
    assert not (tmp_path / LOCK_NAME).exists()  # released on exit
    SweepLock(tmp_path).release()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": dead_pid(), "host": "x"}))
    lock = SweepLock(tmp_path)
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()


def test_without_flock_the_recorded_pid_decides(tmp_path, monkeypatch):
    import fcntl
    import socket

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    host = socket.gethostname()
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": os.getppid(), "host": host}))
    with pytest.raises(InputError, match=f"pid {os.getppid()} on {host}"):
        SweepLock(tmp_path)
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": dead_pid(), "host": host}))
    SweepLock(tmp_path).release()


def _descendants(pid: int) -> set[int]:
    """Every process below pid, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _sweep(sweep: Path, out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "simscale", "sweep", str(sweep), "--out", str(out),
            "--quiet", *args]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_killing_the_sweep_process_ends_its_workers_and_frees_the_folder(tmp_path):
    sweep = write_sweep(tmp_path, TWO_RUNS)
    out = tmp_path / "out"
    main = subprocess.Popen(_sweep(sweep, out, "--workers", "2", "--set", "duration_s=100000"),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not list(out.glob("runs/*/.*.partial")):  # workers are simulating
            assert main.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)

        workers = _descendants(main.pid)
        assert len(workers) >= 2

        busy = subprocess.run(_sweep(sweep, out, "--resume"), cwd=ROOT, capture_output=True,
                              text=True, timeout=DEADLINE_S)
        assert busy.returncode == 2, busy.stderr
        assert f"pid {main.pid} on " in busy.stderr and "Traceback" not in busy.stderr

        os.kill(main.pid, signal.SIGKILL)
        main.wait(timeout=DEADLINE_S)
        deadline = time.monotonic() + 15.0
        while _alive(workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive(workers) == set()
    finally:
        for pid in _alive(workers) | ({main.pid} if main.poll() is None else set()):
            os.kill(pid, signal.SIGKILL)

    # the lock of the killed sweep is stale: a resume takes it over and finishes every run
    done = subprocess.run(_sweep(sweep, out, "--resume", "--set", "duration_s=2"), cwd=ROOT,
                          capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr
    assert "2 runs (2 ok)" in done.stdout
    assert not (out / LOCK_NAME).exists()
    assert list(out.glob("runs/*/.*")) == []
