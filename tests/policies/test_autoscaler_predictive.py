"""predictive: bucketed history, seasonal naive and Holt-Winters forecasts, the forecast floor."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.autoscalers.forecast import BucketedSeries, HoltWintersAdditive, SeasonalNaive
from policies.autoscalers.predictive import Predictive, PredictiveConfig
from policies.views import ClusterView, PodMetrics


def test_buckets_complete_when_a_later_sample_arrives_and_gaps_repeat_the_last_mean():
    series = BucketedSeries(60.0)
    assert series.add(0.0, 10.0) == []
    assert series.add(30.0, 20.0) == []
    assert series.add(60.0, 40.0) == [15.0]
    assert series.last_complete_index == 0
    assert series.add(200.0, 1.0) == [40.0, 40.0]  # bucket 1 done, bucket 2 empty
    assert series.last_complete_index == 2
    with pytest.raises(ValueError):
        series.add(100.0, 1.0)


@pytest.mark.parametrize("steps, expected", [(1, 1.0), (2, 2.0), (3, 3.0), (4, 1.0), (7, 1.0)])
def test_seasonal_naive_repeats_the_last_season(steps, expected):
    model = SeasonalNaive(3)
    for value in [9.0, 1.0, 2.0, 3.0]:  # the last season is 1, 2, 3
        model.update(value)
    assert model.forecast(steps) == expected


def test_holt_winters_hand_computed_example():
    """m = 2, α = β = γ = 0.5, data 1, 3, 2, 4 (worked by hand from the FPP 8.3 equations)."""
    model = HoltWintersAdditive(2, 0.5, 0.5, 0.5)
    for value in [1.0, 3.0, 2.0, 4.0]:
        model.update(value)
    assert model.ready
    assert model.level == pytest.approx(3.1875)
    assert model.trend == pytest.approx(0.53125)
    assert model.season == pytest.approx([-0.75, 0.8125])
    assert model.forecast(1) == pytest.approx(2.96875)
    assert model.forecast(2) == pytest.approx(5.0625)


@settings(max_examples=50, deadline=None)
@given(
    base=st.floats(0.0, 100.0),
    pattern=st.lists(st.floats(-10.0, 10.0), min_size=2, max_size=12),
    seasons=st.integers(2, 5),
    alpha=st.floats(0.0, 1.0), beta=st.floats(0.0, 1.0), gamma=st.floats(0.0, 1.0),
)
def test_holt_winters_reproduces_a_purely_seasonal_series(base, pattern, seasons, alpha, beta,
                                                          gamma):
    mean = sum(pattern) / len(pattern)
    shape = [p - mean for p in pattern]  # zero-mean seasonal shape
    m = len(shape)
    model = HoltWintersAdditive(m, alpha, beta, gamma)
    n = seasons * m
    for t in range(n):
        model.update(base + shape[t % m])
    for h in range(1, 2 * m + 1):
        assert model.forecast(h) == pytest.approx(base + shape[(n - 1 + h) % m], abs=1e-6)


def test_forecasters_refuse_before_they_have_history():
    with pytest.raises(ValueError):
        SeasonalNaive(3).forecast(1)
    with pytest.raises(ValueError):
        HoltWintersAdditive(3, 0.3, 0.1, 0.1).forecast(1)


# A 10-minute "day" of 60 s buckets: 20 rps except a 100 rps burst in bucket 5 (300-360 s).
def burst_rps(now_s):
    return 100.0 if int(now_s // 60) % 10 == 5 else 20.0


def cluster(replicas, rps):
    pods = tuple(PodMetrics(i, cpu_util_frac=0.8) for i in range(replicas))  # at target
    return ClusterView(replicas, replicas, pods, arrival_rps=rps)


def short_season(**changes):
    settings_ = dict(min_replicas=2, max_replicas=20, method="seasonal_naive",
                     target_rps_per_instance=10.0, boot_delay_s=120.0, horizon_s=0.0,
                     bucket_s=60.0, season_s=600.0)
    settings_.update(changes)
    return PredictiveConfig(**settings_)


def drive(policy, until_s, start=2, period_s=15.0):
    replicas, log = start, {}
    for k in range(int(until_s / period_s) + 1):
        now_s = k * period_s
        decision = policy.decide(cluster(replicas, burst_rps(now_s)), now_s)
        replicas = decision.desired_replicas
        log[now_s] = decision
    return log


def test_warming_up_defers_to_the_inner_policy():
    log = drive(Predictive(short_season(), np.random.default_rng(0)), 585.0)
    assert all(d.reason.endswith(";forecast=warming_up") for d in log.values())
    assert {d.desired_replicas for d in log.values()} == {2}


def test_capacity_is_provisioned_a_boot_delay_ahead_of_the_burst():
    log = drive(Predictive(short_season(), np.random.default_rng(0)), 1020.0)
    # t=600: one season seen; bucket 12 (= phase 2) is forecast at 20 rps -> floor 2
    assert log[600.0] == (2, "WithinTolerance;forecast_rps=20.00;floor=2")
    # t=780 (phase 3, still 20 rps): now + 120 s lands in the burst bucket -> 10 instances
    assert log[765.0].desired_replicas == 2
    assert log[780.0] == (10, "TooFewReplicas;forecast_rps=100.00;floor=10")
    # after the burst the floor drops to 2, but the forecast never scales in by itself:
    # the inner HPA (instances at target) holds 10
    assert log[1020.0].desired_replicas == 10
    assert log[1020.0].reason.endswith("floor=2")


def test_forecast_only_reports_but_does_not_act():
    log = drive(Predictive(short_season(mode="ForecastOnly"), np.random.default_rng(0)), 780.0)
    assert log[780.0] == (2, "WithinTolerance;forecast_only;forecast_rps=100.00;would=10")


def test_horizon_takes_the_peak_over_the_window():
    log = drive(Predictive(short_season(horizon_s=240.0), np.random.default_rng(0)), 660.0)
    # t=660 (bucket 11): window is buckets 13..17, which holds the burst (phase 5)
    assert log[660.0].reason.endswith("forecast_rps=100.00;floor=10")


def test_holt_winters_takes_over_after_two_seasons():
    policy = Predictive(short_season(method="holt_winters", alpha=0.5, beta=0.0, gamma=0.5),
                        np.random.default_rng(0))
    drive(policy, 1200.0)
    assert policy.holt_winters is not None and policy.holt_winters.ready
    assert policy.last_forecast_rps == pytest.approx(20.0)  # bucket 22 (phase 2)


def test_floor_is_capped_by_max_replicas_and_forecast_is_never_negative():
    policy = Predictive(short_season(max_replicas=6), np.random.default_rng(0))
    log = drive(policy, 780.0)
    assert log[780.0].desired_replicas == 6
    assert log[780.0].reason.endswith("floor=6")


def test_missing_arrival_rate_keeps_the_history_unchanged():
    policy = Predictive(short_season(), np.random.default_rng(0))
    view = ClusterView(2, 2, tuple(PodMetrics(i, cpu_util_frac=0.8) for i in range(2)))
    assert policy.decide(view, 0.0).reason.endswith("forecast=warming_up")
    assert policy.series.current_index is None


def test_inner_policy_can_be_chosen():
    config = short_season(inner_policy="threshold", inner_config={"scale_up_periods": 1})
    policy = Predictive(config, np.random.default_rng(0))
    hot = ClusterView(3, 3, tuple(PodMetrics(i, cpu_util_frac=0.95) for i in range(3)),
                      arrival_rps=1.0)
    assert policy.decide(hot, 0.0) == (4, "AboveUpperThreshold;forecast=warming_up")


@pytest.mark.parametrize("changes", [
    dict(min_replicas=0),
    dict(mode="Forecast"),
    dict(method="arima"),
    dict(target_rps_per_instance=0.0),
    dict(boot_delay_s=-1.0),
    dict(bucket_s=0.5),
    dict(season_s=650.0),          # not a whole number of 60 s buckets
    dict(season_s=60.0),           # fewer than 2 buckets
    dict(alpha=1.5),
    dict(inner_policy="predictive"),
    dict(inner_config={"no_such_field": 1}),
])
def test_impossible_configs_are_rejected(changes):
    with pytest.raises(ValueError):
        short_season(**changes)


def test_default_config_is_daily_holt_winters_around_target_tracking():
    config = PredictiveConfig()
    assert (config.method, config.season_s, config.inner_policy, config.mode) == (
        "holt_winters", 86_400.0, "target_tracking", "ForecastAndScale")
    assert config.season_len == 288
    assert math.isclose(config.bucket_s * config.season_len, 86_400.0)
