"""The Python API: its public names, and the example of docs/api.md run as it stands."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import simscale

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ["InputError", "Run", "RunComparison", "SweepRuns", "__version__", "compare", "load",
          "open_run", "run", "sweep"]


def test_the_public_names_are_pinned():
    assert sorted(simscale.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(simscale, name) is not None
    assert callable(simscale.sweep)
    importlib.import_module("simscale.sweep.engine")  # a submodule import keeps it callable
    assert callable(simscale.sweep) and hasattr(simscale.sweep, "engine")


def test_import_simscale_stays_light():
    code = ("import sys, simscale; heavy = [m for m in ('textual', 'pyarrow', 'simpy', "
            "'pydantic', 'numpy') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_load_overrides_by_keyword_and_reports_bad_fields():
    spec = simscale.load(ROOT / "experiments" / "quickstart.toml", seed=3, duration_s=30,
                         instances__count=6, **{"balancer.policy": "round_robin",
                                                "balancer.params": {}})
    assert (spec.seed, spec.duration_s, spec.instances.count) == (3, 30, 6)
    assert spec.balancer.policy == "round_robin"
    with pytest.raises(simscale.InputError) as err:
        simscale.load(ROOT / "experiments" / "quickstart.toml", instances__count=0)
    assert any("instances.count" in p for p in err.value.problems)


def test_run_returns_arrow_tables_and_frames(tmp_path):
    spec = simscale.load(ROOT / "experiments" / "quickstart.toml", duration_s=20)
    run = simscale.run(spec, runs_dir=tmp_path)
    assert run.path.parent == tmp_path / "quickstart"
    assert simscale.open_run(tmp_path / "quickstart").path == run.path
    assert run.requests.num_rows == run.summary["arrivals"]
    assert run.metrics.num_rows >= 2 and "latency_p95_s" in run.metrics.column_names
    assert run.table("summary").column("arrivals").to_pylist() == [run.summary["arrivals"]]
    assert run.spec["duration_s"] == 20
    with pytest.raises(simscale.InputError):
        run.table("nope")
    for library, convert in (("pandas", run.to_pandas), ("polars", run.to_polars)):
        try:
            importlib.import_module(library)
        except ImportError:
            with pytest.raises(ImportError, match=f"pip install {library}"):
                convert("requests")
        else:
            assert len(convert("requests")) == run.summary["arrivals"]


def test_the_docs_example_runs(tmp_path):
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    script = tmp_path / "example.py"
    script.write_text(blocks[0])
    for name in ("experiments", "data"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "['balancer=power_of_two_choices', 'balancer=round_robin']" in out.stdout
    assert "differs: balancer.policy power_of_two_choices | round_robin" in out.stdout
    ranking = re.findall(r"^\[.*\]$", out.stdout, re.M)[-1]
    assert all(v in ranking for v in ("round_robin", "random", "least_connections"))
    assert len(list((tmp_path / "runs" / "quickstart").iterdir())) == 3  # two runs + latest
