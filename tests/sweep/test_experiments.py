"""Every sweep in experiments/sweeps runs at a short horizon, and compares."""

from __future__ import annotations

import pytest

from simscale.sweep.compare import compare
from simscale.sweep.engine import load_sweep, run_sweep
from simscale.sweep.table import read_summary
from tests.sweep.helpers import ROOT

SWEEPS = sorted((ROOT / "experiments" / "sweeps").glob("*.toml"))


@pytest.mark.parametrize("path", SWEEPS, ids=[p.stem for p in SWEEPS])
def test_sample_sweep_runs_short(path, tmp_path):
    sweep = load_sweep(path, ["duration_s=5"], replications=2)
    result = run_sweep(sweep, tmp_path / "out", workers=2)
    assert result.counts == {"ok": len(sweep.tasks)}
    cmp = compare(read_summary(tmp_path / "out"))
    assert cmp.baseline == sweep.baseline
    assert set(cmp.ranking) == {v.name for v in sweep.variants}


def test_the_balancer_sweep_compares_the_four_balancers():
    sweep = load_sweep(ROOT / "experiments" / "sweeps" / "balancers.toml")
    assert [v.name for v in sweep.variants] == [
        "round_robin", "random", "least_connections", "power_of_two_choices"]
    assert sweep.baseline == "round_robin"
