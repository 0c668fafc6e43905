"""`simscale bench`: simulated requests per wall-clock second, measured side by side.

Cases run interleaved (round-robin over the cases, `repeat` times) and the best time of
each is kept, so that a noisy, shared machine disturbs every case alike; figures are quoted
as ratios against the textbook SimPy model measured in the same process. A second reference,
the same M/M/8 on SimPy callbacks with nothing else, shows the ceiling of such an engine in
pure Python; simscale's M/M/8 case adds to it a request object, a policy call, instance
state for the views and metrics, and Parquet output. Whole-model cases run shipped specs as
`simscale run` runs them: the Phase 3 after-system over its first 600 s (closed-loop users,
autoscaling, cache, database, LLM upstream, alerts), the quickstart with a cache, and the
Azure conversation trace replayed with the LLM upstream. Two cases measure input rather than
simulation: generating 10 million arrivals with kinds, CPU work and token counts, and
reading the Azure conversation trace (19,366 rows); they have no ratio. Cases have short
keys (CASE_KEYS) so that a run may measure only some of them; the textbook model is always
measured, as every ratio's reference.
"""

from __future__ import annotations

import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import simpy

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
TRACES = Path(__file__).resolve().parents[2] / "data" / "traces"


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
                 seed: int = 1) -> list[float]:
    """The textbook SimPy M/M/c: one process per customer holding a simpy.Resource.
    Returns the customers' times in system, in the order they leave."""
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
    return latencies


def callback_mmc(customers: int, rate_rps: float = 6.4, mean_s: float = 1.0, c: int = 8,
                 seed: int = 1) -> list[float]:
    """The same M/M/c on SimPy driven by callbacks: each arrival and departure is a reused
    event, no process per customer, and nothing else (no policy call, no metrics, no output).
    It is the ceiling simscale's engine builds on, shown for reference. Returns what
    textbook_mmc returns (the same sample path)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate_rps, customers).tolist()
    work = rng.exponential(mean_s, customers).tolist()
    env = simpy.Environment()
    waiting: deque[tuple[float, float]] = deque()
    free: list[simpy.Event] = []
    latencies: list[float] = []
    busy = 0

    def serve(arrived_s: float, service_s: float) -> None:
        ev = free.pop() if free else simpy.Event(env)
        ev._ok, ev._value, ev.callbacks = True, arrived_s, [depart]
        env.schedule(ev, delay=service_s)

    def depart(ev: simpy.Event) -> None:
        nonlocal busy
        latencies.append(env.now - ev._value)
        free.append(ev)
        if waiting:
            serve(*waiting.popleft())
        else:
            busy -= 1

    customers_left = iter(zip(gaps, work))

    def arrive(ev: simpy.Event) -> None:
        nonlocal busy
        if busy < c:
            busy += 1
            serve(env.now, ev._value)
        else:
            waiting.append((env.now, ev._value))
        nxt = next(customers_left, None)
        if nxt is not None:
            ev._value, ev.callbacks = nxt[1], [arrive]
            env.schedule(ev, delay=nxt[0])

    first = simpy.Event(env)
    gap, service_s = next(customers_left)
    first._ok, first._value, first.callbacks = True, service_s, [arrive]
    env.schedule(first, delay=gap)
    env.run()
    return latencies


def _spec_run(path: Path, overrides: list[str]) -> Callable[[], int]:
    from simscale.model.runner import run
    from simscale.spec import load_spec

    spec = load_spec(path, overrides)

    def go() -> int:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(spec, Path(tmp) / "run")
        return result.summary["arrivals"]

    return go


def workload_generation(arrivals: int = 10_000_000) -> Callable[[], int]:
    """Generate about `arrivals` Poisson arrivals of the smoke test's four-kind chat mix
    (times, kinds, CPU work, prompt and output tokens), chunk by chunk, simulating nothing."""
    from simscale.spec import load_spec
    from simscale.workload.chunks import Workload

    rate_rps = 1000.0
    spec = load_spec(EXPERIMENTS / "load_tests" / "smoke.toml",
                     [f"workload.arrivals.rate_rps={rate_rps}"])

    def go() -> int:
        return sum(len(c.times_s) for c in Workload(spec.workload, 0, arrivals / rate_rps)
                   .chunks())

    return go


def trace_parsing(path: Path = TRACES / "azure_llm_2023_conv.csv") -> Callable[[], int]:
    """Read (parse and check) a trace file; returns its rows."""
    from simscale.workload.traces import read_trace

    return lambda: len(read_trace(path))


REFERENCE_CASE = "SimPy M/M/8 on callbacks, no policy/metrics/output (ceiling)"
GENERATION_CASES = ("workload: 10M Poisson arrivals, chat mix + tokens (generate only)",
                    "trace: read Azure 2023 conv CSV (rows)")
TEXTBOOK_CASE = "textbook SimPy M/M/8 (process per customer)"
# the after-system's horizon in the bench: its first 600 s (3,333 users joined, ~196,000
# requests), long enough for the autoscaler to act and short enough for a few seconds a run
PHASE3_HORIZON_S = 600

# short key → case name, in the order the cases run and print
CASE_KEYS = {
    "textbook": TEXTBOOK_CASE,
    "ceiling": REFERENCE_CASE,
    "mm8": "simscale M/M/8 rho=0.8 (run + Parquet)",
    "quickstart": "simscale quickstart (run + Parquet)",
    "cache": "simscale quickstart + cache (run + Parquet)",
    "phase3": f"Phase 3 after-system, first {PHASE3_HORIZON_S} s (run + Parquet)",
    "trace": "Azure conv trace + LLM upstream, 4 h looped (run + Parquet)",
    "generate": GENERATION_CASES[0],
    "parse": GENERATION_CASES[1],
}


def _case_makers(requests: int) -> dict[str, Callable[[], Callable[[], int]]]:
    """key → a maker of the case's zero-argument callable (built only when selected)."""
    mm8_duration = requests / 6.4
    quick_duration = requests / 140.0
    return {
        "textbook": lambda: lambda: len(textbook_mmc(requests)),
        "ceiling": lambda: lambda: len(callback_mmc(requests)),
        "mm8": lambda: _spec_run(EXPERIMENTS / "validation" / "mm8.toml",
                                 [f"duration_s={mm8_duration}"]),
        "quickstart": lambda: _spec_run(EXPERIMENTS / "quickstart.toml",
                                        [f"duration_s={quick_duration}"]),
        # the quickstart with three cache reads per request (warmed LRU shards, no writes)
        "cache": lambda: _spec_run(EXPERIMENTS / "cache" / "quickstart_cache.toml",
                                   [f"duration_s={quick_duration}"]),
        "phase3": lambda: _spec_run(EXPERIMENTS / "phase3" / "after.toml",
                                    [f"duration_s={PHASE3_HORIZON_S}"]),
        # the trace's hour played four times: ~79,000 chat requests through cache, database
        # and the rate-limited LLM provider
        "trace": lambda: _spec_run(EXPERIMENTS / "traces" / "azure_conv.toml",
                                   ["workload.arrivals.loop=true", "duration_s=14400"]),
        "generate": workload_generation,
        "parse": trace_parsing,
    }


