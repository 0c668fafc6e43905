"""Run a sweep: each run in a worker, on one executor code path (simscale.sweep.pools: a process
pool or Dask), the manifest, and resume. The run list is simscale.sweep.runlist's.

Layout of a sweep folder DIR:

    DIR/manifest.json                 the sweep and every planned run: folder, seed, spec
                                      sha256 and status (rewritten at most once a second
                                      and when the sweep ends or is interrupted); the
                                      sweep's claims, when it has any
    DIR/runs/<variant>/<rep>/         one finished run: the run's outputs plus run.json,
                                      the run's own manifest entry with its summary
    DIR/summary.parquet               one row per run: parameters and summary metrics
    DIR/sweep.lock                    while a sweep writes DIR: its pid, host and start
                                      time (simscale.sweep.lock)

A run is written into `DIR/runs/<variant>/.<rep>.partial` and renamed when complete, so an
interrupted sweep leaves only complete run folders (partial ones are removed). A run that
raises is recorded (status "error", with its message and traceback) and the others go on.
`--resume` skips every planned run whose folder holds a run.json with status ok or
incomplete and the same resolved spec (sha256): run.json is renamed into place with its
run, so it is exact even when the sweep was killed before the manifest caught up. Errored
runs, and runs whose spec changed, are run again. Only one process writes DIR at a time:
another sweep into it (`--resume` included) exits 2 naming the holder while it lives, and
takes the lock over once it is gone.

Workers never outlive the sweep: a local-pool worker exits as soon as the process that
started the pool is gone, even when that process was SIGKILLed (exit_with_parent); the
workers of Dask's LocalCluster do the same through their nanny processes, which watch
their parent the same way.

Both engines are a `concurrent.futures.Executor` (a ProcessPoolExecutor, or a Dask client's
`get_executor`), and results depend only on each run's spec and seed, so every engine
writes the same summary table (rows sorted by variant, then replication).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simscale.errors import InputError
from simscale.sweep.pools import DaskPool, LocalPool, open_pool
from simscale.sweep.runlist import RunTask, Sweep

FINISHED = ("ok", "incomplete")
RUN_RECORD = "run.json"
MANIFEST = "manifest.json"
SUMMARY_TABLE = "summary.parquet"
# Summary keys that vary between identical runs (wall-clock time) stay out of summary.parquet.
NONDETERMINISTIC_KEYS = ("wall_s",)
MANIFEST_INTERVAL_S = 1.0


@dataclass
class SweepResult:
    """What a sweep call produced: every run's record (sorted), and what happened now."""

    out_dir: Path
    records: list[dict]
    ran: int = 0
    skipped: int = 0
    interrupted: bool = False
    counts: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------- one run (in a worker)


def execute_run(task: RunTask, runs_dir: str | None) -> dict:
    """Simulate one task; write its folder atomically when runs_dir is given; return its record.

    Runs in a worker process (or Dask worker). Never raises for a failing run: the record
    says status "error" with the message and traceback. KeyboardInterrupt removes the
    partial folder and propagates.
    """
    start = time.perf_counter()
    record: dict[str, Any] = {
        "variant": task.variant, "variant_index": task.variant_index,
        "replication": task.replication, "seed": task.seed, "params": task.params,
        "spec_sha256": task.spec_sha256, "status": "error", "error": None, "summary": {},
        "derived": {},
    }
    tmp = final = None
    if runs_dir is not None:
        final = Path(runs_dir) / task.folder
        tmp = final.parent / f".{final.name}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    try:
        sim_start = time.perf_counter()
        result = _simulate(task, tmp)
        record["run_wall_s"] = time.perf_counter() - sim_start
        summary = result.summary
        record["summary"] = summary
        record["derived"] = _derived(summary, result.metric_rows)
        if summary.get("complete", True):
            record["status"] = "ok"
        else:
            record["status"] = "incomplete"
            record["error"] = summary.get("failure")
    except Exception as exc:  # a crashing run is recorded, and the sweep goes on
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc()
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    record["wall_s"] = time.perf_counter() - start
    if tmp is not None and final is not None:
        try:
            _write_json(tmp / RUN_RECORD, record)
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return record


def _simulate(task: RunTask, out_dir: Path | None):
    from simscale.model.runner import run
    from simscale.spec import spec_from_dict

    spec = spec_from_dict(task.spec_data, f"variant {task.variant!r}")
    if out_dir is None or task.outputs == "full":
        return run(spec, out_dir, in_place=out_dir is not None)  # the folder is renamed whole
    result = run(spec, None)
    _write_light_outputs(spec, result, out_dir)
    return result


