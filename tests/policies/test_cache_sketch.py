"""The count-min sketch behind W-TinyLFU: never underestimates, saturates, ages, is stable."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.caches.sketch import CountMinSketch, next_power_of_two


@pytest.mark.parametrize("n,expected", [(0, 1), (1, 1), (2, 2), (3, 4), (16, 16), (17, 32)])
def test_next_power_of_two(n, expected):
    assert next_power_of_two(n) == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200), max_size=150))
def test_estimates_never_fall_below_the_true_count(keys):
    sketch = CountMinSketch(width=16, counter_max=255, seed=1)  # narrow: many collisions
    for key in keys:
        sketch.increment(key)
    for key, count in Counter(keys).items():
        assert count <= sketch.estimate(key) <= len(keys)


def test_exact_without_collisions_and_saturates_at_counter_max():
    sketch = CountMinSketch(width=1 << 12, counter_max=15)
    for _ in range(40):
        sketch.increment("hot")
    for _ in range(3):
        sketch.increment("warm")
    assert sketch.estimate("warm") == 3
    assert sketch.estimate("hot") == 15
    assert sketch.estimate("never") == 0


def test_halves_every_sample_size_increments():
    sketch = CountMinSketch(width=1 << 10, counter_max=15, sample_size=20)
    for _ in range(12):
        sketch.increment("a")
    for i in range(7):
        sketch.increment(f"other{i}")
    assert (sketch.estimate("a"), sketch.resets) == (12, 0)
    sketch.increment("b")                             # the 20th increment halves the table
    assert (sketch.estimate("a"), sketch.estimate("b"), sketch.resets) == (6, 0, 1)
    assert sketch.additions == 10


def test_memo_stays_bounded_and_transparent():
    sketch = CountMinSketch(width=1 << 8, seed=9, memo_limit=8)
    fresh = CountMinSketch(width=1 << 8, seed=9, memo_limit=1 << 20)
    for i in range(100):
        assert sketch.indexes(i) == fresh.indexes(i)
        assert len(sketch._memo) <= 8 and len(sketch._old_memo) <= 8


@pytest.mark.parametrize("kwargs", [
    {"width": 12}, {"width": 0}, {"width": 16, "counter_max": 0}, {"width": 16, "counter_max": 256},
    {"width": 16, "sample_size": -1}, {"width": 1 << 33},
    {"width": 16, "memo_limit": 0},
])
def test_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        CountMinSketch(**kwargs)


def test_indexes_do_not_depend_on_the_interpreter_hash_seed():
    code = ("from policies.caches.sketch import CountMinSketch;"
            "print(CountMinSketch(1 << 16, seed=77).indexes('user:123'))")
    here = CountMinSketch(1 << 16, seed=77).indexes("user:123")
    for hash_seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[2],
                             env={"PYTHONHASHSEED": hash_seed, "PATH": ""}, timeout=60)
        assert out.stdout.strip() == str(here)


@pytest.mark.parametrize("width", [4096, 1 << 17], ids=["narrow", "wide"])
@pytest.mark.parametrize("keys", [
    [f"user:{i}" for i in range(4096)],
    list(range(4096)),                                 # sequential ints, mixed
    [("conversation", i) for i in range(4096)],
], ids=["str", "int", "tuple"])
def test_rows_spread_keys_like_uniform_hashes(keys, width):
    sketch = CountMinSketch(width=width, seed=2024)
    rows = list(zip(*(sketch.indexes(k) for k in keys), strict=True))
    if width > len(keys):                              # sparse: count distinct per row only
        assert all(len(set(row)) > 0.95 * len(keys) for row in rows)
        assert len(set(zip(*rows, strict=True))) == len(keys)
        return
    for r, row in enumerate(rows):
        assert all(r * width <= i < (r + 1) * width for i in row)
        assert 0.60 < len(set(row)) / width < 0.66     # uniform hashing: 1 - 1/e = 0.632
        assert max(Counter(row).values()) <= 9         # uniform: 6 to 8
    assert len(set(zip(*rows, strict=True))) == len(keys)  # no two keys share all four


def test_seed_changes_the_rows():
    a = CountMinSketch(width=1 << 10, seed=1)
    b = CountMinSketch(width=1 << 10, seed=2)
    assert [a.indexes(i) for i in range(50)] != [b.indexes(i) for i in range(50)]
