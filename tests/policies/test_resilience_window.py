"""The bucketed sliding window behind the breaker and the retry budget."""

from __future__ import annotations

from policies.resilience import SlidingCounts


def test_counts_expire_bucket_by_bucket():
    w = SlidingCounts(window_s=10.0, buckets=10, channels=2)
    w.add(0.0, 0)
    w.add(0.5, 0)
    w.add(3.2, 0)
    w.add(3.3, 1, 2.0)
    log = [(t, w.total(t, 0), w.total(t, 1)) for t in (3.5, 9.99, 10.0, 12.99, 13.0, 100.0)]
    assert log == [
        (3.5, 3.0, 2.0),
        (9.99, 3.0, 2.0),
        (10.0, 1.0, 2.0),   # the bucket [0, 1) left the window
        (12.99, 1.0, 2.0),
        (13.0, 0.0, 0.0),   # and [3, 4) ten buckets later
        (100.0, 0.0, 0.0),
    ]


def test_a_long_gap_clears_everything_and_clear_resets():
    w = SlidingCounts(5.0, 5)
    for t in range(5):
        w.add(float(t))
    assert w.total(4.5) == 5.0
    assert w.total(1000.0) == 0.0
    w.add(1000.0)
    w.clear()
    assert w.total(1000.0) == 0.0
