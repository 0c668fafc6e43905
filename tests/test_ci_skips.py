"""In CI (`CI=true`) a skipped test fails: CI installs every validator and extra the suite uses."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INNER = '''
import pytest

@pytest.mark.skipif(True, reason="nginx not installed")
def test_marked():
    pass

def test_skips_itself():
    pytest.skip("haproxy not installed")

def test_passes():
    pass

@pytest.mark.xfail(reason="a known gap", strict=True)
def test_expected_failure():
    assert False
'''

# the inner sessions need none of the suite's plugins
ARGS = ("-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:hypothesispytest")

MISSING_MODULE = '''
import pytest

pytest.importorskip("no_such_validator_module")

def test_never_collected():
    pass
'''


@pytest.fixture
def inner(pytester):
    pytester.makeconftest("from tests.conftest import pytest_make_collect_report, "
                          "pytest_runtest_makereport  # noqa: F401\n")
    pytester.makepyfile(test_inner=INNER)
    return pytester


@pytest.mark.parametrize("ci, skipped, failed", [("", 2, 0), ("true", 0, 2)])
def test_a_skip_fails_only_in_ci(inner, monkeypatch, ci, skipped, failed):
    monkeypatch.setenv("CI", ci)
    result = inner.runpytest_inprocess(*ARGS)
    counts = result.parseoutcomes()
    assert counts.get("skipped", 0) == skipped
    assert counts.get("failed", 0) + counts.get("errors", counts.get("error", 0)) == failed
    assert counts["passed"] == 1 and counts["xfailed"] == 1
    if failed:
        result.stdout.fnmatch_lines(["*skipped in CI: *nginx not installed*",
                                     "*skipped in CI: *haproxy not installed*"])


def test_a_module_skipped_for_a_missing_import_fails_in_ci(pytester, monkeypatch):
    pytester.makeconftest("from tests.conftest import pytest_make_collect_report  # noqa: F401\n")
    pytester.makepyfile(test_validator=MISSING_MODULE)
    monkeypatch.setenv("CI", "true")
    result = pytester.runpytest_inprocess(*ARGS)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*skipped in CI: *no_such_validator_module*"])
    monkeypatch.setenv("CI", "")
    assert pytester.runpytest_inprocess(*ARGS).parseoutcomes() == {
        "skipped": 1}
