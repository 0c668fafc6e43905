"""The `simscale validate` checks run in the suite too: the engine against queueing theory."""

from __future__ import annotations

import math

import pytest

from simscale.selfcheck.queueing import erlang_c, mmc_mean_wait, run_checks


@pytest.mark.parametrize("c, a, expected", [
    (1, 0.5, 0.5),            # M/M/1: P(wait) = rho
    (2, 1.0, 1.0 / 3.0),      # textbook value
    (8, 6.4, 0.4576449),      # the validation spec's operating point
])
def test_erlang_c_known_values(c, a, expected):
    assert erlang_c(c, a) == pytest.approx(expected, rel=1e-5)


def test_erlang_c_matches_the_direct_sum_formula():
    """C(c, a) = (a^c/c!)·c/(c−a) / (Σ_{k<c} a^k/k! + (a^c/c!)·c/(c−a))."""
    for c, a in [(3, 2.1), (8, 6.4), (20, 17.0)]:
        top = a**c / math.factorial(c) * c / (c - a)
        direct = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
        assert erlang_c(c, a) == pytest.approx(direct, rel=1e-12)


def test_mmc_wait_reduces_to_mm1():
    lam, mu = 0.8, 1.0
    assert mmc_mean_wait(1, lam, mu) == pytest.approx(lam / (mu * (mu - lam)))


def test_erlang_c_rejects_an_unstable_system():
    with pytest.raises(ValueError):
        erlang_c(2, 2.5)


def test_engine_agrees_with_queueing_theory():
    checks = run_checks(replications=10, seed=1)
    assert len(checks) == 6
    failed = [(c.name, c.expected, c.measured, c.ci_low, c.ci_high) for c in checks if not c.passed]
    assert failed == []
    # the intervals are informative, not vacuous: each is within ±10% of the expected value
    for c in checks:
        assert c.ci_high - c.ci_low < 0.2 * abs(c.expected), c.name
