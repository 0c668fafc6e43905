"""Envoy's panic threshold."""

from __future__ import annotations

import pytest

from policies.resilience import PanicFilter, PanicThresholdConfig, in_panic
from policies.views import InstanceView


@pytest.mark.parametrize(
    ("healthy", "total", "threshold", "panic"),
    [
        (10, 10, 50.0, False),
        (5, 10, 50.0, False),   # exactly at the threshold is not below it
        (4, 10, 50.0, True),
        (0, 10, 50.0, True),
        (0, 10, 0.0, False),    # 0 % disables panic mode
        (0, 0, 50.0, False),    # no hosts at all: nothing to panic about
        (9, 10, 100.0, True),
        (10, 10, 100.0, False),
        (1, 3, 34.0, True),
    ],
)
def test_in_panic(healthy, total, threshold, panic):
    assert in_panic(healthy, total, threshold) is panic


def test_filter_returns_all_hosts_in_panic_and_caches_on_identity():
    everyone = tuple(InstanceView(i) for i in range(4))
    few = everyone[:1]
    half = everyone[:2]
    panic = PanicFilter(PanicThresholdConfig())
    chosen, reason = panic.select(few, everyone)
    assert chosen is everyone and reason == "Panic:BelowThreshold"
    assert panic.select(few, everyone)[0] is everyone
    chosen, reason = panic.select(half, everyone)
    assert chosen is half and reason == "HealthyOnly"


def test_no_panic_with_threshold_zero_means_no_candidates():
    everyone = (InstanceView(0),)
    assert PanicFilter(PanicThresholdConfig(0.0)).select((), everyone) == ((), "HealthyOnly")
