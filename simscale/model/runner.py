"""Run one experiment: build the model, drive it, write the run directory.

A run directory holds requests.parquet, metrics.parquet, events.parquet and summary.json.
A run replaces its directory as a whole (simscale.outputs.staging): the files are written into a
hidden folder beside it, `.NAME.partial-HOST-PID-N`, summary.json last, and that folder is
swapped in only once complete, so a run killed or crashing at any moment leaves the previous
run in place (or the new one, if the swap was reached), never neither and never a mix;
leftovers of killed runs are removed by the next run into the same place. The checks on
the output path (a file, a path under a file, a place that cannot be written, a folder
holding other files) come before the simulation. A policy that raises, or a stop, ends
the run: what was recorded so far is kept and swapped in, and summary.json says
`"complete": false` with the reason. summary.json is strict JSON: a total that is not a
finite number is null and named under `non_finite`.
"""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simscale import __version__
from simscale.errors import PolicyFailure
from simscale.model import Model
from simscale.outputs import ensure_dir, non_finite_keys, staging
from simscale.outputs.recorder import RequestLog
from simscale.outputs.run_files import RUN_DIR_ENTRIES, metadata, requests_sink, write_run_tables
from simscale.spec import Spec


@dataclass
class RunResult:
    """What a run produced: its summary and where it was written (None: not written)."""

    summary: dict
    out_dir: Path | None
    metric_rows: list[dict]
    events: list[tuple]


# The cycle collector's first threshold while a run goes (Python's default: 700). A run
# makes almost no cycles (a Phase 3 after-system run of 200,000 requests leaves a few
# hundred objects to the collector), so its passes only walk live objects, and a pass costs
# in proportion to the young objects it walks. Measured on the full after-system run (1.27
# million requests): the collector took 2.0 s of its CPU time with 50,000 and 0.1 s with
# this threshold, at the same peak memory (about 385 MB).
RUN_GC_THRESHOLD = 500_000


