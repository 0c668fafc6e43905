"""The one setting every fuzz property of the suite shares: how many examples it runs.

SIMSCALE_FUZZ_EXAMPLES sets the example count of every fuzz property (the trace fuzzing of
tests/fuzz/, the spec mutations of tests/test_spec_fuzz.py, the import files of
tests/export/test_import_fuzz.py, the extreme exports of tests/export/test_limits.py).
Unset, each property runs its own small count, chosen so that the whole fuzz set adds
about half a minute to the suite on 2 cores. Set, each test's deadline grows with the
count (an example has its own bound, so a hang still fails):

    SIMSCALE_FUZZ_EXAMPLES=1000 pytest tests/fuzz tests/test_spec_fuzz.py \
        tests/export/test_import_fuzz.py --hypothesis-show-statistics
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings

ENV = "SIMSCALE_FUZZ_EXAMPLES"
SUITE_TIMEOUT_S = 120  # pyproject.toml's pytest-timeout, the deadline of a suite-sized run


def requested_examples() -> int | None:
    """The count SIMSCALE_FUZZ_EXAMPLES asks for, or None when it is unset or empty."""
    text = os.environ.get(ENV, "").strip()
    if not text:
        return None
    try:
        count = int(text)
    except ValueError:
        raise pytest.UsageError(f"{ENV}={text!r}: expected a whole number of examples") from None
    if count < 1:
        raise pytest.UsageError(f"{ENV}={text!r}: expected at least 1 example")
    return count


def fuzz(suite_default: int, example_s: float,
         deadline: timedelta | None = None) -> Callable[[Callable], Callable]:
    """Hypothesis settings for a fuzz property plus a test deadline that fits its count.

    suite_default: the examples it runs when SIMSCALE_FUZZ_EXAMPLES is unset (the suite's
    own deadline applies). example_s: the longest one example may take (a subprocess's
    timeout plus its start, or an in-process run's bound); with a requested count the
    test's deadline is count × example_s, at least the suite's. deadline: Hypothesis's own
    per-example deadline (None: none).
    """
    requested = requested_examples()
    count = suite_default if requested is None else requested
    hypothesis_settings = settings(
        max_examples=count, deadline=deadline, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.data_too_large])

    def apply(test: Callable) -> Callable:
        test = hypothesis_settings(test)
        if requested is None:
            return test  # the suite's own deadline
        return pytest.mark.timeout(max(SUITE_TIMEOUT_S, round(count * example_s)))(test)

    return apply
