"""`simscale validate`: the engine checked against queueing theory on its own outputs.

Each check runs a spec from experiments/validation/ for several independent replications
(seeds seed, seed+1, …) exactly as `simscale run` does, reads requests.parquet back, drops a
warm-up period, and compares the replication means with the analytic value. The interval is
a Student-t interval over replications, Bonferroni-adjusted so that the whole table has a
95% family-wise confidence level; a check passes when the analytic value lies inside it.

Formulas (Kleinrock, Queueing Systems Vol. 1, 1975, §3.2 and §3.5; Little, 1961):
  M/M/1:  W = 1 / (mu − lambda),  L = lambda · W
  M/M/c:  a = lambda/mu, rho = a/c, Erlang B(c, a) = Poisson pmf(c; a) / Poisson cdf(c; a),
          Erlang C = B / (1 − rho·(1 − B)),  Wq = C / (c·mu − lambda),  P(wait > 0) = C
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from scipy import stats

from simscale.model.runner import run
from simscale.spec import Spec, load_spec

VALIDATION_DIR = Path(__file__).resolve().parents[2] / "experiments" / "validation"
WARMUP_FRACTION = 0.1
N_CHECKS = 6


@dataclass(frozen=True)
class Check:
    """One row of the validation table."""

    name: str
    expected: float
    measured: float
    ci_low: float
    ci_high: float

    @property
    def passed(self) -> bool:
        return self.ci_low <= self.expected <= self.ci_high


def erlang_c(c: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lambda/mu (a < c)."""
    if not 0 < offered_load < c:
        raise ValueError("Erlang C needs 0 < a < c")
    blocking = stats.poisson.pmf(c, offered_load) / stats.poisson.cdf(c, offered_load)
    rho = offered_load / c
    return float(blocking / (1.0 - rho * (1.0 - blocking)))


def mmc_mean_wait(c: int, arrival_rps: float, service_rate: float) -> float:
    """Mean wait in queue Wq of M/M/c (Erlang C)."""
    return erlang_c(c, arrival_rps / service_rate) / (c * service_rate - arrival_rps)


@dataclass
class Replication:
    """What one run measured after the warm-up."""

    mean_wait_s: float
    p_wait: float
    mean_response_s: float
    time_avg_in_system: float
    utilization: float


def measure(spec: Spec) -> Replication:
    """Run `spec` as `simscale run` does and measure it from its requests.parquet."""
    with tempfile.TemporaryDirectory() as tmp:
        result = run(spec, Path(tmp))
        table = pq.read_table(Path(tmp) / "requests.parquet",
                              columns=["arrival_s", "end_s", "wait_s", "status"])
    arrival = table["arrival_s"].to_numpy()
    end = table["end_s"].to_numpy()
    wait = table["wait_s"].to_numpy(zero_copy_only=False)
    ok = (table["status"].to_numpy(zero_copy_only=False) == "ok")
    start, stop = WARMUP_FRACTION * spec.duration_s, spec.duration_s
    keep = ok & (arrival >= start)
    # time-average number in system over [start, stop): overlap of each sojourn with the window
    overlap = np.clip(np.minimum(end, stop) - np.maximum(arrival, start), 0.0, None)
    return Replication(
        mean_wait_s=float(wait[keep].mean()),
        p_wait=float((wait[keep] > 0).mean()),
        mean_response_s=float((end - arrival)[keep].mean()),
        time_avg_in_system=float(overlap.sum() / (stop - start)),
        utilization=float(result.summary["utilization"]),
    )


def _check(name: str, expected: float, samples: list[float]) -> Check:
    values = np.asarray(samples)
    mean = float(values.mean())
    half = float(stats.t.ppf(1 - 0.05 / N_CHECKS / 2, len(values) - 1)
                 * values.std(ddof=1) / np.sqrt(len(values)))
    return Check(name, expected, mean, mean - half, mean + half)


def run_checks(replications: int = 10, seed: int = 1,
               on_run: Callable[[str], None] | None = None) -> list[Check]:
    """All validation checks; replication r of every spec uses seed + r. on_run(label) is
    called after each of the 2 × replications runs (progress)."""

    def measured(spec: Spec, label: str) -> Replication:
        rep = measure(spec)
        if on_run is not None:
            on_run(label)
        return rep

    mm8 = load_spec(VALIDATION_DIR / "mm8.toml")
    mm1 = load_spec(VALIDATION_DIR / "mm1.toml")
    checks: list[Check] = []

    lam8, c = mm8.workload.arrivals.rate_rps, mm8.instances.slots
    mu8 = 1.0 / mm8.workload.service.mean()
    reps8 = [measured(mm8.model_copy(update={"seed": seed + r}), f"M/M/8 seed {seed + r}")
             for r in range(replications)]
    wq = mmc_mean_wait(c, lam8, mu8)
    checks.append(_check(f"M/M/{c} mean wait in queue Wq (Erlang C), s", wq,
                         [r.mean_wait_s for r in reps8]))
    checks.append(_check(f"M/M/{c} P(wait > 0) (Erlang C)", erlang_c(c, lam8 / mu8),
                         [r.p_wait for r in reps8]))
    checks.append(_check(f"M/M/{c} utilization rho = lambda/(c mu)", lam8 / (c * mu8),
                         [r.utilization for r in reps8]))
    checks.append(_check(f"M/M/{c} Little's law L = lambda W", lam8 * (wq + 1.0 / mu8),
                         [r.time_avg_in_system for r in reps8]))

    lam1, mu1 = mm1.workload.arrivals.rate_rps, 1.0 / mm1.workload.service.mean()
    reps1 = [measured(mm1.model_copy(update={"seed": seed + r}), f"M/M/1 seed {seed + r}")
             for r in range(replications)]
    w1 = 1.0 / (mu1 - lam1)
    checks.append(_check("M/M/1 mean response time W = 1/(mu - lambda), s", w1,
                         [r.mean_response_s for r in reps1]))
    checks.append(_check("M/M/1 Little's law L = lambda W", lam1 * w1,
                         [r.time_avg_in_system for r in reps1]))
    return checks
