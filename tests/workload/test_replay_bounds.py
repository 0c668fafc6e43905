"""Replay is bounded: options that would never end, or flood the model, are refused with the
spec field to change; a lap of superposed copies is produced block by block, in the same
order as merging the whole lap at once, and never held whole."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simscale.workload.traces import (
    Trace,
    bounds,
    read_trace,
    replay,
    replay_period_s,
    replay_problems,
)

CONV = Path(__file__).resolve().parents[2] / "data" / "traces" / "azure_llm_2023_conv.csv"


def trace_of(times: list[float]) -> Trace:
    t = np.asarray(times, dtype=np.float64)
    return Trace(arrival_s=t - t[0], prompt_tokens=None, output_tokens=None)


def reference(trace: Trace, horizon_s: float, speed: float, start_s: float,
              end_s: float | None, loop: bool, rate_scale: float,
              rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The replay as the docstring defines it, each lap built whole: every copy shifted by
    j·gap/m and wrapped within the lap, then all copies sorted stably by time."""
    lo = int(np.searchsorted(trace.arrival_s, start_s, side="left"))
    hi = len(trace) if end_s is None else int(np.searchsorted(trace.arrival_s, end_s, "left"))
    base, rows = trace.arrival_s[lo:hi] - start_s, np.arange(lo, hi)
    if not len(base):
        return tuple(np.empty(0) for _ in range(4))
    full, fraction = divmod(rate_scale, 1.0)
    copies = int(full) + (fraction > 0)
    period = replay_period_s(trace, start_s, end_s) if loop or copies > 1 else math.inf
    gap = period / len(base)
    out: list[tuple[np.ndarray, ...]] = []
    lap = 0
    while True:
        parts = []
        for j in range(copies):
            keep = rng.random(len(base)) < fraction if j == full else slice(None)
            t, r = base[keep], rows[keep]
            if j:
                t = t + j * gap / copies
                wrap = int(np.searchsorted(t, period, side="left"))
                t = np.concatenate((t[wrap:] - period, t[:wrap]))
                r = np.concatenate((r[wrap:], r[:wrap]))
            parts.append((t, r, np.full(len(t), j)))
        t, r, c = (np.concatenate(x) for x in zip(*parts, strict=True))
        order = np.argsort(t, kind="stable")
        sim = (lap * period + t[order]) / speed if lap else t[order] / speed
        end = int(np.searchsorted(sim, horizon_s, side="left"))
        out.append((sim[:end], r[order][:end], np.full(end, lap), c[order][:end]))
        lap += 1
        if end < len(sim) or not loop or lap * period / speed >= horizon_s:
            break
    return tuple(np.concatenate(x) for x in zip(*out, strict=True))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ticks=st.lists(st.integers(0, 30), min_size=1, max_size=40),
    rate_scale=st.sampled_from([0.3, 1.0, 1.5, 2.0, 3.0, 3.7, 8.25]),
    loop=st.booleans(),
    speed=st.sampled_from([0.5, 1.0, 3.0]),
    window=st.one_of(st.none(), st.tuples(st.integers(0, 10), st.integers(1, 12))),
    horizon_s=st.sampled_from([0.0, 2.5, 40.0]),
    chunk_size=st.sampled_from([1, 3, 64, 65_536]),
)
def test_block_by_block_replay_equals_the_whole_lap_merge(
    ticks, rate_scale, loop, speed, window, horizon_s, chunk_size
) -> None:
    trace = trace_of(sorted(t / 4 for t in ticks))  # many equal times
    start_s, end_s = (0.0, None) if window is None else (window[0] / 2, sum(window) / 2)
    options = {"speed": speed, "start_s": start_s, "end_s": end_s, "loop": loop,
               "rate_scale": rate_scale}
    assume(not replay_problems(trace, horizon_s, **options))
    chunks = list(replay(trace, horizon_s, rng=np.random.default_rng(4), chunk_size=chunk_size,
                         **options))
    want = reference(trace, horizon_s, rng=np.random.default_rng(4), **options)
    got = [np.concatenate([getattr(c, name) for c in chunks]) if chunks else np.empty(0)
           for name in ("arrival_s", "row", "lap", "copy")]
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)
    assert all(0 < len(c) <= chunk_size for c in chunks)


# ---------------------------------------------------------------- refusals


ONE = trace_of([5.0])
SAME = trace_of([5.0, 5.0, 5.0])
TWO = trace_of([0.0, 10.0])  # lap 20 s (span + one mean gap)


