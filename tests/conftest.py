"""Shared test helpers: small specs and a one-call run."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simscale.runner import RunResult, run
from simscale.spec import Spec, spec_from_dict

ROOT = Path(__file__).resolve().parent.parent


def small_spec(**changes) -> Spec:
    """A small two-instance spec; keyword arguments replace top-level sections or fields."""
    data = {
        "name": "small",
        "duration_s": 60.0,
        "seed": 7,
        "workload": {"arrivals": {"kind": "poisson", "rate_rps": 50.0},
                     "service": {"kind": "exponential", "mean_s": 0.05}},
        "instances": {"count": 2, "slots": 2},
        "metrics": {"interval_s": 5.0},
    }
    data.update(changes)
    return spec_from_dict(data)


def run_tables(spec: Spec, out: Path) -> tuple[RunResult, dict]:
    """Run into `out` and read the three tables back."""
    result = run(spec, out)
    tables = {name: pq.read_table(out / f"{name}.parquet")
              for name in ("requests", "metrics", "events")}
    return result, tables


@pytest.fixture
def tmp_run(tmp_path):
    return tmp_path / "run"