def _write_light_outputs(spec, result, out_dir: Path) -> None:
    """outputs = "summary": summary.json, metrics.parquet and events.parquet (no requests)."""
    from simscale.outputs.run_files import events_table, metadata, metrics_table
    from simscale.outputs.sink import write_table

    meta = metadata(spec)
    write_table(out_dir / "metrics.parquet", metrics_table(result.metric_rows), meta)
    write_table(out_dir / "events.parquet", events_table(result.events), meta)
    _write_json(out_dir / "summary.json", result.summary)


def _derived(summary: dict, metric_rows: list[dict]) -> dict:
    """Metrics computed from the run's tables: instance_hours (Σ ready instances × interval)
    when the summary has none."""
    derived: dict[str, float | None] = {}
    if "instance_hours" not in summary:
        total = 0.0
        for row in metric_rows:
            ready = row.get("instances_ready")
            if ready is not None:
                total += ready * row.get("interval_s", 0.0)
        derived["instance_hours"] = total / 3600.0
    return derived


def _write_json(path: Path, data: Any) -> None:
    from simscale.outputs import write_json

    write_json(path, data)


def execute(tasks: list[RunTask], pool: LocalPool | DaskPool, runs_dir: str | None,
            on_record: Callable[[dict], None]) -> None:
    """Run tasks on the pool, at most pool.slots at once; on_record(record) as each finishes.

    A task whose worker died is recorded as an error and the pool renewed. Exceptions from
    on_record (and KeyboardInterrupt) propagate after pending tasks are cancelled.
    """
    queue = list(reversed(tasks))
    running: dict[Future, RunTask] = {}
    try:
        while queue or running:
            while queue and len(running) < pool.slots:
                task = queue.pop()
                running[pool.executor.submit(execute_run, task, runs_dir)] = task
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for fut in sorted(done, key=lambda f: running[f].folder):
                task = running.pop(fut)
                try:
                    record = fut.result()
                except BrokenProcessPool as exc:
                    broken = True
                    record = error_record(task, f"worker process died: {exc}")
                except Exception as exc:  # lost Dask worker, unpicklable result, …
                    record = error_record(task, f"{type(exc).__name__}: {exc}")
                on_record(record)
            if broken:
                for fut, task in list(running.items()):
                    running.pop(fut)
                    queue.append(task)
                pool.renew()
    finally:
        for fut in running:
            fut.cancel()


def error_record(task: RunTask, message: str) -> dict:
    return {
        "variant": task.variant, "variant_index": task.variant_index,
        "replication": task.replication, "seed": task.seed, "params": task.params,
        "spec_sha256": task.spec_sha256, "status": "error", "error": message,
        "summary": {}, "derived": {}, "wall_s": None,
    }


# ---------------------------------------------------------------- the sweep


def run_sweep(sweep: Sweep, out_dir: str | Path, *, workers: int | None = None,
              engine: str = "local", address: str | None = None, resume: bool = False,
              on_start: Callable[[int, int], None] | None = None,
              on_record: Callable[[dict], None] | None = None,
              dask_processes: bool = True) -> SweepResult:
    """Run every task of `sweep` into out_dir; write the manifest and summary.parquet.

    on_start(to_run, skipped) is called once the pool is up; on_record(record) after each
    finished run. Raises InputError when out_dir cannot be a folder (a file, under a file,
    not writable), when another live process is writing it (DIR/sweep.lock), when it already
    holds a sweep and resume is False, or when the engine cannot start. On KeyboardInterrupt,
    running tasks are stopped, only complete run folders stay, summary.parquet covers the
    finished runs, and the interrupt propagates.
    """
    from simscale.outputs import ensure_dir
    from simscale.sweep.lock import SweepLock

    out = ensure_dir(Path(out_dir))
    with SweepLock(out):
        return _run_sweep_locked(sweep, out, workers, engine, address, resume, on_start,
                                 on_record, dask_processes)


