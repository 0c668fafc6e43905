"""Load tests: experiments run in a bounded pool of worker processes, queued beyond it.

A submitted run gets the run directory `simscale run` would give it,
`RUNS/<name>/<yyyymmdd-hhmmss>-<hash>/` (simscale.outputs.rundirs), and its id is that directory
relative to RUNS, e.g. `quickstart/20260101-120000-1a2b3c4d`: an id matches ID_PATTERN (one
or two plain segments, never `..`, a leading dot or `latest`) and resolves under RUNS only.
A record `RUNS/.serve/ID.json` is written before a run is accepted. Its outputs are written
through simscale.model.runner (in the worker, via tui.live.LiveRun), whose live updates come back
over a queue into the same DashboardState the TUI fills; when it ends, `RUNS/<name>/latest`
points at it. A cancelled run stops as the TUI's stop does: outputs kept, summary marked
incomplete. After a restart, runs with a summary are served from their directories, and
accepted runs without one are queued again from the start (a run is deterministic: the same
spec and seed give the same tables). Run directories already under RUNS are listed too,
flat (`RUNS/ID/`, as `--out` and earlier servers wrote them) or two levels deep.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import queue
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simscale.errors import InputError
from simscale.monitoring.alerts import spec_rules
from simscale.outputs.rundirs import LATEST, mark_latest, new_run_dir, run_dir_for
from simscale.reports.rundir import find_runs, is_run_dir
from simscale.tui.state import DashboardState

SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
ID_PATTERN = re.compile(rf"^{SEGMENT}(/{SEGMENT})?$")
RECORDS = ".serve"
QUEUED, RUNNING, STOPPING = "queued", "running", "stopping"
FINISHED, STOPPED, FAILED, CANCELLED, INCOMPLETE = (
    "finished", "stopped", "failed", "cancelled", "incomplete")
ACTIVE = (QUEUED, RUNNING, STOPPING)
STATES = (QUEUED, RUNNING, STOPPING, FINISHED, STOPPED, FAILED, CANCELLED, INCOMPLETE)


class QueueFull(Exception):
    """More runs are waiting than the pool accepts."""


@dataclass
class RunEntry:
    """A run this server accepted: where it is, what it has reported."""

    run_id: str
    name: str
    submitted_s: float
    spec: Any
    spec_data: dict | None
    state: str = QUEUED
    started_s: float | None = None
    ended_s: float | None = None
    sim_t_s: float = 0.0
    end_s: float = 0.0
    summary: dict | None = None
    error: str | None = None
    process: Any = None
    cancel: Any = None
    live: DashboardState | None = None
    requeued: bool = False
    extra: dict = field(default_factory=dict)


def folder_name(name: str) -> str:
    """The experiment folder of a run: its name, or (a name with other characters than
    letters, digits, '.', '_', '-') the name with those replaced by '-'."""
    if re.fullmatch(SEGMENT, name):
        return name
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)[:128].lstrip(".-_") or "run"


def iso(t_s: float | None) -> str | None:
    if t_s is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_s))


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def state_of_summary(summary: dict) -> str:
    """finished, stopped (cancelled or interrupted) or failed, from a summary.json."""
    if summary.get("complete", True):
        return FINISHED
    return STOPPED if str(summary.get("failure", "")).startswith("stopped") else FAILED


class RunPool:
    """At most `workers` runs at once; up to `max_queued` waiting; thread-safe."""

    def __init__(self, runs_dir: Path, workers: int = 2, max_queued: int = 100,
                 clock=time.time) -> None:
        self.runs_dir = Path(runs_dir)
        self.records_dir = self.runs_dir / RECORDS
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.max_queued = max_queued
        self.clock = clock
        self._ctx = mp.get_context("spawn")
        self._messages = self._ctx.Queue()
        self._entries: dict[str, RunEntry] = {}
        self._queue: deque[str] = deque()
        self._lock = threading.RLock()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._recover()

    # ------------------------------------------------------------ paths and records

    def run_dir(self, run_id: str) -> Path | None:
        """The run directory of an id, under RUNS; None when the id could name anything else
        (not an id, a `latest` pointer, a path through a symbolic link)."""
        if not ID_PATTERN.fullmatch(run_id) or run_id.split("/")[-1] == LATEST:
            return None
        path = self.runs_dir / run_id
        if path.is_symlink() or path.parent.is_symlink():
            return None
        return path

    def _taken(self, run_id: str) -> bool:
        return (run_id in self._entries or self._record_path(run_id).exists()
                or (self.runs_dir / run_id).exists())

    def _new_run_id(self, spec, now_s: float) -> str:
        """The id of a new run: its directory as `simscale run` would make it, relative to
        RUNS, with -2, -3, … when a run accepted here already has that name."""
        name = folder_name(spec.name)
        path = (run_dir_for(spec, self.runs_dir, now_s) if name == spec.name
                else new_run_dir(self.runs_dir, name, spec.sha256(), now_s))
        base = path.relative_to(self.runs_dir).as_posix()
        run_id, n = base, 2
        while self._taken(run_id):
            run_id, n = f"{base}-{n}", n + 1
        return run_id

    def _record_ids(self) -> list[tuple[str, Path]]:
        """(id, record file) of every record: RECORDS/<name>/<time>-<hash>.json, and the
        flat RECORDS/ID.json of earlier servers."""
        out = []
        for path in [*self.records_dir.glob("*.json"), *self.records_dir.glob("*/*.json")]:
            run_id = path.relative_to(self.records_dir).as_posix().removesuffix(".json")
            if ID_PATTERN.fullmatch(run_id):
                out.append((run_id, path))
        return out

    def _record_path(self, run_id: str) -> Path:
        return self.records_dir / f"{run_id}.json"

    def _read_record(self, run_id: str) -> dict | None:
        try:
            return json.loads(self._record_path(run_id).read_text())
        except (OSError, ValueError):
            return None

    def _recover(self) -> None:
        """Queue again the accepted runs that have no summary and were not cancelled."""
        from simscale.spec import spec_from_dict

        records = []
        for run_id, _ in self._record_ids():
            record = self._read_record(run_id)
            if record and record.get("id") == run_id:
                records.append(record)
        for record in sorted(records, key=lambda r: r.get("submitted_s", 0.0)):
            run_id = record["id"]
            if record.get("cancelled") or (self.runs_dir / run_id / "summary.json").exists():
                continue
            entry = RunEntry(run_id, record.get("name", run_id), record["submitted_s"], None,
                             record["spec_data"], requeued=True)
            try:
                entry.spec = spec_from_dict(record["spec_data"], run_id)
            except InputError as exc:
                entry.state, entry.error = FAILED, "; ".join(exc.problems)
            self._entries[run_id] = entry
            if entry.state == QUEUED:
                self._queue.append(run_id)

    # ------------------------------------------------------------ control

    def submit(self, spec, spec_data: dict) -> dict:
        """Accept a validated spec: record it, queue it; QueueFull beyond max_queued."""
        now = self.clock()
        with self._lock:
            if len(self._queue) >= self.max_queued:
                raise QueueFull(f"{len(self._queue)} runs are already waiting")
            run_id = self._new_run_id(spec, now)
            self._record_path(run_id).parent.mkdir(parents=True, exist_ok=True)
            _write_json(self._record_path(run_id), {
                "id": run_id, "name": spec.name, "submitted_s": now, "spec_data": spec_data})
            entry = RunEntry(run_id, spec.name, now, spec, spec_data)
            self._entries[run_id] = entry
            self._queue.append(run_id)
            return self._describe(entry)

    def cancel(self, run_id: str) -> tuple[str, dict | None]:
        """('ok', run) when cancelled or stopping; ('done', run) when already over;
        ('unknown', None) otherwise."""
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is None:
                run = self.describe(run_id)
                return ("done", run) if run is not None else ("unknown", None)
            if entry.state == QUEUED:
                self._queue.remove(run_id)
                entry.state, entry.ended_s = CANCELLED, self.clock()
                record = self._read_record(run_id) or {"id": run_id}
                _write_json(self._record_path(run_id), {**record, "cancelled": True})
            elif entry.state == RUNNING:
                entry.cancel.set()
                entry.state = STOPPING
            elif entry.state != STOPPING:
                return "done", self._describe(entry)
            return "ok", self._describe(entry)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._supervise, name="run-pool", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the pool; running workers are ended (their runs start again next time)."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        with self._lock:
            for entry in self._entries.values():
                if entry.process is not None and entry.process.is_alive():
                    entry.process.kill()
                    entry.process.join(timeout_s)
                entry.cancel = None
        self._messages.close()
        self._messages.join_thread()
        self._messages = None  # its semaphores are released with it (no warning at exit)

    # ------------------------------------------------------------ the supervisor thread

    def _supervise(self) -> None:
        while not self._closing.is_set():
            self._drain(0.1)
            self._reap()
            self._launch()

    def _launch(self) -> None:
        from simscale.serve.runworker import run_one

        with self._lock:
            running = sum(1 for e in self._entries.values() if e.process is not None)
            while self._queue and running < self.workers:
                entry = self._entries[self._queue.popleft()]
                out_dir = self.run_dir(entry.run_id)
                lock = self.records_dir / f"{entry.run_id}.lock"
                entry.cancel = self._ctx.Event()
                entry.process = self._ctx.Process(
                    target=run_one, name=f"run-{entry.run_id}", daemon=True,
                    args=(entry.run_id, entry.spec_data, str(out_dir), str(lock),
                          self._messages, entry.cancel, os.getpid()))
                entry.process.start()
                entry.state = RUNNING
                entry.end_s = float(entry.spec.duration_s)
                entry.live = DashboardState(spec_rules(entry.spec))
                running += 1

    def _drain(self, timeout_s: float) -> None:
        try:
            message = self._messages.get(timeout=timeout_s)
        except queue.Empty:
            return
        while True:
            self._handle(*message)
            try:
                message = self._messages.get_nowait()
            except queue.Empty:
                return

    def _handle(self, run_id: str, kind: str, payload) -> None:
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is None:
                return
            if kind == "started":
                entry.started_s = self.clock()
            elif kind == "update" and entry.live is not None:
                entry.sim_t_s, entry.end_s = payload.sim_t_s, payload.end_s
                entry.live.add_rows(payload.rows)
                entry.live.add_events(payload.events)
                entry.live.set_instances(payload.instances)
            elif kind == "done":
                state, summary, error = payload
                entry.state = {"finished": FINISHED, "stopped": STOPPED}.get(state, FAILED)
                entry.summary, entry.error = summary, error
                if "/" in run_id:  # RUNS/<name>/latest, as `simscale run` and the TUI do
                    mark_latest(self.runs_dir / run_id)
                self._ended(entry)

    def _ended(self, entry: RunEntry) -> None:
        entry.ended_s = self.clock()
        entry.live = None  # from now on the directory answers
        entry.spec_data = None
        entry.cancel = None
        if entry.process is not None:
            entry.process.join(5.0)
            entry.process = None
        (self.records_dir / f"{entry.run_id}.lock").unlink(missing_ok=True)

    def _reap(self) -> None:
        """A worker that died without saying how its run ended (killed, out of memory)."""
        with self._lock:
            dead = [e for e in self._entries.values()
                    if e.process is not None and not e.process.is_alive()]
        for entry in dead:
            self._drain(0.0)
            with self._lock:
                if entry.process is not None:
                    code = entry.process.exitcode
                    entry.state, entry.error = FAILED, f"worker exited with code {code}"
                    self._ended(entry)

    # ------------------------------------------------------------ reading

    def _describe(self, entry: RunEntry) -> dict:
        progress = min(1.0, entry.sim_t_s / entry.end_s) if entry.end_s else 0.0
        if entry.state == FINISHED:
            progress = 1.0
        return {
            "id": entry.run_id, "name": entry.name, "state": entry.state,
            "progress": progress, "sim_t_s": entry.sim_t_s, "end_s": entry.end_s,
            "submitted_at": iso(entry.submitted_s), "started_at": iso(entry.started_s),
            "ended_at": iso(entry.ended_s), "requeued": entry.requeued,
            "error": entry.error, "summary": entry.summary, **links(entry.run_id),
        }

    def describe(self, run_id: str) -> dict | None:
        """One run: from memory while this server runs it, else from its directory."""
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is not None and (entry.state in ACTIVE or entry.state == CANCELLED
                                      or entry.summary is None):
                return self._describe(entry)
        path = self.run_dir(run_id)
        if path is None:
            return None
        run = self._from_disk(run_id, path)
        if run is not None and entry is not None:  # ended here: when it started and ended
            run.update(started_at=iso(entry.started_s), ended_at=iso(entry.ended_s),
                       requeued=entry.requeued)
        return run

    def _from_disk(self, run_id: str, path: Path) -> dict | None:
        record = self._read_record(run_id)
        summary = None
        try:
            summary = json.loads((path / "summary.json").read_text())
        except (OSError, ValueError):
            pass
        if summary is None and record is None and not is_run_dir(path):
            return None
        if isinstance(summary, dict):
            state = state_of_summary(summary)
        else:
            summary = None
            state = CANCELLED if record and record.get("cancelled") else INCOMPLETE
        name = (summary or {}).get("name") or (record or {}).get("name") or run_id
        submitted = (record or {}).get("submitted_s")
        progress = 1.0 if state == FINISHED else 0.0
        if summary:
            done = summary.get("simulated_s") or 0.0
            progress = min(1.0, done / summary["duration_s"]) if summary.get("duration_s") \
                else progress
        return {
            "id": run_id, "name": name, "state": state, "progress": progress,
            "sim_t_s": (summary or {}).get("simulated_s", 0.0),
            "end_s": (summary or {}).get("duration_s", 0.0),
            "submitted_at": iso(submitted), "started_at": None, "ended_at": None,
            "requeued": False, "error": (summary or {}).get("failure"), "summary": summary,
            **links(run_id),
        }

    def list_runs(self, limit: int) -> list[dict]:
        """Runs started here and run directories already under the runs folder, newest first."""
        with self._lock:
            ids = {run_id: e.submitted_s for run_id, e in self._entries.items()}
        for run_id, path in self._record_ids():
            ids.setdefault(run_id, _mtime(path))
        for path in find_runs(self.runs_dir):
            ids.setdefault(path.relative_to(self.runs_dir).as_posix(), _mtime(path))
        newest = sorted((t, run_id) for run_id, t in ids.items() if self.run_dir(run_id))
        out = []
        for _, run_id in reversed(newest):
            if len(out) >= limit:
                break
            run = self.describe(run_id)
            if run is not None:
                out.append(run)
        return out

    def counts(self) -> dict[str, int]:
        """Runs of this server by state (for /metrics and /api/health)."""
        out = dict.fromkeys(STATES, 0)
        with self._lock:
            for entry in self._entries.values():
                out[entry.state] += 1
        return out

    def live_state(self, run_id: str):
        """(DashboardState, lock) of a run in progress; None when it is not running here."""
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is None or entry.live is None:
                return None
            return entry.live, self._lock


def links(run_id: str) -> dict:
    return {"links": {"self": f"/api/monitoring/load-test/{run_id}",
                      "dashboard": f"/api/monitoring/dashboard?run={run_id}"}}


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
