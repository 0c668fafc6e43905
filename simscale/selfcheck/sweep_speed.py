"""Throughput of the sweep engine: runs per second on 1 and 2 workers, and overhead per run.

A benchmark, not a test: numbers depend on the machine and on what else runs on it. Run it
from a program with an `if __name__ == "__main__":` guard (the process pool re-imports it).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

BENCH_BASE = {
    "name": "bench_sweep",
    "duration_s": 60.0,
    "seed": 1,
    "workload": {"arrivals": {"kind": "poisson", "rate_rps": 140.0},
                 "service": {"kind": "lognormal", "mean_s": 0.04, "cv": 1.5}},
    "instances": {"count": 4, "slots": 8, "cores": 2, "queue_limit": 200},
    "timeouts": {"request_s": 10.0},
    "metrics": {"interval_s": 10.0},
}
BALANCERS = ["round_robin", "random", "least_connections", "power_of_two_choices"]


def _calibrate(run_s: float) -> float:
    """Simulated seconds that take about run_s of wall time for one run here."""
    from simscale.model.runner import run
    from simscale.spec import spec_from_dict

    probe_s = 60.0
    spec = spec_from_dict({**BENCH_BASE, "duration_s": probe_s})
    run(spec, None)  # warm imports and caches
    start = time.perf_counter()
    run(spec, None)
    wall = time.perf_counter() - start
    return max(10.0, round(probe_s * run_s / wall, -1))


def bench_sweep(runs: int = 20, run_s: float = 1.0, workers: tuple[int, ...] = (1, 2),
                duration_s: float | None = None, repeat: int = 1) -> dict:
    """Time the same sweep of `runs` runs (each about `run_s` wall seconds) per worker count.

    Worker counts are measured in turn, `repeat` times, and the best of each is kept (the
    machine may be shared). Returns runs_per_s_<n> for each worker count, speedup (last over
    first), run_s (the mean time of the runner call with its outputs, timed inside the
    worker) and overhead_per_run_s: the 1-worker sweep's wall time minus the sum of its runs'
    times, per run (pool start-up, spec validation, run.json, rename, manifest, result
    transfer, summary.parquet), with overhead_frac relative to run_s.
    """
    from simscale.sweep.engine import run_sweep
    from simscale.sweep.runlist import build_sweep
    from simscale.sweep.spec import parse_sweep

    duration = duration_s if duration_s is not None else _calibrate(run_s)
    reps = max(1, -(-runs // len(BALANCERS)))
    sweep = build_sweep(parse_sweep({
        "name": "bench_sweep",
        "base": {**BENCH_BASE, "duration_s": duration},
        "replications": reps,
        "parameters": [{"path": "balancer.policy", "values": BALANCERS}],
    }), Path("."))
    n = len(sweep.tasks)
    figures: dict = {"runs": n, "duration_s": duration, "cores": os.cpu_count()}
    best: dict[int, tuple[float, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="simscale-bench-") as tmp:
        for attempt in range(repeat):
            for w in workers:
                start = time.perf_counter()
                result = run_sweep(sweep, Path(tmp) / f"w{w}-{attempt}", workers=w)
                wall = time.perf_counter() - start
                failed = [r for r in result.records if r["status"] != "ok"]
                if failed:
                    raise RuntimeError(f"bench_sweep: {len(failed)} run(s) failed, e.g. "
                                       f"{failed[0]['error']}")
                own = [r["run_wall_s"] for r in result.records]
                if w not in best or wall < best[w][0]:
                    best[w] = (wall, own)
    for w in workers:
        wall, own = best[w]
        figures[f"wall_s_{w}"] = wall
        figures[f"runs_per_s_{w}"] = n / wall
    wall, own = best[workers[0]]
    figures["run_s"] = sum(own) / n
    figures["overhead_per_run_s"] = (wall - sum(own)) / n
    figures["overhead_frac"] = figures["overhead_per_run_s"] / figures["run_s"]
    first, last = workers[0], workers[-1]
    figures["speedup"] = figures[f"runs_per_s_{last}"] / figures[f"runs_per_s_{first}"]
    return figures


def format_bench_sweep(figures: dict) -> list[str]:
    """Lines for `simscale bench`."""
    lines = [f"sweep engine: {figures['runs']} runs of {figures['run_s']:.2f} s "
             f"({figures['duration_s']:g} simulated s each), {figures['cores']} cores"]
    for key in sorted(k for k in figures if k.startswith("runs_per_s_")):
        w = key.removeprefix("runs_per_s_")
        lines.append(f"  {w} worker(s): {figures[key]:.2f} runs/s "
                     f"({figures[key] * 3600:,.0f} runs/hour)")
    lines.append(f"  speedup: {figures['speedup']:.2f}×")
    lines.append(f"  overhead per run: {figures['overhead_per_run_s'] * 1000:.1f} ms "
                 f"({figures['overhead_frac']:.1%} of a run)")
    return lines


if __name__ == "__main__":
    print("\n".join(format_bench_sweep(bench_sweep(repeat=2))))