def _run_sweep_locked(sweep: Sweep, out: Path, workers: int | None, engine: str,
                      address: str | None, resume: bool,
                      on_start: Callable[[int, int], None] | None,
                      on_record: Callable[[dict], None] | None,
                      dask_processes: bool) -> SweepResult:
    """run_sweep, once this process holds the folder's lock."""
    runs_dir = out / "runs"
    manifest_path = out / MANIFEST
    if manifest_path.exists() and not resume:
        raise InputError(f"{out}: already holds a sweep (use --resume, or another --out)")
    previous = finished_records(out, sweep) if resume else {}
    todo = [t for t in sweep.tasks if (t.variant, t.replication) not in previous]
    remove_partial_folders(runs_dir)
    records: dict[tuple[str, int], dict] = dict(previous)
    result = SweepResult(out, [], skipped=len(sweep.tasks) - len(todo))
    write_manifest(manifest_path, sweep, records)

    last_write = time.monotonic()

    def record_done(record: dict) -> None:
        nonlocal last_write
        records[(record["variant"], record["replication"])] = record
        result.ran += 1
        # run.json is what resume trusts; the manifest follows at most once a second
        if time.monotonic() - last_write >= MANIFEST_INTERVAL_S:
            write_manifest(manifest_path, sweep, records)
            last_write = time.monotonic()
        if on_record is not None:
            on_record(record)

    pool = None
    try:
        if todo:
            pool = open_pool(engine, workers, address, dask_processes)
        if on_start is not None:
            on_start(len(todo), result.skipped)
        if todo:
            execute(todo, pool, str(runs_dir), record_done)
    except KeyboardInterrupt:
        result.interrupted = True
        if pool is not None:
            pool.close(abort=True)
            pool = None
        remove_partial_folders(runs_dir)
        _finish(result, sweep, records)
        raise
    finally:
        if pool is not None:
            pool.close()
    _finish(result, sweep, records)
    return result


def _finish(result: SweepResult, sweep: Sweep, records: dict[tuple[str, int], dict]) -> None:
    from simscale.sweep.table import write_summary_table

    order = {(t.variant, t.replication): i for i, t in enumerate(sweep.tasks)}
    result.records = sorted((r for k, r in records.items() if k in order),
                            key=lambda r: order[(r["variant"], r["replication"])])
    counts: dict[str, int] = {}
    for r in result.records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    result.counts = counts
    write_manifest(result.out_dir / MANIFEST, sweep, records)
    write_summary_table(result.out_dir / SUMMARY_TABLE, sweep, result.records)


def finished_records(out: Path, sweep: Sweep) -> dict[tuple[str, int], dict]:
    """Runs of `sweep` already finished in out (ok or incomplete, same resolved spec).

    The manifest lists what the sweep recorded; a run folder whose run.json the manifest
    missed (interrupted between rename and manifest write) counts too.
    """
    runs_dir = out / "runs"
    found: dict[tuple[str, int], dict] = {}
    for task in sweep.tasks:
        path = runs_dir / task.folder / RUN_RECORD
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("status") in FINISHED and record.get("spec_sha256") == task.spec_sha256:
            found[(task.variant, task.replication)] = record
    return found


def remove_partial_folders(runs_dir: Path) -> None:
    """Remove `.<rep>.partial` folders left by runs that did not finish."""
    if not runs_dir.is_dir():
        return
    for variant_dir in runs_dir.iterdir():
        if variant_dir.is_dir():
            for child in variant_dir.glob(".*.partial"):
                shutil.rmtree(child, ignore_errors=True)


def write_manifest(path: Path, sweep: Sweep, records: dict[tuple[str, int], dict]) -> None:
    """The sweep and every planned run with its status (rewritten atomically)."""
    runs = []
    for t in sweep.tasks:
        rec = records.get((t.variant, t.replication))
        entry = {"variant": t.variant, "replication": t.replication, "seed": t.seed,
                 "folder": f"runs/{t.folder}", "spec_sha256": t.spec_sha256,
                 "status": rec["status"] if rec else "pending"}
        if rec:
            entry["wall_s"] = rec.get("wall_s")
            if rec.get("error"):
                entry["error"] = rec["error"]
        runs.append(entry)
    data = {
        "format": 1,
        "sweep": sweep.spec.name,
        "source": sweep.source,
        "spec": sweep.spec.model_dump(mode="json", by_alias=True),
        "parameters": sweep.parameters,
        "variants": [{"name": v.name, "params": v.params} for v in sweep.variants],
        "baseline": sweep.baseline,
        "runs": runs,
    }
    if sweep.claims is not None:
        data["claims"] = sweep.claims.model_dump(mode="json", exclude_defaults=True)
    _write_json(path, data)

