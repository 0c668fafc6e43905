"""Envoy-style outlier ejection: consecutive 5xx, growing ejection time, max percent."""

from __future__ import annotations

import pytest

from policies.resilience import OutlierDetectionConfig, OutlierDetector, OutlierEvent

CFG = OutlierDetectionConfig(consecutive_5xx=3, interval_s=10.0, base_ejection_time_s=30.0,
                             max_ejection_time_s=300.0, max_ejection_percent=50.0)


def fail_n(detector, instance_id, n, t, n_instances=10):
    events = ()
    for _ in range(n):
        events += detector.record(instance_id, False, t, n_instances)
    return events


def test_ejects_on_the_nth_consecutive_error_and_returns_on_time():
    d = OutlierDetector(CFG)
    assert fail_n(d, 1, 2, 0.0) == ()
    assert fail_n(d, 1, 1, 1.0) == (OutlierEvent(1, True, "Ejected:5xx", 1.0),)
    assert d.is_ejected(1, 30.9) and not d.is_ejected(1, 31.0)
    assert d.next_return_s == 31.0
    assert d.sweep(30.0) == ()
    assert d.sweep(40.0) == (OutlierEvent(1, False, "Unejected:Timer", 31.0),)
    assert d.next_return_s == float("inf")


def test_a_success_resets_the_count():
    d = OutlierDetector(CFG)
    fail_n(d, 1, 2, 0.0)
    d.record(1, True, 0.1, 10)
    assert fail_n(d, 1, 2, 0.2) == ()
    assert not d.is_ejected(1, 0.3)


@pytest.mark.parametrize(
    ("in_service_s", "expected_multiplier"),
    [
        (0.0, 2),     # failed again at once: 2 × base
        (9.9, 2),     # less than one interval in service: no decay
        (10.0, 1),    # one interval: one decrement, then +1
        (100.0, 1),   # the multiplier never goes below zero before the +1
    ],
)
def test_ejection_time_grows_in_a_row_and_decays_in_service(in_service_s, expected_multiplier):
    d = OutlierDetector(CFG)
    fail_n(d, 1, 3, 0.0)                       # out until 30
    d.sweep(30.0)
    t = 30.0 + in_service_s
    fail_n(d, 1, 3, t)
    assert d.multiplier(1) == expected_multiplier
    assert d.next_return_s == t + 30.0 * expected_multiplier


def test_ejection_time_stops_growing_at_the_cap():
    d = OutlierDetector(OutlierDetectionConfig(consecutive_5xx=1, base_ejection_time_s=30.0,
                                               max_ejection_time_s=60.0))
    durations = []
    t = 0.0
    for _ in range(4):
        d.record(1, False, t, 10)
        durations.append(d.next_return_s - t)
        t = d.next_return_s
        d.sweep(t)
    assert durations == [30.0, 60.0, 60.0, 60.0]


@pytest.mark.parametrize(
    ("n_instances", "max_percent", "expected_ejected"),
    [
        (10, 10.0, 1),
        (10, 20.0, 2),
        (10, 0.0, 1),     # at least one host can always be ejected
        (4, 50.0, 2),
        (3, 50.0, 1),     # a second would make 67 %
        (2, 100.0, 2),
    ],
)
def test_max_ejection_percent(n_instances, max_percent, expected_ejected):
    d = OutlierDetector(OutlierDetectionConfig(consecutive_5xx=1, max_ejection_percent=max_percent))
    for i in range(n_instances):
        d.record(i, False, 0.0, n_instances)
    assert d.ejected_count(0.0) == expected_ejected


def test_errors_while_ejected_are_ignored():
    d = OutlierDetector(CFG)
    fail_n(d, 1, 3, 0.0)
    assert fail_n(d, 1, 10, 5.0) == ()
    assert d.multiplier(1) == 1


def test_due_returns_come_with_the_next_record():
    d = OutlierDetector(CFG)
    fail_n(d, 1, 3, 0.0)                       # 1 is out until 30
    events = fail_n(d, 2, 3, 35.0)             # nobody swept at 30; the record at 35 does
    assert events == (OutlierEvent(1, False, "Unejected:Timer", 30.0),
                      OutlierEvent(2, True, "Ejected:5xx", 35.0))


def test_health_check_uneject_clears_counters():
    d = OutlierDetector(CFG)
    fail_n(d, 1, 3, 0.0)
    assert d.uneject(1, 5.0) == OutlierEvent(1, False, "Unejected:HealthCheck", 5.0)
    assert not d.is_ejected(1, 5.0) and d.multiplier(1) == 0
    assert d.uneject(1, 6.0) is None
    fail_n(d, 1, 3, 7.0)
    assert d.next_return_s == 37.0


def test_forget_drops_an_instance():
    d = OutlierDetector(CFG)
    fail_n(d, 1, 3, 0.0)
    d.forget(1)
    assert not d.is_ejected(1, 1.0) and d.next_return_s == float("inf")