def frozen_before(fn: Callable) -> Callable:
    """Run `fn` with every object that exists before the call (modules, the spec, the
    caller's data) frozen, so the cycle collector's full passes walk only what the call
    creates: in a quickstart run those passes had cost about 7% of the time. `fn` may
    freeze more (run() freezes the model once built). Everything is unfrozen afterwards
    (also when `fn` raises), so garbage among it is collected as before. While `fn` runs,
    the collector's first threshold is RUN_GC_THRESHOLD (put back afterwards)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(max(RUN_GC_THRESHOLD, thresholds[0]), *thresholds[1:])
        try:
            return fn(*args, **kwargs)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()

    return wrapper


@frozen_before
def run(spec: Spec, out_dir: Path | None, *,
        on_progress: Callable[[float, float], None] | None = None,
        on_metrics: Callable[[dict], None] | None = None,
        on_start: Callable[[Model], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        slice_s: float | None = None,
        in_place: bool = False) -> RunResult:
    """Simulate `spec`; write the run directory when `out_dir` is given.

    on_progress(sim_t, end_t) is called between slices of simulated time; on_metrics(row)
    with each metrics row as it is produced; on_start(model) once the model is built (a live
    view may read, never change, its instances); should_stop() ends the run early (recorded as
    incomplete). Callbacks run on the simulating thread; on_progress may block to pace or
    pause the run.

    The run is written beside out_dir and swapped in whole when complete (simscale.outputs.staging);
    an exception leaves out_dir as it was. InputError, before any simulation, when out_dir
    cannot be a run directory. in_place=True writes straight into out_dir, a fresh folder the
    caller makes atomic itself (a sweep's run folder).
    """
    wall_start = time.perf_counter()
    write_dir = None
    if out_dir is not None:
        out_dir = Path(out_dir)
        if in_place:
            write_dir = ensure_dir(out_dir, probe=False)
        else:
            write_dir = staging.begin(out_dir, RUN_DIR_ENTRIES)
    try:
        summary, model = _simulate(spec, write_dir, wall_start, on_progress, on_metrics,
                                   on_start, should_stop, slice_s)
        if write_dir is not None and not in_place:
            staging.commit(write_dir, out_dir)
    except BaseException:
        if write_dir is not None and not in_place:
            staging.abort(write_dir)
        raise
    return RunResult(summary, out_dir, model.metric_rows, model.events)


def _simulate(spec: Spec, write_dir: Path | None, wall_start: float, on_progress, on_metrics,
              on_start, should_stop, slice_s) -> tuple[dict, Model]:
    """Drive the model to the end (or a stop, or a policy failure); write the outputs into
    write_dir (summary.json last); return the summary and the model."""
    meta = metadata(spec)
    sink = requests_sink(write_dir, meta) if write_dir is not None else None
    log = RequestLog(sink, spec.output.row_group_rows)
    failure: str | None = None
    stopped = False
    try:
        model = Model(spec, log)
        gc.freeze()  # the model as built (instances, warmed caches) lives as long as the run
        if on_metrics is not None:
            model.metric_listeners.append(on_metrics)
        if on_start is not None:
            on_start(model)
        try:
            stopped = _drive(spec, model, on_progress, should_stop, slice_s)
        except PolicyFailure as exc:
            failure = str(exc)
            model.event("run", "simscale", f"PolicyFailure:{exc.policy}")
        log.flush()
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    summary = summarize(spec, model, log, time.perf_counter() - wall_start)
    summary["complete"] = failure is None and not stopped
    if failure is not None:
        summary["failure"] = failure
    elif stopped:
        summary["failure"] = f"stopped at t={model.now:.3f}s"
    if write_dir is not None:
        sink.close()
        write_run_tables(write_dir, meta, model.metric_rows, model.events, summary)
    return summary, model


def _drive(spec: Spec, model: Model, on_progress, should_stop, slice_s) -> bool:
    """Run the arrival window slice by slice, then the drain; True when stopped early."""
    drain_s = spec.timeouts.request_s if spec.timeouts.request_s is not None else 60.0
    end = spec.duration_s
    step = slice_s or max(spec.metrics.interval_s, spec.duration_s / 200)
    t = 0.0
    while t < end:
        if should_stop is not None and should_stop():
            return True
        t = min(end, t + step)
        model.run_until(t)
        if on_progress is not None:
            on_progress(t, end)
    model.close_out(drain_s)
    return False


def summarize(spec: Spec, model: Model, log: RequestLog, wall_s: float) -> dict:
    """The run's totals (summary.json). A total that is not a finite number (an overflow)
    is None, and its key is listed under "non_finite"."""
    totals = _totals(spec, model, log, wall_s)
    bad = non_finite_keys(totals)
    if bad:
        totals = {k: (None if k in bad else v) for k, v in totals.items()}
        totals["non_finite"] = bad
    return totals


def _totals(spec: Spec, model: Model, log: RequestLog, wall_s: float) -> dict:
    ok, error, timeout, rejected = log.counts
    p50, p95, p99 = log.ok_latency.quantiles([0.5, 0.95, 0.99]) or (None,) * 3
    simulated_s = model.now
    return {
        "name": spec.name,
        "arrivals": model.arrivals,
        "ok": ok,
        "error": error,
        "timeout": timeout,
        "rejected": rejected,
        "latency_mean_s": log.ok_latency.mean(),
        "latency_p50_s": p50,
        "latency_p95_s": p95,
        "latency_p99_s": p99,
        "throughput_rps": ok / spec.duration_s,
        "peak_throughput_rps": peak_throughput(model.metric_rows, spec.metrics.interval_s),
        "utilization": model.busy_slot_s / model.slot_s if model.slot_s else 0.0,
        **_ttft_totals(log, spec.duration_s),
        "duration_s": spec.duration_s,
        "simulated_s": simulated_s,
        "wall_s": wall_s,
        "seed": spec.seed,
        "spec_sha256": spec.sha256(),
        "simscale_version": __version__,
    } | _component_totals(model)


def peak_throughput(rows: list[dict], interval_s: float) -> float | None:
    """The highest throughput_rps of a whole metrics interval (a shorter last interval is left
    out, unless there is no whole one); None when there are no rows."""
    whole = [r["throughput_rps"] for r in rows if r["interval_s"] >= interval_s * (1 - 1e-9)]
    return max(whole or [r["throughput_rps"] for r in rows], default=None)


def _ttft_totals(log: RequestLog, duration_s: float) -> dict:
    """Time to first token of ok LLM responses, and output tokens streamed per second."""
    if not log.ttft.count:
        return {}
    p50, p95, p99 = log.ttft.quantiles([0.5, 0.95, 0.99])
    return {"ttft_p50_s": p50, "ttft_p95_s": p95, "ttft_p99_s": p99,
            "output_tokens_per_s": log.output_tokens / duration_s}


def _component_totals(model: Model) -> dict:
    extra: dict = {}
    for hook in model.hooks.summary:
        hook(extra)
    return extra

