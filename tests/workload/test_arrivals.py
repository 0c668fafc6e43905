"""Arrival generators: counts match the integral of the rate, paths are chunk-invariant.

Statistical tests are seeded (so they never flake) and use a two-sided significance level of
0.001: a correct generator passes, a wrong rate or a wrong shape fails by a wide margin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from simscale.workload import arrivals as A
from simscale.workload.samplers import token_counts

ALPHA = 1e-3


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def collect(chunks) -> np.ndarray:
    parts = list(chunks)
    return np.concatenate(parts) if parts else np.empty(0)


def two_sided_chi2(stat: float, dof: int) -> float:
    return 2 * min(stats.chi2.sf(stat, dof), stats.chi2.cdf(stat, dof))


def assert_counts_match(times: np.ndarray, process, edges: np.ndarray) -> None:
    """Counts per window against the integral of the rate: Poisson counts give
    sum (N − m)²/m ~ chi²(windows); checked two-sided, so too regular fails too."""
    counts = np.histogram(times, edges)[0]
    expected = np.array(
        [process.expected_count(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    )
    used = expected > 0
    assert np.all(counts[~used] == 0), "arrivals where the rate is zero"
    assert expected[used].min() >= 15, "windows too small for the chi-square approximation"
    stat = float(np.sum((counts[used] - expected[used]) ** 2 / expected[used]))
    assert two_sided_chi2(stat, int(used.sum())) > ALPHA, (stat, used.sum())


def assert_time_rescaled_exponential(times: np.ndarray, cumulative) -> None:
    """Time-rescaling theorem: Λ(t_k) is a unit-rate Poisson process, so its gaps are Exp(1)
    (Brown et al., Neural Computation 14 (2002) 325–346)."""
    gaps = np.diff(np.concatenate(([0.0], cumulative(times))))
    assert stats.kstest(gaps, "expon").pvalue > ALPHA


SCHEDULES = {
    "ramp_up": (A.RateSchedule(A.ramp_up(5, 200, 600, delay_s=100)), 1200.0),
    "step": (A.RateSchedule(A.step(20, 150, 300)), 900.0),
    "spike": (A.RateSchedule(A.spike(30, 400, 200, rise_s=10, hold_s=60, fall_s=30)), 600.0),
    "soak": (A.RateSchedule(A.soak(80, ramp_s=120)), 1500.0),
    "ramp_down_to_zero": (A.RateSchedule([(0, 100), (400, 100), (700, 0)]), 900.0),
    "zero_gaps": (
        A.RateSchedule([(0, 0), (50, 0), (100, 90), (200, 90), (200, 0), (300, 0), (300, 60)]),
        600.0,
    ),
    "periodic": (A.RateSchedule([(0, 10), (30, 120), (60, 10)], period_s=60), 1800.0),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_nhpp_counts_match_the_integral_of_the_rate(name: str) -> None:
    schedule, horizon = SCHEDULES[name]
    times = collect(schedule.times(rng(11), horizon))
    assert_counts_match(times, schedule, np.linspace(0, horizon, 61))
    assert_time_rescaled_exponential(times, schedule.cumulative)


def test_hourly_profile_over_two_days() -> None:
    rates = [1, 1, 0.5, 0.5, 0.5, 1, 2, 4, 6, 7, 8, 8, 7, 7, 8, 8, 7, 6, 5, 4, 3, 2, 2, 1]
    schedule = A.hourly_profile(rates, start_hour=6.0)
    horizon = 2 * A.DAY_S
    times = collect(schedule.times(rng(5), horizon))
    assert_counts_match(times, schedule, np.linspace(0, horizon, 97))
    assert_time_rescaled_exponential(times, schedule.cumulative)
    # a day holds exactly 3600·Σrates expected arrivals, whatever the start hour
    assert schedule.expected_count(1234.0, 1234.0 + A.DAY_S) == pytest.approx(3600 * sum(rates))
    # rates sit at the middle of each hour, shifted by the start hour
    midpoints = (np.arange(24) + 0.5 - 6.0) * 3600 % A.DAY_S
    assert np.allclose(schedule.rate_at(midpoints), rates)


def test_sinusoid_by_thinning_matches_its_rate() -> None:
    process = A.Sinusoid(mean_rps=50, amplitude_rps=40, period_s=600, phase_s=100)
    times = collect(process.times(rng(2), 3000))
    assert_counts_match(times, process, np.linspace(0, 3000, 101))
    w = 2 * np.pi / 600
    assert_time_rescaled_exponential(
        times, lambda t: 50 * t + 40 / w * (np.sin(w * (t - 100)) - np.sin(w * -100))
    )


def test_constant_poisson_dispersion_and_exponential_gaps() -> None:
    times = collect(A.poisson_times(rng(3), 200.0, 2000.0))
    counts = np.histogram(times, np.arange(0, 2001, 1.0))[0]
    dispersion = float(np.sum((counts - counts.mean()) ** 2) / counts.mean())
    assert two_sided_chi2(dispersion, len(counts) - 1) > ALPHA
    assert abs(len(times) - 400_000) < 4 * math.sqrt(400_000)
    assert stats.kstest(np.diff(times) * 200.0, "expon").pvalue > ALPHA


@pytest.mark.parametrize(
    "process",
    [
        A.RateSchedule(A.spike(10, 50, 20, 5, 10, 5)),
        A.RateSchedule(A.step(5, 0, 40)),
        A.hourly_profile(list(range(1, 25)), start_hour=23.5),
        A.Sinusoid(20, 20, 30, 7),
    ],
    ids=["spike", "step_to_zero", "hourly", "sinusoid"],
)
def test_expected_count_is_the_integral_of_rate_at(process) -> None:
    kinks = [t for t, _ in getattr(process, "points", ())]
    period = getattr(process, "period_s", None) or 1e9
    kinks = sorted({t + k * period for t in kinks for k in range(3)})
    for t0, t1 in [(0, 3), (2.5, 41.0), (10, 100), (0, 90_000)]:
        inside = [t for t in kinks if t0 < t < t1] or None
        quad = integrate.quad(
            lambda t: float(process.rate_at(t)), t0, t1, limit=2000, points=inside, epsabs=1e-9
        )[0]
        assert process.expected_count(t0, t1) == pytest.approx(quad, rel=1e-6, abs=1e-6)


def test_inversion_is_exact_on_every_segment_shape() -> None:
    schedule = A.RateSchedule(
        [(0, 0), (10, 0), (20, 5), (25, 5), (25, 1), (40, 30), (50, 0), (60, 7)]
    )
    y = np.linspace(0, schedule.cumulative(200.0), 10_001)
    t = schedule.inverse_cumulative(y)
    assert np.allclose(schedule.cumulative(t), y, rtol=0, atol=1e-9)
    assert np.all(np.diff(t) >= 0)
    # the inverse never lands where the rate is zero (except at the very start of mass)
    assert np.all(schedule.rate_at(t[1:]) > 0)


def test_periodic_cumulative_adds_one_period_of_mass() -> None:
    schedule = A.RateSchedule([(5, 2), (20, 8)], period_s=30)
    t = np.linspace(0, 29.9, 50)
    mass = schedule.cumulative(30.0)
    assert np.allclose(schedule.cumulative(t + 30 * 7), schedule.cumulative(t) + 7 * mass)
    y = np.linspace(0, 5 * mass, 333)
    assert np.allclose(schedule.cumulative(schedule.inverse_cumulative(y)), y)


def test_rate_ending_at_zero_gives_a_finite_number_of_arrivals() -> None:
    schedule = A.RateSchedule([(0, 100), (10, 0)])
    assert schedule.total_count == pytest.approx(500)
    counts = [len(collect(schedule.times(rng(s), 1e9))) for s in range(200)]
    # 200 Poisson(500) counts: their sum is Poisson(100 000)
    assert abs(sum(counts) - 100_000) < 4 * math.sqrt(100_000)
    assert all(t.max() < 10 for t in (collect(schedule.times(rng(s), 1e9)) for s in range(5)))


def test_mmpp_long_run_rate_is_the_stationary_mean() -> None:
    process = A.MMPP2(rate1_rps=2, rate2_rps=20, switch12_per_s=0.05, switch21_per_s=0.2)
    assert process.stationary == pytest.approx((0.8, 0.2))
    assert process.mean_rate_rps == pytest.approx(5.6)
    horizon = 200_000.0
    times = collect(process.times(rng(7), horizon))
    sd = math.sqrt(process.count_variance(horizon))
    assert abs(len(times) - process.mean_rate_rps * horizon) < 4 * sd
    # windows far longer than the switching time: variance as the MMPP formula says (bursty:
    # about 70 times a Poisson count's)
    counts = np.histogram(times, np.arange(0, horizon + 1, 100.0))[0]
    assert counts.mean() == pytest.approx(560, rel=0.05)
    assert counts.var(ddof=1) == pytest.approx(process.count_variance(100.0), rel=0.15)
    assert counts.var(ddof=1) > 20 * counts.mean()


def test_mmpp_with_an_off_state_keeps_its_mean() -> None:
    process = A.MMPP2(rate1_rps=0, rate2_rps=50, switch12_per_s=1.0, switch21_per_s=3.0)
    horizon = 20_000.0
    times = collect(process.times(rng(8), horizon))
    assert abs(len(times) - 12.5 * horizon) < 4 * math.sqrt(process.count_variance(horizon))


@pytest.mark.parametrize(
    ("cv", "family", "tolerance"),
    [
        (0.5, "gamma", 0.02),
        (2.0, "gamma", 0.03),
        (0.5, "lognormal", 0.02),
        (1.5, "lognormal", 0.08),
    ],
)
def test_renewal_interarrival_cv_and_rate(cv: float, family: str, tolerance: float) -> None:
    process = A.Renewal(rate_rps=100.0, cv=cv, family=family)
    times = collect(process.times(rng(4), 2000.0))
    gaps = np.diff(times)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=tolerance)
    assert gaps.mean() == pytest.approx(0.01, rel=tolerance)


def test_renewal_cv_one_is_poisson_and_cv_zero_is_regular() -> None:
    times = collect(A.renewal_times(rng(9), 50.0, 1.0, 2000.0))
    assert stats.kstest(np.diff(times) * 50.0, "expon").pvalue > ALPHA
    regular = collect(A.renewal_times(rng(9), 4.0, 0.0, 100.0))
    assert np.allclose(np.diff(regular), 0.25)
    assert 0 <= regular[0] < 0.25


@pytest.mark.parametrize("family", ["gamma", "lognormal"])
def test_renewal_starts_in_equilibrium(family: str) -> None:
    """The count on [0, 1) has mean rate·1 from the start (an ordinary renewal process with
    cv = 3 would average far fewer early arrivals)."""
    process = A.Renewal(rate_rps=1.0, cv=3.0, family=family)
    counts = np.array([len(collect(process.times(rng(s), 1.0, chunk_size=8))) for s in range(4000)])
    assert abs(counts.mean() - 1.0) < 4 * counts.std() / math.sqrt(len(counts))


PROCESSES = {
    "poisson": A.Poisson(300.0),
    "ramp": A.RateSchedule(A.ramp_up(0, 600, 50)),
    "hourly": A.hourly_profile([100 + 10 * h for h in range(24)]),
    "sinusoid": A.Sinusoid(300, 250, 20),
    "mmpp": A.MMPP2(50, 800, 0.5, 1.0),
    "gamma": A.Renewal(300.0, 2.5),
    "lognormal": A.Renewal(300.0, 0.7, "lognormal"),
    "regular": A.Renewal(300.0, 0.0),
}


@pytest.mark.parametrize("name", PROCESSES)
def test_chunk_size_does_not_change_the_sample_path(name: str) -> None:
    process = PROCESSES[name]
    horizon = 60.0
    reference = collect(process.times(rng(21), horizon, chunk_size=A.CHUNK))
    assert len(reference) > 5_000
    for chunk_size, upto in ((1, 3.0), (7, 10.0), (1000, horizon), (4096, horizon)):
        chunks = list(process.times(rng(21), upto, chunk_size=chunk_size))
        assert all(0 < len(c) <= chunk_size for c in chunks)
        assert np.array_equal(np.concatenate(chunks), reference[reference < upto])


@pytest.mark.parametrize("name", PROCESSES)
def test_times_are_ascending_float64_within_the_horizon(name: str) -> None:
    process = PROCESSES[name]
    chunks = list(process.times(rng(1), 30.0, chunk_size=512))
    times = np.concatenate(chunks)
    assert all(c.dtype == np.float64 for c in chunks)
    assert np.all(np.diff(times) >= 0)
    assert times[0] >= 0 and times[-1] < 30.0
    assert not np.array_equal(times, collect(process.times(rng(2), 30.0, chunk_size=512)))


def test_generators_are_lazy() -> None:
    chunks = A.poisson_times(rng(0), 1e6, 1e6, chunk_size=1000)  # 10¹² arrivals if drained
    first = next(chunks)
    assert len(first) == 1000


def test_expected_count_accepts_points_and_processes() -> None:
    assert A.expected_count([(0, 10), (10, 30)], 0, 20) == pytest.approx(200 + 300)
    assert A.expected_count(A.Poisson(3), 1, 5) == pytest.approx(12)
    assert A.expected_count(A.MMPP2(1, 3, 1, 1), 0, 10) == pytest.approx(20)
    assert A.expected_count(A.Renewal(7, 2.0), 0, 10) == pytest.approx(70)
    assert A.expected_count(A.step(1, 5, 10), 0, 20) == pytest.approx(60)
    assert A.expected_count(A.spike(0, 10, 5, 2, 3, 4), 0, 100) == pytest.approx(10 + 30 + 20)


@pytest.mark.parametrize(
    "make",
    [
        lambda: A.RateSchedule([]),
        lambda: A.RateSchedule([(0, -1)]),
        lambda: A.RateSchedule([(5, 1), (4, 1)]),
        lambda: A.RateSchedule([(0, 1), (20, 1)], period_s=10),
        lambda: A.RateSchedule([(math.nan, 1)]),
        lambda: A.Poisson(-1),
        lambda: A.Sinusoid(10, 11),
        lambda: A.MMPP2(1, 2, 0, 1),
        lambda: A.Renewal(0, 1),
        lambda: A.Renewal(1, 1, "weibull"),
        lambda: A.hourly_profile([1] * 23),
        lambda: list(A.poisson_times(rng(), 1, -1)),
    ],
)
def test_bad_parameters_raise_value_error(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_token_counts_have_the_requested_mean_and_cv() -> None:
    tokens = token_counts(rng(0), 200_000, 800.0, 1.2)
    assert tokens.dtype == np.int64 and tokens.min() >= 1
    assert tokens.mean() == pytest.approx(800, rel=0.02)
    assert tokens.std() / tokens.mean() == pytest.approx(1.2, rel=0.05)
    assert token_counts(rng(0), 1000, 800.0, 1.2, max_tokens=900).max() == 900


# ---------------------------------------------------------------- periodic (dashboard viewers)


@pytest.mark.parametrize("viewers, interval_s, horizon_s", [(1, 1.0, 10.0), (300, 5.0, 60.0),
                                                             (7, 0.25, 3.0)])
def test_viewers_poll_n_over_k_times_a_second(viewers, interval_s, horizon_s):
    """Each viewer polls once per period: over whole periods exactly N × T / k polls, and
    N / k per second on any window (the expected count)."""
    process = A.Periodic(viewers, interval_s)
    times = np.concatenate(list(process.times(np.random.default_rng(1), horizon_s)))
    assert len(times) == round(viewers * horizon_s / interval_s)
    assert np.all(np.diff(times) >= 0) and times[0] >= 0 and times[-1] < horizon_s
    assert process.expected_count(0.0, horizon_s) == pytest.approx(len(times))
    assert process.rate_rps == viewers / interval_s


def test_viewer_counts_on_a_window_average_to_the_expected_count():
    process = A.Periodic(50, 4.0, start_s=2.0, end_s=30.0)
    counts = [np.count_nonzero((t >= 5.0) & (t < 12.5)) for t in (
        np.concatenate(list(process.times(np.random.default_rng(s), 40.0))) for s in range(200))]
    assert np.mean(counts) == pytest.approx(process.expected_count(5.0, 12.5), rel=0.01)
    assert process.expected_count(0.0, 2.0) == 0.0 and process.expected_count(30.0, 40.0) == 0.0


def test_viewer_times_do_not_depend_on_the_chunk_size():
    process = A.Periodic(333, 2.0, start_s=1.0)
    whole = np.concatenate(list(process.times(np.random.default_rng(5), 50.0)))
    for chunk in (1, 7, 1000):
        parts = list(process.times(np.random.default_rng(5), 50.0, chunk_size=chunk))
        assert all(0 < len(p) <= chunk for p in parts)
        assert np.array_equal(np.concatenate(parts), whole)
