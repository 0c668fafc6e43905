"""Clean blocks are read vectorised (pyarrow), others row by row: both ways give the same
trace, bit for bit, for every format; a blank line sends a block down the row-by-row way."""

from __future__ import annotations

import json
import pkgutil
from datetime import datetime, timedelta
from pathlib import Path
from unittest.mock import patch

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simscale.workload.traces import Trace, read_trace
from simscale.workload.traces.bounds import MAX_TRACE_TOKENS as MAX_TOKENS

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
TOKENS = st.integers(0, MAX_TOKENS)


def same(a: Trace, b: Trace) -> None:
    for name in ("arrival_s", "prompt_tokens", "output_tokens", "kind", "user_id",
                 "session_id", "prefix_id"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert a.origin == b.origin and a.skipped_rows == b.skipped_rows == 0


ROW_READERS = {"azure": "simscale.workload.traces.csv_formats._azure_rows",
               "csv": "simscale.workload.traces.csv_formats._GenericRows.read",
               "mooncake": "simscale.workload.traces.mooncake._read_lines"}


def both_ways(folder: Path, fmt: str, head: list[str], rows: list[str]) -> tuple[Trace, Trace]:
    """The file read as written (vectorised: the row-by-row reader is never called), and
    with a blank line before its rows (row by row)."""
    name = "t.jsonl" if fmt == "mooncake" else "t.csv"
    fast, slow = folder / f"fast-{name}", folder / f"slow-{name}"
    fast.write_text("\n".join(head + rows) + "\n")
    slow.write_text("\n".join([*head, "", *rows]) + "\n")
    with patch(ROW_READERS[fmt], autospec=True, side_effect=AssertionError("row by row")):
        fast_trace = read_trace(fast)
    original = pkgutil.resolve_name(ROW_READERS[fmt])
    with patch(ROW_READERS[fmt], autospec=True, side_effect=original) as rows_reader:
        slow_trace = read_trace(slow)
    assert rows_reader.called
    return fast_trace, slow_trace


def decimal_times(draw, n: int, scale: float) -> list[str]:
    """n non-decreasing times written as a trace might write them."""
    values = sorted(draw(st.lists(st.floats(0, scale, allow_nan=False), min_size=n,
                                  max_size=n)))
    forms = draw(st.lists(st.sampled_from(["{!r}", "{:.3f}", "{:.9g}", "{:e}"]), min_size=n,
                          max_size=n))
    texts = [form.format(v) for form, v in zip(forms, values, strict=True)]
    return sorted(texts, key=float)


@SETTINGS
@given(data=st.data(), n=st.integers(1, 40))
def test_azure_both_ways(tmp_path_factory, data, n) -> None:
    start = datetime(1970, 1, 1) + timedelta(days=data.draw(st.integers(0, 106_000)))
    steps = sorted(data.draw(st.lists(st.integers(0, 10**15), min_size=n, max_size=n)))
    digits = data.draw(st.integers(0, 9))
    rows = []
    for step in steps:
        t = start + timedelta(microseconds=step // 1000)
        frac = f"{t.microsecond:06d}{step % 1000:03d}"[:digits]
        stamp = t.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac}" if digits else "")
        rows.append(f"{stamp},{data.draw(TOKENS)},{data.draw(TOKENS)}")
    folder = tmp_path_factory.mktemp("azure")
    fast, slow = both_ways(folder, "azure", ["TIMESTAMP,ContextTokens,GeneratedTokens"], rows)
    same(fast, slow)


@SETTINGS
@given(data=st.data(), n=st.integers(1, 40), with_kind=st.booleans())
def test_generic_csv_both_ways(tmp_path_factory, data, n, with_kind) -> None:
    times = decimal_times(data.draw, n, 1e9)
    ids = st.integers(-(2**63), 2**63 - 1)
    rows = []
    for t in times:
        row = [t, str(data.draw(TOKENS)), str(data.draw(TOKENS)), str(data.draw(ids))]
        if with_kind:
            row.append(data.draw(st.sampled_from(["chat", " code ", "embed"])))
        rows.append(",".join(row))
    head = ["arrival_s,prompt_tokens,output_tokens,session_id" + (",kind" if with_kind else "")]
    fast, slow = both_ways(tmp_path_factory.mktemp("csv"), "csv", head, rows)
    same(fast, slow)


@SETTINGS
@given(data=st.data(), n=st.integers(1, 40), blocks=st.integers(1, 4))
def test_mooncake_both_ways(tmp_path_factory, data, n, blocks) -> None:
    times = decimal_times(data.draw, n, 1e12)
    rows = []
    for t in times:
        prompt = data.draw(st.integers(0, 4000))
        ids = data.draw(st.lists(st.integers(0, 2**63 - 1), max_size=-(-prompt // 512)))
        row = {"timestamp": "T", "input_length": prompt,
               "output_length": data.draw(TOKENS), "hash_ids": ids, "other": [1, {"a": "b"}]}
        rows.append(json.dumps(row).replace('"T"', t))
    folder = tmp_path_factory.mktemp("mooncake")
    fast, slow = both_ways(folder, "mooncake", [], rows)
    same(fast, slow)
    same(read_trace(folder / "fast-t.jsonl", prefix_blocks=blocks),
         read_trace(folder / "slow-t.jsonl", prefix_blocks=blocks))
