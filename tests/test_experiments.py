"""Every experiment spec in experiments/ is also a test: it loads and runs at a short horizon."""

from __future__ import annotations

import pytest

from simscale.runner import run
from simscale.spec import load_spec
from tests.conftest import ROOT

# Folders of experiments/ that hold other kinds of TOML (sweeps, dashboards, claims).
NOT_SPECS = {"sweeps", "dashboards", "phase3_sweeps", "claims"}
SHORT_S = 20.0


def spec_files() -> list:
    files = []
    for path in sorted((ROOT / "experiments").rglob("*.toml")):
        if NOT_SPECS.isdisjoint(path.relative_to(ROOT / "experiments").parts[:-1]):
            files.append(path)
    return files


def test_there_are_experiments():
    names = {p.name for p in spec_files()}
    assert {"quickstart.toml", "mm8.toml", "mm1.toml"} <= names


@pytest.mark.parametrize("path", spec_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_experiment_runs_at_a_short_horizon(path, tmp_path):
    spec = load_spec(path)
    short = spec.model_copy(update={"duration_s": min(spec.duration_s, SHORT_S)})
    summary = run(short, tmp_path / "run").summary
    assert summary["complete"], summary.get("failure")
    assert summary["arrivals"] == (summary["ok"] + summary["error"] + summary["timeout"]
                                   + summary["rejected"])
    assert summary["arrivals"] > 0
