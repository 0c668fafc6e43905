"""The summary's percentile digest: exact while small (also once its values are on disk),
within its relative error when large."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simscale.model.runner import run
from simscale.outputs import digest
from simscale.outputs.digest import Digest
from simscale.outputs.selection import order_statistics
from simscale.spec import load_spec
from tests.shipped import EXPERIMENTS

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


def _filled(values: np.ndarray, chunks: int, **kwargs) -> Digest:
    d = Digest(**kwargs)
    for chunk in np.array_split(values, chunks):
        d.add(chunk)
    return d


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 20_000),
       shape=st.sampled_from(["lognormal", "rounded", "constant", "half_zeros"]),
       memory_values=st.integers(1, 3_000), chunks=st.integers(1, 40))
def test_quantiles_from_the_file_are_numpys_exactly(seed, n, shape, memory_values, chunks):
    rng = np.random.default_rng(seed)
    values = {"lognormal": lambda: rng.lognormal(-3, 2, n),
              "rounded": lambda: np.round(rng.exponential(0.05, n), 3),  # many ties
              "constant": lambda: np.full(n, 0.125),
              "half_zeros": lambda: np.where(rng.random(n) < 0.5, 0.0, rng.random(n))}[shape]()
    d = _filled(values, chunks, memory_values=memory_values)
    assert d.exact and d.count == n
    assert d.quantiles(QS) == np.quantile(values, QS).tolist()  # the very same floats
    assert d.values().size == n


def test_values_beyond_the_memory_budget_are_not_held():
    d = Digest(memory_values=1_000)
    for _ in range(30):
        d.add(np.random.default_rng(3).exponential(0.1, 700))
    assert d._held <= 1_000 + 700  # noqa: SLF001 - the values in memory, not 21,000
    assert d._spilled >= 20_000  # noqa: SLF001


@pytest.mark.parametrize("collect_values", [1, 3, 1_000])
def test_order_statistics_narrow_to_the_very_value(collect_values):
    """Small buckets force every pass (to the last of 64 bits for tied values), negative
    values and both zeros included."""
    rng = np.random.default_rng(4)
    values = np.concatenate([rng.normal(0, 1, 3_000), np.full(500, 2.5), [0.0, -0.0, -1e-300],
                             rng.lognormal(5, 3, 1_000)])
    rng.shuffle(values)
    blocks = np.array_split(values, 6)
    ranks = range(0, values.size, 37)
    got = order_statistics(lambda: iter(blocks), values.size, ranks, collect_values)
    assert [got[r] for r in ranks] == np.sort(values)[list(ranks)].tolist()


def test_nan_makes_every_quantile_nan_as_numpy_does():
    values = np.concatenate([np.arange(5_000, dtype=float), [np.nan]])
    d = _filled(values, 5, memory_values=100)
    assert np.isnan(np.quantile(values, QS)).all()
    assert all(np.isnan(d.quantiles(QS)))


def test_histogram_after_spilling_equals_the_histogram_of_a_digest_held_in_memory():
    values = np.random.default_rng(5).lognormal(-2, 1, 30_000)
    spilled = _filled(values, 13, exact_limit=20_000, memory_values=500)
    held = _filled(values, 13, exact_limit=20_000)
    assert not spilled.exact and spilled._spill is None  # noqa: SLF001 - the file is gone
    assert spilled.quantiles(QS) == held.quantiles(QS)


def test_a_runs_percentiles_are_numpys_over_its_requests_table(tmp_path, monkeypatch):
    """A run whose requests span several row groups and whose digests went to disk: the
    summary's percentiles are np.quantile's over requests.parquet, and the run's folder
    holds only its outputs."""
    monkeypatch.setattr(digest, "MEMORY_VALUES", 2_000)
    written = []
    write_out = Digest._write_out
    monkeypatch.setattr(Digest, "_write_out", lambda d: written.append(d._held) or write_out(d))
    spec = load_spec(EXPERIMENTS / "phase3/after.toml",
                     ["duration_s=30", "workload.arrivals.ramp_s=5", "output.row_group_rows=4000"])
    summary = run(spec, tmp_path / "run").summary
    path = tmp_path / "run" / "requests.parquet"
    assert pq.ParquetFile(path).metadata.num_row_groups >= 4 and len(written) >= 8
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "events.parquet", "metrics.parquet", "requests.parquet", "summary.json"]
    table = pq.read_table(path, columns=["status", "latency_s", "ttft_s"])
    ok = table["status"].to_numpy(zero_copy_only=False) == "ok"
    latency = table["latency_s"].to_numpy(zero_copy_only=False)[ok]
    ttft = table["ttft_s"].to_numpy(zero_copy_only=False)[ok]  # NaN: no first token
    streamed = ~np.isnan(ttft)
    for name, values in (("latency", latency), ("ttft", ttft[streamed]),
                         ("api_latency", latency[~streamed])):
        assert values.size > 2_000
        got = [summary[f"{name}_p{p}_s"] for p in (50, 95, 99)]
        assert got == np.quantile(values, [0.5, 0.95, 0.99]).tolist(), name


def test_the_mean_does_not_depend_on_how_the_values_were_batched():
    """The mean is of the correctly rounded sum (math.fsum): one batch or many, in memory
    or in the file, the same float."""
    rng = np.random.default_rng(7)
    values = rng.lognormal(-3.0, 1.5, 50_000)
    whole = Digest(memory_values=1_000)
    whole.add(values)
    pieces = Digest(memory_values=1_000)
    for piece in np.array_split(values, 37):
        pieces.add(piece)
    expected = math.fsum(values.tolist()) / len(values)
    assert whole.mean() == pieces.mean() == expected
    whole.close()
    pieces.close()
