"""Envoy's slow-start weight formula."""

from __future__ import annotations

import pytest

from policies.resilience import slow_start_factor, slow_start_weight


@pytest.mark.parametrize(
    ("elapsed_s", "window_s", "aggression", "min_percent", "factor"),
    [
        (0.0, 60.0, 1.0, 10.0, 0.1),          # max(0.1, 1/60): the floor
        (0.5, 60.0, 1.0, 0.0, 1 / 60),        # time counts as at least 1 s
        (30.0, 60.0, 1.0, 10.0, 0.5),         # linear ramp
        (15.0, 60.0, 2.0, 10.0, 0.5),         # (1/4)^(1/2)
        (15.0, 60.0, 0.5, 0.0, 1 / 16),       # (1/4)^2
        (3.0, 60.0, 1.0, 0.0, 0.05),
        (59.9, 60.0, 1.0, 10.0, 59.9 / 60),
        (60.0, 60.0, 1.0, 10.0, 1.0),         # out of slow start
        (500.0, 60.0, 3.0, 10.0, 1.0),
    ],
)
def test_factor(elapsed_s, window_s, aggression, min_percent, factor):
    assert slow_start_factor(elapsed_s, window_s, aggression, min_percent) == pytest.approx(factor)


def test_weight_scales_by_the_factor():
    assert slow_start_weight(4.0, 30.0, 60.0) == pytest.approx(2.0)
    assert slow_start_weight(4.0, 90.0, 60.0) == 4.0
