"""The fleet's metrics pipeline: window averages, readiness, the current pod list, the lag."""

from __future__ import annotations

import math

import pytest

from policies.views import BOOTING, DRAINING, READY
from simscale.serve.scrape import FleetScraper, Sample


def s(t, cpu=None, state=READY, ready=True, rps=None):
    return Sample(t, state, ready, (cpu, None, None, rps, None))


def scraper(window_s=60.0, delay_s=0.0, interval_s=15.0):
    return FleetScraper(interval_s, window_s, delay_s)


CASES = [
    # (name, samples per instance, scrape time, expected cpu per instance id)
    ("mean over the window", {"a": [s(10, 0.2), s(40, 0.4), s(70, 0.9)]}, 75.0,
     {0: (0.4 + 0.9) / 2}),
    ("the window's start is open", {"a": [s(15, 0.2), s(60, 0.6)]}, 75.0, {0: 0.6}),
    ("its end is closed", {"a": [s(75, 0.8)]}, 75.0, {0: 0.8}),
    ("a later sample is not seen", {"a": [s(50, 0.5), s(80, 0.9)]}, 75.0, {0: 0.5}),
    ("missing values are no data", {"a": [s(50, None), s(60, 0.3)]}, 75.0, {0: 0.3}),
    ("a booting instance is not scraped", {"a": [s(60, 0.9, BOOTING, False)],
                                           "b": [s(60, 0.1)]}, 75.0, {1: 0.1}),
    ("samples taken while booting do not count",
     {"a": [s(20, 0.9, BOOTING, False), s(60, 0.3)]}, 75.0, {0: 0.3}),
    ("an instance gone quiet drops out", {"a": [s(10, 0.9)], "b": [s(70, 0.2)]}, 75.0,
     {1: 0.2}),
]


@pytest.mark.parametrize("samples, at, expected", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_window_values(samples, at, expected):
    pipe = scraper()
    for name, series in samples.items():
        for sample in series:
            pipe.add(name, sample)
    scrape, _ = pipe.scrape(at)
    assert {i: v.cpu_util_frac for i, v in scrape.pods.items()} == pytest.approx(expected)


def test_pod_list_is_current_and_counts_as_the_hpa_does():
    pipe = scraper(window_s=30.0)
    pipe.add("a", s(100, 0.5))
    pipe.add("b", s(100, None, BOOTING, False))
    pipe.add("c", s(100, 0.5, DRAINING))
    pipe.add("d", s(100, 0.5, READY, ready=False))
    pipe.add("e", s(60, 0.5))  # its newest sample left the window
    pipe.scrape(100.0)
    view = pipe.view(100.0)
    assert (view.current_replicas, view.ready_replicas) == (3, 1)  # a, b, d; only a ready
    assert sorted(p.instance_id for p in view.pods) == [0, 1, 2, 3]
    assert view.metrics_age_s == 0.0


def test_scrapes_are_seen_after_the_delay():
    pipe = scraper(window_s=15.0, delay_s=30.0)
    for t, cpu in [(10, 0.1), (25, 0.2), (40, 0.3), (55, 0.4)]:
        pipe.add("a", s(t, cpu))
        pipe.scrape(t + 5.0)
    pipe.add("a", s(70, 0.9))  # keeps it in the pod list; no scrape has seen it
    seen = {now: pipe.view(now) for now in (20.0, 45.0, 60.0, 75.0)}
    assert math.isinf(seen[20.0].metrics_age_s) and seen[20.0].pods[0].cpu_util_frac is None
    assert (seen[45.0].pods[0].cpu_util_frac, seen[45.0].metrics_age_s) == (0.1, 30.0)
    assert (seen[60.0].pods[0].cpu_util_frac, seen[60.0].metrics_age_s) == (0.2, 30.0)
    assert (seen[75.0].pods[0].cpu_util_frac, seen[75.0].metrics_age_s) == (0.3, 30.0)


def test_the_metrics_row_covers_the_last_interval():
    pipe = scraper(window_s=60.0, interval_s=15.0)
    pipe.add("a", s(50, 0.2, rps=10.0))
    pipe.add("a", s(70, 0.4, rps=20.0))
    pipe.add("b", s(72, 0.8, rps=5.0))
    pipe.add_cluster(65.0, {"latency_p95_s": 0.5})
    pipe.add_cluster(74.0, {"latency_p95_s": 1.5})
    scrape, row = pipe.scrape(75.0)
    assert (row["t_s"], row["interval_s"], row["instances"], row["instances_ready"]) == (
        60.0, 15.0, 2, 2)
    assert row["cpu_util_frac"] == pytest.approx((0.4 + 0.8) / 2)  # the window's 0.2 is older
    assert row["throughput_rps"] == 25.0 and row["arrivals_rps"] == 25.0
    assert row["latency_p95_s"] == 1.0
    assert scrape.arrival_rps == pytest.approx(15.0 + 5.0)  # window means, summed
    pipe.add_cluster(80.0, {"arrivals_rps": 100.0})
    scrape, row = pipe.scrape(90.0)
    assert scrape.arrival_rps == 100.0 and row["arrivals_rps"] == 100.0


def test_forget_keeps_what_the_next_scrapes_need():
    pipe = scraper(window_s=60.0)
    for t in range(0, 300, 5):
        pipe.add("a", s(float(t), 0.5))
    pipe.add("gone", s(10.0, 0.5))
    pipe.add_cluster(10.0, {"x": 1.0})
    pipe.forget(300.0)
    assert list(pipe.tracks) == ["a"]
    assert min(x.t_s for x in pipe.tracks["a"].samples) >= 240.0
    assert not pipe.cluster