@pytest.mark.parametrize(
    ("trace", "options", "field", "problem"),
    [
        (ONE, {"loop": True}, "loop", "a loop needs a lap, but the window's 1 row(s) all arrive"),
        (SAME, {"loop": True}, "loop", "the window's 3 row(s) all arrive at one time"),
        (SAME, {"rate_scale": 2.0}, "rate_scale", "rate_scale 2 spreads copies over a lap"),
        (TWO, {"loop": True, "speed": 1e300}, "speed", "arrivals per simulated second"),
        (TWO, {"loop": True, "start_s": 0.0, "end_s": 1e-300}, "window_s",
         "1 rows × rate_scale 1 every 1e-300 simulated s"),
        (TWO, {"rate_scale": 1e9}, "rate_scale", "is more than the 1,000 copies"),
        (TWO, {"speed": 2e8}, "speed", "is 2e+07 arrivals per simulated second; at most 1e+07"),
        (TWO, {"loop": True, "speed": 2e5}, "speed", "2e+06 laps in 200 s; at most 1,000,000"),
        (TWO, {"loop": True, "start_s": 0.0, "end_s": 1e-4}, "window_s", "2e+06 laps in 200 s"),
        (TWO, {"speed": math.inf}, "speed", "must be finite and > 0"),
        (TWO, {"rate_scale": math.nan}, "rate_scale", "must be finite and > 0"),
        (TWO, {"start_s": 0.0, "end_s": math.inf}, "window_s", "end_s must be finite"),
    ],
)
def test_unbounded_replays_are_refused_naming_the_field(
    trace: Trace, options: dict, field: str, problem: str
) -> None:
    found = replay_problems(trace, 200.0, **options)
    assert len(found) == 1 and found[0][0] == field and problem in found[0][1], found
    with pytest.raises(ValueError, match=f"^{field}: "):
        replay(trace, 200.0, rng=np.random.default_rng(0), **options)


def test_the_rows_a_replay_visits_are_bounded() -> None:
    trace = trace_of(np.arange(100_000, dtype=float))  # lap 100,000 s
    fine = {"loop": True, "rate_scale": 100.0}
    assert replay_problems(trace, 100_000.0 * 99, **fine) == []
    found = replay_problems(trace, 100_000.0 * 101, **fine)
    assert found[0][0] == "rate_scale" and "visits 1.01e+09 trace rows" in found[0][1]


def test_a_one_row_trace_loops_with_a_window_exactly_once_per_lap() -> None:
    chunks = list(replay(ONE, 100.0, loop=True, start_s=0.0, end_s=7.0))
    times = np.concatenate([c.arrival_s for c in chunks])
    assert times.tolist() == [7.0 * k for k in range(15)]  # ceil(100 / 7) laps, one row each
    out = list(replay(SAME, 10.0, loop=True, start_s=0.0, end_s=2.5, rate_scale=2.0))
    copies = np.concatenate([c.copy for c in out])
    assert np.bincount(copies).tolist() == [12, 12]  # 3 rows × 4 laps per copy


def test_played_once_a_single_instant_needs_no_lap() -> None:
    assert replay_problems(SAME, 100.0) == []
    chunks = list(replay(SAME, 100.0, speed=1e6))
    assert np.concatenate([c.arrival_s for c in chunks]).tolist() == [0.0, 0.0, 0.0]


def test_bounds_are_what_the_docs_say() -> None:
    assert (bounds.MAX_RATE_SCALE, bounds.MAX_REPLAY_RATE_RPS, bounds.MAX_LAPS,
            bounds.MAX_REPLAY_ROWS) == (1_000, 1e7, 1_000_000, 1_000_000_000)
    readme = " ".join((Path(__file__).resolve().parents[2] / "README.md").read_text().split())
    for text in ("`rate_scale` is at most 1,000", "at most 10^7 arrivals per simulated second",
                 "at most 10^6 laps", "at most 10^9 trace rows", "beyond 20,000,000 rows",
                 "8 GiB of data once decompressed", "token counts 0 to 2,147,483,647"):
        assert text in readme, text


# ---------------------------------------------------------------- memory


def test_many_copies_are_merged_block_by_block_not_a_lap_at_once() -> None:
    """500 copies of the conversation trace are 9.7 million arrivals per lap; the first
    chunks come out of a few blocks (the lap built whole needed about a gigabyte)."""
    trace = read_trace(CONV)
    tracemalloc.start()
    try:
        chunks = replay(trace, 1e4, rate_scale=500.0, loop=True, chunk_size=65_536)
        first = [next(chunks) for _ in range(3)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [len(c) for c in first] == [65_536] * 3
    assert np.all(np.diff(np.concatenate([c.arrival_s for c in first])) >= 0)
    assert peak < 64 * 2**20
