"""Service, think-time and boot-delay distributions give what was asked: mean and cv within a
confidence bound, the right family (Kolmogorov-Smirnov), and the same through the simulator.

The bounds come from the asked distribution's own moments: the sample mean has standard error
σ/√n and the sample variance (μ4 − σ⁴)/n as its variance, so each check is a z-test at
z = 4.5 (two-sided p ≈ 7e-6). Samples are seeded, so nothing flakes; a wrong conversion of
(mean, cv) to the family's parameters misses by many standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow.compute as pc
import pytest
from pydantic import TypeAdapter
from scipy import stats

from simscale.workload.distributions import Distribution
from tests.conftest import run_tables, small_spec

Z = 4.5
N = 200_000
ALPHA = 1e-3
EMPIRICAL_VALUES = [0.01, 0.02, 0.02, 0.05, 0.1, 0.3]


def raw_moments(kind: str, mean: float, cv: float) -> list[float]:
    """E[X^k] for k = 1..4 of the asked distribution, from its textbook formulas."""
    if kind == "deterministic":
        return [mean**k for k in range(1, 5)]
    if kind == "exponential":
        return [math.factorial(k) * mean**k for k in range(1, 5)]
    if kind == "lognormal":
        s2 = math.log1p(cv**2)
        mu = math.log(mean) - s2 / 2
        return [math.exp(k * mu + k * k * s2 / 2) for k in range(1, 5)]
    if kind == "gamma":
        shape, scale = 1 / cv**2, mean * cv**2
        return [scale**k * math.exp(math.lgamma(shape + k) - math.lgamma(shape))
                for k in range(1, 5)]
    raise ValueError(kind)


def assert_mean_and_cv(samples: np.ndarray, moments: list[float]) -> None:
    """The sample mean and variance within Z standard errors of the asked ones."""
    m1, m2, m3, m4 = moments
    var = m2 - m1**2
    mu4 = m4 - 4 * m3 * m1 + 6 * m2 * m1**2 - 3 * m1**4
    n = len(samples)
    assert abs(samples.mean() - m1) <= Z * math.sqrt(var / n) + 1e-12, (samples.mean(), m1)
    s2 = samples.var(ddof=1)
    assert abs(s2 - var) <= Z * math.sqrt(max(mu4 - var**2, 0.0) / n) + 1e-12, (s2, var)


def scipy_family(kind: str, mean: float, cv: float):
    """The asked distribution as scipy writes it (an independent parametrization)."""
    if kind == "exponential":
        return stats.expon(scale=mean)
    if kind == "lognormal":
        sigma = math.sqrt(math.log1p(cv**2))
        return stats.lognorm(s=sigma, scale=mean / math.sqrt(1 + cv**2))
    if kind == "gamma":
        return stats.gamma(a=1 / cv**2, scale=mean * cv**2)
    raise ValueError(kind)


CASES = [
    ("exponential", {"mean_s": 0.05}, 0.05, 1.0),
    ("deterministic", {"value_s": 0.3}, 0.3, 0.0),
    ("lognormal", {"mean_s": 0.04, "cv": 0.5}, 0.04, 0.5),
    ("lognormal", {"mean_s": 8.0, "cv": 1.5}, 8.0, 1.5),
    ("gamma", {"mean_s": 90.0, "cv": 0.3}, 90.0, 0.3),
    ("gamma", {"mean_s": 0.3, "cv": 2.0}, 0.3, 2.0),
]


def dist(kind: str, fields: dict):
    return TypeAdapter(Distribution).validate_python({"kind": kind, **fields})


@pytest.mark.parametrize("kind, fields, mean, cv", CASES,
                         ids=[f"{k}-{f.get('cv', '')}" for k, f, _, _ in CASES])
def test_samples_have_the_asked_mean_cv_and_family(kind, fields, mean, cv):
    d = dist(kind, fields)
    samples = d.sample(np.random.default_rng(11), N)
    assert samples.shape == (N,) and (samples >= 0).all()
    assert d.mean() == mean
    assert_mean_and_cv(samples, raw_moments(kind, mean, cv))
    if kind != "deterministic":
        assert stats.kstest(samples[:20_000], scipy_family(kind, mean, cv).cdf).pvalue > ALPHA


def test_lognormal_and_gamma_of_one_mean_and_cv_are_told_apart():
    """Same mean and cv, different shapes: KS separates them, so the family is checked too."""
    lognormal = dist("lognormal", {"mean_s": 1.0, "cv": 1.0}).sample(np.random.default_rng(1),
                                                                     20_000)
    assert stats.kstest(lognormal, scipy_family("gamma", 1.0, 1.0).cdf).pvalue < 1e-6


def test_empirical_resamples_the_file_uniformly(tmp_path):
    path = tmp_path / "service.txt"
    path.write_text("# service times, ms\n" + "\n".join(f"{v * 1000:g}," for v in
                                                      EMPIRICAL_VALUES) + "\n")
    d = dist("empirical", {"path": str(path), "scale": 0.001})
    values = np.array(EMPIRICAL_VALUES)
    assert d.mean() == pytest.approx(values.mean())
    samples = d.sample(np.random.default_rng(5), N)
    assert set(np.round(samples, 9)) == set(values)
    assert_mean_and_cv(samples, [float(np.mean(values**k)) for k in range(1, 5)])
    # each line is drawn with probability 1/6 (0.02 is on two lines: 2/6)
    distinct, counts = np.unique(np.round(samples, 9), return_counts=True)
    expected = np.array([EMPIRICAL_VALUES.count(v) for v in distinct]) / 6 * N
    assert stats.chisquare(counts, expected).pvalue > ALPHA


# ---------------------------------------------------------------- through the simulator


def service_latencies(tmp_path, service: dict) -> np.ndarray:
    """Latencies of a run with no waiting: one instance with 64 slots and 64 cores at about
    5 requests in service, so each latency is exactly one service time."""
    spec = small_spec(duration_s=300.0, workload={
        "arrivals": {"kind": "poisson", "rate_rps": 50.0}, "service": service},
        instances={"count": 1, "slots": 64, "cores": 64}, timeouts={"request_s": "none"})
    _, tables = run_tables(spec, tmp_path / "run")
    req = tables["requests"]
    assert pc.all(pc.equal(req["status"], "ok")).as_py()
    assert pc.max(req["wait_s"]).as_py() == 0.0
    return req["latency_s"].to_numpy()


@pytest.mark.parametrize("kind, fields, mean, cv", [
    ("exponential", {"mean_s": 0.1}, 0.1, 1.0),
    ("lognormal", {"mean_s": 0.1, "cv": 1.0}, 0.1, 1.0),
    ("gamma", {"mean_s": 0.1, "cv": 0.5}, 0.1, 0.5),
])
def test_the_model_serves_each_request_for_a_sampled_service_time(tmp_path, kind, fields, mean,
                                                                  cv):
    latency = service_latencies(tmp_path, {"kind": kind, **fields})
    assert len(latency) > 12_000
    assert_mean_and_cv(latency, raw_moments(kind, mean, cv))
    assert stats.kstest(latency, scipy_family(kind, mean, cv).cdf).pvalue > ALPHA


def test_the_model_serves_deterministic_and_empirical_times_exactly(tmp_path):
    latency = service_latencies(tmp_path / "d", {"kind": "deterministic", "value_s": 0.07})
    assert latency == pytest.approx(np.full(len(latency), 0.07), abs=1e-9)
    path = tmp_path / "values.txt"
    path.write_text("\n".join(str(v) for v in EMPIRICAL_VALUES))
    latency = service_latencies(tmp_path / "e", {"kind": "empirical", "path": str(path)})
    distinct, counts = np.unique(np.round(latency, 9), return_counts=True)
    assert distinct.tolist() == sorted(set(EMPIRICAL_VALUES))
    expected = np.array([EMPIRICAL_VALUES.count(v) for v in distinct]) / 6 * len(latency)
    assert stats.chisquare(counts, expected).pvalue > ALPHA
