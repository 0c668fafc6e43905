"""Every sweep in experiments/sweeps runs at a short horizon, compares, and shows its point:
the load-aware balancers beat the load-blind ones on the same sample paths, and latency over
the Latin hypercube grows with the load per instance. (The Phase 3 sweep's claims are judged
in test_phase3.py.)"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats

from simscale.sweep.compare import compare
from simscale.sweep.engine import run_sweep
from simscale.sweep.runlist import load_sweep
from simscale.sweep.table import read_summary
from tests.sweep.helpers import ROOT

SWEEPS = ROOT / "experiments" / "sweeps"
# horizon and replications each sweep runs with here
SHORT = {"balancers": (30.0, 2), "load_lhs": (20.0, 1), "phase3": (5.0, 2)}


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict[str, tuple]:
    """Each sample sweep, run once: (sweep, result, summary rows)."""
    out = {}
    for name, (duration_s, replications) in SHORT.items():
        sweep = load_sweep(SWEEPS / f"{name}.toml", [f"duration_s={duration_s}"],
                           replications=replications)
        folder = tmp_path_factory.mktemp(name)
        result = run_sweep(sweep, folder, workers=2)
        out[name] = (sweep, result, folder)
    return out


def test_every_sample_sweep_is_covered():
    assert {p.stem for p in SWEEPS.glob("*.toml")} == set(SHORT)


@pytest.mark.parametrize("name", SHORT)
def test_sample_sweep_runs_short_and_compares(swept, name):
    sweep, result, folder = swept[name]
    assert result.counts == {"ok": len(sweep.tasks)}
    cmp = compare(read_summary(folder))
    assert cmp.baseline == sweep.baseline
    assert set(cmp.ranking) == {v.name for v in sweep.variants}


def test_the_balancer_sweep_compares_the_four_balancers():
    sweep = load_sweep(SWEEPS / "balancers.toml")
    assert [v.name for v in sweep.variants] == [
        "round_robin", "random", "least_connections", "power_of_two_choices"]
    assert sweep.baseline == "round_robin"


def test_load_aware_balancers_beat_load_blind_ones_in_every_replication(swept):
    _, _, folder = swept["balancers"]
    rows = pq.read_table(folder / "summary.parquet").to_pylist()
    p95 = {(r["variant"], r["replication"]): r["latency_p95_s"] for r in rows}
    for rep in range(SHORT["balancers"][1]):
        aware = max(p95["least_connections", rep], p95["power_of_two_choices", rep])
        blind = min(p95["round_robin", rep], p95["random", rep])
        assert aware < 0.85 * blind, (rep, p95)
        assert p95["round_robin", rep] < p95["random", rep]  # blind, but evenly spread


def test_latency_over_the_hypercube_grows_with_the_load_per_instance(swept):
    """ρ = rate × 0.04 s / (instances × 2 cores): p95 rises with ρ (rank correlation), and
    only points at or beyond capacity reject."""
    _, _, folder = swept["load_lhs"]
    rows = pq.read_table(folder / "summary.parquet").to_pylist()
    rho = np.array([r["param.workload.arrivals.rate_rps"] * 0.04
                    / (2 * r["param.instances.count"]) for r in rows])
    p95 = np.array([r["latency_p95_s"] for r in rows])
    assert len(set(rho.round(3))) == 10  # ten distinct design points
    assert stats.spearmanr(rho, p95).statistic > 0.6
    rejecting = np.array([r["rejected"] > 0 for r in rows])
    assert rejecting.any() and rho[rejecting].min() > rho[~rejecting].max() - 0.1
    assert rho[rejecting].min() > 0.9
