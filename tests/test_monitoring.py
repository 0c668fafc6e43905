"""Dashboard data: rows chosen per window, aggregation by column kind, the rolling store."""

from __future__ import annotations

import pytest

from simscale.monitoring.windows import (
    LAST,
    MEAN,
    SUM,
    MetricWindows,
    aggregation,
    dashboard_data,
    metric_columns,
    select_window,
    window_span_s,
)


def make_rows(n: int, interval_s: float = 10.0, **columns) -> list[dict]:
    """n rows; each column is a function of the row index."""
    return [{"t_s": i * interval_s, "interval_s": interval_s,
             **{name: f(i) for name, f in columns.items()}} for i in range(n)]


@pytest.mark.parametrize(("column", "kind"), [
    ("errors", SUM), ("timeouts", SUM), ("rejected", SUM), ("slow_queries", SUM),
    ("retries_count", SUM),
    ("instances_ready", LAST), ("instances_booting", LAST), ("in_flight", LAST),
    ("queued", LAST), ("db_connections", LAST),
    ("arrivals_rps", MEAN), ("latency_p95_s", MEAN), ("error_rate", MEAN),
    ("cpu_util_frac", MEAN), ("cache_hit_frac", MEAN),
])
def test_aggregation_by_column(column, kind):
    assert aggregation(column) == kind


@pytest.mark.parametrize(("window", "rows_in"), [("1m", 6), ("5m", 30), ("1h", 360), ("all", 400)])
def test_window_holds_rows_ending_within_it(window, rows_in):
    rows = make_rows(400, x=lambda i: i)
    chosen = select_window(rows, window)
    assert len(chosen) == rows_in
    assert chosen[-1] is rows[-1]


def test_window_at_a_cursor():
    rows = make_rows(100, x=lambda i: i)
    chosen = select_window(rows, "1m", at_s=300.0)  # rows ending at 250..300
    assert [r["x"] for r in chosen] == [24, 25, 26, 27, 28, 29]
    assert select_window(rows, "1m", at_s=5.0) == []


def test_unknown_window():
    with pytest.raises(ValueError, match="unknown window"):
        window_span_s("2h")


def test_stats_by_kind():
    rows = make_rows(12, errors=lambda i: 1, in_flight=lambda i: i,
                     arrivals_rps=lambda i: 100.0 if i < 6 else 200.0)
    data = dashboard_data(rows, "1m")  # the last 6 rows
    assert data.rows == 6
    assert data.start_s == 60.0 and data.end_s == 120.0
    assert data.value("errors") == 6
    assert data.value("in_flight") == 11
    assert data.stats["in_flight"].max == 11 and data.stats["in_flight"].min == 6
    assert data.value("arrivals_rps") == pytest.approx(200.0)
    assert dashboard_data(rows, "5m").value("arrivals_rps") == pytest.approx(150.0)


def test_mean_is_weighted_by_interval_and_skips_missing():
    rows = [
        {"t_s": 0.0, "interval_s": 10.0, "latency_p95_s": 1.0},
        {"t_s": 10.0, "interval_s": 30.0, "latency_p95_s": 3.0},
        {"t_s": 40.0, "interval_s": 10.0, "latency_p95_s": None},
    ]
    stat = dashboard_data(rows, "1m").stats["latency_p95_s"]
    assert stat.mean == pytest.approx((1.0 * 10 + 3.0 * 30) / 40)
    assert stat.samples == 2
    assert stat.last == 3.0


def test_series_and_columns():
    rows = make_rows(3, a_rps=lambda i: float(i), b=lambda i: None)
    rows[2]["late_frac"] = 0.5  # a column that appears later
    data = dashboard_data(rows, "all")
    assert data.series["a_rps"] == (0.0, 1.0, 2.0)
    assert data.series["late_frac"] == (None, None, 0.5)
    assert data.value("b") is None
    assert metric_columns(rows) == ["a_rps", "b", "late_frac"]
    assert data.times_s == (0.0, 10.0, 20.0)
    assert data.as_dict()["stats"]["a_rps"]["value"] == pytest.approx(1.0)


def test_empty_rows():
    data = dashboard_data([], "5m")
    assert data.rows == 0 and data.stats == {} and data.series == {}


def test_metric_windows_keep_an_hour_and_agree_with_the_function():
    store = MetricWindows(keep_s=3600.0)
    rows = make_rows(500, x=lambda i: float(i), errors=lambda i: 1)
    store.extend(rows)
    assert len(store) == 360
    assert store.latest() is rows[-1]
    for window in ("1m", "5m", "1h"):
        live = store.dashboard_data(window)
        ref = dashboard_data(rows, window)
        assert live.value("x") == pytest.approx(ref.value("x"))
        assert live.value("errors") == ref.value("errors")
    assert store.columns == ["x", "errors"]


def test_metric_windows_index_at_and_cursor_queries():
    store = MetricWindows()
    store.extend(make_rows(10, x=lambda i: float(i)))
    assert store.index_at(5.0) is None
    assert store.index_at(10.0) == 0
    assert store.index_at(55.0) == 4
    data = store.dashboard_data("1m", at_s=50.0)
    assert data.series["x"] == (0.0, 1.0, 2.0, 3.0, 4.0)
