"""The summary's percentile digest: exact while small, within its relative error when large."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simscale.outputs.digest import Digest

QS = [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 1.0]


def test_exact_while_small():
    values = np.random.default_rng(1).lognormal(0, 1, 10_000)
    d = Digest(exact_limit=20_000)
    for chunk in np.array_split(values, 7):
        d.add(chunk)
    assert d.exact and d.count == len(values)
    assert d.quantiles(QS) == np.quantile(values, QS).tolist()
    assert d.mean() == pytest.approx(values.mean())


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sigma=st.floats(0.1, 3.0),
       zeros=st.integers(0, 50), alpha=st.sampled_from([0.001, 0.005, 0.02]))
def test_sketch_quantiles_are_within_the_relative_error(seed, sigma, zeros, alpha):
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.lognormal(-3, sigma, 5_000), np.zeros(zeros)])
    rng.shuffle(values)
    d = Digest(exact_limit=100, relative_error=alpha)
    for chunk in np.array_split(values, 9):
        d.add(chunk)
    assert not d.exact and d.count == len(values)
    ordered = np.sort(values)
    for q, got in zip(QS, d.quantiles(QS), strict=True):
        # the sketch answers with a value of the rank's bucket: compare to the order statistic
        rank = int(np.floor(q * (len(values) - 1) + 1e-9))
        lo, hi = ordered[rank], ordered[min(rank + 1, len(values) - 1)]
        assert lo * (1 - alpha) - 1e-12 <= got <= hi * (1 + alpha) + 1e-12, (q, got, lo, hi)


def test_memory_stays_bounded():
    d = Digest(exact_limit=1000)
    rng = np.random.default_rng(2)
    for _ in range(50):
        d.add(rng.exponential(0.1, 20_000))
    assert d.count == 1_000_000 and not d.exact
    assert d._counts.nbytes < 100_000  # noqa: SLF001 - the histogram, not a million floats


def test_empty():
    assert Digest().quantiles([0.5]) is None and Digest().mean() is None
