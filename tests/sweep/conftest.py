"""Fixtures for the sweep tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sweep.helpers import BALANCER_SWEEP, write_sweep


@pytest.fixture
def balancer_sweep(tmp_path: Path) -> Path:
    """Three balancers × two replications over the quickstart at 10 simulated seconds."""
    return write_sweep(tmp_path, BALANCER_SWEEP)
