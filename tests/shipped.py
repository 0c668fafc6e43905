"""The shipped experiment specs, each run once per test session and shared by every test that
checks what the spec promises (the `shipped` fixture in tests/conftest.py).

HORIZONS holds the overrides a spec runs with in the suite: the shortest horizon at which
the effect its header comment promises still shows (the whole run where that is cheap). Some
move a scheduled event earlier so the horizon can shrink (a shard that joins at 60 s rather
than 300 s); a clock-driven spec starts its day later (`start_hour`) rather than at midnight.
A spec without an entry runs SHORT_S simulated seconds and has its effect checked elsewhere
(tests/test_validation.py runs experiments/validation/ itself).
Runs are keyed by the spec they resolve to, so two ways of writing the same spec share one.

A test declares the runs it uses with `@pytest.mark.shipped((rel, *overrides), ...)`: when
collection ends, those runs start in one background process, in the order the tests need
them, and the marked tests run last (tests/conftest.py), so the runs overlap the rest of the
suite. A run nobody declared is simply made when first asked for.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simscale.model.runner import RunResult, run
from simscale.spec import Spec, load_spec

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = ROOT / "experiments"
# Folders of experiments/ that hold other kinds of TOML (sweeps, dashboards, claims).
NOT_SPECS = {"sweeps", "dashboards", "claims"}
SHORT_S = 20.0

# A clock-driven day from 05:00 (rate 2.5 rps) to 09:00 (14 rps): the morning ramp.
MORNING = ["workload.arrivals.start_hour=5", "duration_s=14400"]

HORIZONS: dict[str, list[str]] = {
    "quickstart.toml": ["duration_s=120"],
    # autoscaling
    "autoscaling/diurnal_concurrency.toml": MORNING,
    "autoscaling/diurnal_scheduled.toml": [*MORNING, "autoscaling.params.start_hour=5"],
    "autoscaling/diurnal_step.toml": MORNING,
    "autoscaling/diurnal_target_tracking.toml": MORNING,
    "autoscaling/diurnal_threshold.toml": MORNING,
    "autoscaling/service_defaults.toml": MORNING,
    # day 1 from 05:00 is the forecast's history; day 2 runs to 09:00
    "autoscaling/diurnal_predictive.toml": ["workload.arrivals.start_hour=5",
                                            "duration_s=100800"],
    "autoscaling/spike_flash_crowd.toml": [],
    # cache
    # a fifth of the users and of the room: the same cache-to-key ratio, warm within 60 s
    "cache/eviction_zipf.toml": ["duration_s=60", "cache.keys.users=10000",
                                 "cache.capacity_items=600"],
    "cache/hit_rate_90.toml": ["duration_s=120"],
    "cache/llm_response_cache.toml": ["duration_s=120"],
    "cache/quickstart_cache.toml": ["duration_s=60"],
    "cache/scale_out_cold.toml": ["duration_s=120",
                                  'cache.faults=[{kind="shard_join", at_s=60}]'],
    "cache/scale_out_warm.toml": ["duration_s=120",
                                  'cache.faults=[{kind="shard_join", at_s=60}]'],
    "cache/shard_loss.toml": ["duration_s=180",
                              'cache.faults=[{kind="shard_loss", shard=1, at_s=60, '
                              'recover_at_s=120}]'],
    "cache/stampede_none.toml": ["duration_s=75"],
    "cache/stampede_single_flight.toml": ["duration_s=75"],
    "cache/ttl_sweep.toml": ["duration_s=120"],
    # export examples
    "export/affinity_hpa.toml": ["duration_s=120"],
    "export/cache_lfu.toml": ["duration_s=120"],
    "export/cluster_cache.toml": ["duration_s=130"],
    # load tests and workloads: whole runs where they are cheap
    "load_tests/ramp.toml": [],
    "load_tests/smoke.toml": [],
    "load_tests/soak.toml": ["duration_s=1200"],
    "load_tests/spike.toml": [],
    "load_tests/network.toml": [],
    "load_tests/stress.toml": [],
    "workload/bursty.toml": [],
    "workload/closed_loop.toml": ["duration_s=300"],
    "workload/diurnal.toml": ["duration_s=14400"],
    "phase3/before.toml": ["duration_s=120"],
    "phase3/after.toml": ["duration_s=120"],
    # resilience: the whole arrival window around each fault
    "resilience/failover_drill.toml": ["duration_s=200"],
    "resilience/gray_failure_round_robin.toml": ["duration_s=120"],
    "resilience/gray_failure_least_response_time.toml": ["duration_s=120"],
    "resilience/retry_storm_budget.toml": ["duration_s=120"],
    "resilience/retry_storm_no_budget.toml": ["duration_s=120"],
    "resilience/gray_errors_no_breaker.toml": ["duration_s=120"],
    "resilience/gray_errors_breaker.toml": ["duration_s=120"],
    # the service's own API traffic: the whole stampede, from 60 s
    "api/dashboard_stampede.toml": ["duration_s=120"],
    "api/dashboard_stampede_limited.toml": ["duration_s=120"],
    # conversation affinity: the users ramp in over 30 s, then 90 s of sessions
    "affinity/sessions_least_connections.toml": ["duration_s=120"],
    "affinity/sessions_sticky.toml": ["duration_s=120"],
    "affinity/sessions_consistent_hash.toml": ["duration_s=120"],
    # trace replays: the whole trace at speed 1
    "traces/azure_conv.toml": [],
    "traces/azure_code.toml": [],
    "traces/mooncake_conversation.toml": [],
}


def spec_files() -> list[str]:
    """Every spec under experiments/, as paths relative to it."""
    return [str(p.relative_to(EXPERIMENTS)) for p in sorted(EXPERIMENTS.rglob("*.toml"))
            if NOT_SPECS.isdisjoint(p.relative_to(EXPERIMENTS).parts[:-1])]


def suite_spec(rel: str, *overrides: str) -> Spec:
    """The spec as the suite runs it: its HORIZONS entry (else SHORT_S), then `overrides`."""
    default = [f"duration_s={SHORT_S}"] if rel not in HORIZONS else []
    return load_spec(EXPERIMENTS / rel, [*HORIZONS.get(rel, default), *overrides])


@dataclass
class ShippedRun:
    """One run of a shipped spec: its resolved spec, result and run directory."""

    spec: Spec
    result: RunResult
    out: Path
    _tables: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def summary(self) -> dict:
        return self.result.summary

    @property
    def rows(self) -> list[dict]:
        return self.result.metric_rows

    @property
    def events(self) -> list[tuple]:
        return self.result.events

    def table(self, name: str) -> pa.Table:
        """requests, metrics or events, read once."""
        if name not in self._tables:
            self._tables[name] = pq.read_table(self.out / f"{name}.parquet")
        return self._tables[name]


class Shipped:
    """Runs shipped specs on demand, each distinct spec once."""

    def __init__(self, out_root: Path) -> None:
        self.out_root = out_root
        self._runs: dict[str, ShippedRun] = {}
        self._pending: dict[str, tuple[Spec, Path, AsyncResult]] = {}
        self._pool = None

    def spec(self, rel: str, *overrides: str) -> Spec:
        return suite_spec(rel, *overrides)

    def _out(self, rel: str) -> Path:
        return self.out_root / f"{len(self._runs) + len(self._pending):03d}-{Path(rel).stem}"

    def prefetch(self, wanted: list[tuple[str, ...]]) -> None:
        """Start these runs, in this order, in one background process (spawned: nothing of
        the test process is shared)."""
        for rel, *overrides in wanted:
            spec = self.spec(rel, *overrides)
            key = spec.sha256()
            if key in self._runs or key in self._pending:
                continue
            if self._pool is None:
                self._pool = multiprocessing.get_context("spawn").Pool(1)
            out = self._out(rel)
            self._pending[key] = (spec, out, self._pool.apply_async(run, (spec, out)))

    def __call__(self, rel: str, *overrides: str) -> ShippedRun:
        spec = self.spec(rel, *overrides)
        key = spec.sha256()
        if key in self._pending:
            spec, out, result = self._pending.pop(key)
            self._runs[key] = ShippedRun(spec, result.get(), out)
        elif key not in self._runs:
            out = self._out(rel)
            self._runs[key] = ShippedRun(spec, run(spec, out), out)
        return self._runs[key]

    def close(self) -> None:
        """Stop the background process (runs still queued are dropped)."""
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