def select_cases(keys: list[str] | None) -> list[str]:
    """The keys to measure: `keys` (the textbook model first, added when missing) or every
    case. ValueError naming the unknown keys and the known ones."""
    if not keys:
        return list(CASE_KEYS)
    unknown = [k for k in keys if k not in CASE_KEYS]
    if unknown:
        raise ValueError(f"unknown case(s) {', '.join(unknown)}; "
                         f"known: {', '.join(CASE_KEYS)}")
    return ["textbook"] + [k for k in CASE_KEYS if k in keys and k != "textbook"]


def cases(requests: int, keys: list[str] | None = None) -> dict[str, Callable[[], int]]:
    """case name → zero-argument callable returning how many requests it simulated (or, for
    the GENERATION_CASES, generated or read); the cases of `keys` (select_cases) or all."""
    makers = _case_makers(requests)
    return {CASE_KEYS[k]: makers[k]() for k in select_cases(keys)}


def run_bench(requests: int = 300_000, repeat: int = 3,
              on_case: Callable[[str], None] | None = None,
              keys: list[str] | None = None) -> list[BenchResult]:
    """Measure the cases of `keys` (all when None) `repeat` times, interleaved; keep each
    case's best. on_case(name) is called after each of the repeat × cases measurements
    (progress)."""
    table = cases(requests, keys)
    best: dict[str, BenchResult] = {}
    for _ in range(repeat):
        for name, fn in table.items():
            start = time.perf_counter()
            simulated = fn()
            seconds = time.perf_counter() - start
            if name not in best or seconds < best[name].seconds:
                best[name] = BenchResult(name, simulated, seconds)
            if on_case is not None:
                on_case(name)
    return list(best.values())


def print_bench(results: list[BenchResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    baseline = results[0].rate
    table = Table(title="simscale bench (best of interleaved repeats)")
    for col in ("case", "requests", "seconds", "requests/s", "× textbook"):
        table.add_column(col, justify="left" if col == "case" else "right")
    for r in results:
        ratio = "–" if r.name in GENERATION_CASES else f"{r.rate / baseline:.2f}"
        table.add_row(r.name, f"{r.requests:,}", f"{r.seconds:.3f}", f"{r.rate:,.0f}", ratio)
    table.caption = ("ratios are to the textbook model timed in the same run; the ceiling case "
                     "is the engine design with nothing on it (docs/performance.md)")
    Console().print(table)
