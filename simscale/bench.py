"""`simscale bench`: simulated requests per wall-clock second, measured side by side.

Cases run interleaved (round-robin over the cases, `repeat` times) and the best time of
each is kept, so that a noisy, shared machine disturbs every case alike; figures are quoted
as ratios against the textbook SimPy model measured in the same process.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


@dataclass
class BenchResult:
    name: str
    requests: int
    seconds: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else float("inf")


def textbook_mmc(customers: int, rate_rps: float = 6.4, mean_s: float = 1.0, c: int = 8,
                 seed: int = 1) -> int:
    """The textbook SimPy M/M/c: one process per customer holding a simpy.Resource."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate_rps, customers).tolist()
    work = rng.exponential(mean_s, customers).tolist()
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)
    latencies: list[float] = []

    def customer(service_s: float):
        arrived = env.now
        with servers.request() as slot:
            yield slot
            yield env.timeout(service_s)
        latencies.append(env.now - arrived)

    def source():
        for gap, service_s in zip(gaps, work):
            yield env.timeout(gap)
            env.process(customer(service_s))

    env.process(source())
    env.run()
    return len(latencies)


def _spec_run(path: Path, overrides: list[str]) -> Callable[[], int]:
    from simscale.runner import run
    from simscale.spec import load_spec

    spec = load_spec(path, overrides)

    def go() -> int:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(spec, Path(tmp) / "run")
        return result.summary["arrivals"]

    return go


def cases(requests: int) -> dict[str, Callable[[], int]]:
    """name → zero-argument callable returning how many requests it simulated."""
    mm8_duration = requests / 6.4
    quick_duration = requests / 140.0
    return {
        "textbook SimPy M/M/8 (process per customer)": lambda: textbook_mmc(requests),
        "simscale M/M/8 rho=0.8 (run + Parquet)": _spec_run(
            EXPERIMENTS / "validation" / "mm8.toml", [f"duration_s={mm8_duration}"]),
        "simscale quickstart (run + Parquet)": _spec_run(
            EXPERIMENTS / "quickstart.toml", [f"duration_s={quick_duration}"]),
    }


def run_bench(requests: int = 300_000, repeat: int = 3) -> list[BenchResult]:
    """Measure every case `repeat` times, interleaved; keep each case's best."""
    table = cases(requests)
    best: dict[str, BenchResult] = {}
    for _ in range(repeat):
        for name, fn in table.items():
            start = time.perf_counter()
            simulated = fn()
            seconds = time.perf_counter() - start
            if name not in best or seconds < best[name].seconds:
                best[name] = BenchResult(name, simulated, seconds)
    return list(best.values())


def print_bench(results: list[BenchResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    baseline = results[0].rate
    table = Table(title="simscale bench (best of interleaved repeats)")
    for col in ("case", "requests", "seconds", "requests/s", "× textbook"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for r in results:
        table.add_row(r.name, f"{r.requests:,}", f"{r.seconds:.3f}", f"{r.rate:,.0f}",
                      f"{r.rate / baseline:.2f}")
    Console().print(table)
