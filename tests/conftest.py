"""Shared test helpers: small specs and a one-call run."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simscale.model.runner import RunResult, run
from simscale.spec import Spec, spec_from_dict
from tests.shipped import Shipped

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


# ---------------------------------------------------------------- CI: a skip is a failure


def in_ci() -> bool:
    """Whether the suite runs in CI (`CI=true`, as .ci/run and most CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


CI_SKIP_MESSAGE = ("skipped in CI: {reason}. CI installs every validator and optional extra "
                   "the suite uses, so a skip there means one is missing")


def _fail_skip_in_ci(report) -> None:
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = CI_SKIP_MESSAGE.format(reason=reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result())


# ---------------------------------------------------------------- shipped experiment runs

_SHIPPED: list[Shipped] = []


def _shipped() -> Shipped:
    if not _SHIPPED:
        _SHIPPED.append(Shipped(Path(tempfile.mkdtemp(prefix="simscale-shipped-"))))
    return _SHIPPED[0]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "shipped(*runs): the shipped experiment runs, (spec, *overrides), that the "
        "test reads through the `shipped` fixture; they start in the background at collection")


def pytest_collection_modifyitems(session, config, items):
    """Tests that read shipped runs go last (stable order otherwise): their runs, started in
    the background when collection ends, are made while the other tests run."""
    items.sort(key=lambda item: item.get_closest_marker("shipped") is not None)


def pytest_collection_finish(session):
    wanted = [tuple(run) for item in session.items for mark in item.iter_markers("shipped")
              for run in mark.args]
    if wanted:
        _shipped().prefetch(wanted)


def pytest_sessionfinish(session, exitstatus):
    if _SHIPPED:
        shipped = _SHIPPED.pop()
        shipped.close()
        shutil.rmtree(shipped.out_root, ignore_errors=True)


@pytest.fixture(scope="session")
def shipped() -> Shipped:
    """Shipped experiment runs, each made once per session (tests/shipped.py)."""
    return _shipped()


def number_paths(node, path=()):
    """Paths of every number (or unset optional) in a spec's dump (the fields the spec tests
    set to bad values)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from number_paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from number_paths(value, (*path, i))
    elif node is None or (isinstance(node, int | float) and not isinstance(node, bool)):
        yield path
