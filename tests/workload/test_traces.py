"""Trace readers and replay: exact parsing of the real files, one clear line per bad row,
InputError (never another exception) for any input, and replay that keeps the trace."""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simscale.errors import InputError
from simscale.workload.traces import (
    MAX_PROBLEMS,
    Trace,
    read_trace,
    replay,
    replay_period_s,
)
from simscale.workload.traces.fields import DECIMAL

DATA = Path(__file__).resolve().parents[2] / "data" / "traces"
AZURE_CONV = DATA / "azure_llm_2023_conv.csv"
AZURE_CODE = DATA / "azure_llm_2023_code.csv"
MOONCAKE = DATA / "mooncake_fast25_conversation_trace.jsonl"

HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def reference_azure_ns(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An independent parse: datetime for the seconds, the fraction digits as integer ns."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    ns = []
    for row in rows:
        whole, frac = row["TIMESTAMP"].split(".")
        seconds = datetime.fromisoformat(whole).timestamp()
        ns.append(round(seconds) * 10**9 + int(frac.ljust(9, "0")))
    prompt = np.array([int(r["ContextTokens"]) for r in rows])
    output = np.array([int(r["GeneratedTokens"]) for r in rows])
    return np.array(ns, dtype=np.int64), prompt, output


def check_trace(trace: Trace) -> None:
    """The invariants every Trace satisfies."""
    assert len(trace) > 0
    assert trace.arrival_s.dtype == np.float64 and trace.arrival_s[0] == 0.0
    assert np.all(np.isfinite(trace.arrival_s)) and np.all(np.diff(trace.arrival_s) >= 0)
    for name in ("prompt_tokens", "output_tokens"):
        column = getattr(trace, name)
        if column is not None:
            assert column.dtype == np.int64 and column.min() >= 0
    for name in ("user_id", "session_id", "prefix_id"):
        column = getattr(trace, name)
        assert column is None or column.dtype == np.int64
    assert trace.skipped_rows >= 0


# ---------------------------------------------------------------- the real files


@pytest.mark.parametrize(("path", "rows"), [(AZURE_CONV, 19_366), (AZURE_CODE, 8_819)])
def test_azure_trace_is_parsed_exactly_to_100_ns(path: Path, rows: int) -> None:
    trace = read_trace(path)
    check_trace(trace)
    assert len(trace) == rows and trace.skipped_rows == 0
    ns, prompt, output = reference_azure_ns(path)
    assert np.array_equal(np.rint(trace.arrival_s * 1e9).astype(np.int64), ns - ns[0])
    assert np.all((ns - ns[0]) % 100 == 0)
    assert np.array_equal(trace.prompt_tokens, prompt)
    assert np.array_equal(trace.output_tokens, output)
    assert trace.kind is None and trace.source == str(path)


def test_azure_conv_span_and_origin() -> None:
    trace = read_trace(AZURE_CONV, kind="conv")
    assert trace.origin == np.datetime64("2023-11-16T18:15:46.680590000")
    assert trace.duration_s == pytest.approx(3501.721937, abs=1e-9)
    assert trace.arrival_s[1] == pytest.approx(4.314579, abs=1e-12)
    assert trace.mean_rate_rps == pytest.approx(5.53, abs=0.01)
    assert set(trace.kind) == {"conv"}


def test_azure_row_by_row_parse_agrees_with_the_fast_one(tmp_path: Path) -> None:
    """A blank line in the middle sends the file down the row-by-row path; same result."""
    lines = AZURE_CONV.read_bytes().split(b"\r\n")
    slow = tmp_path / "conv.csv"
    slow.write_bytes(b"\r\n".join(lines[:100] + [b""] + lines[100:]))
    a, b = read_trace(AZURE_CONV), read_trace(slow)
    assert np.array_equal(a.arrival_s, b.arrival_s)
    assert np.array_equal(a.prompt_tokens, b.prompt_tokens)
    assert np.array_equal(a.output_tokens, b.output_tokens)
    assert a.origin == b.origin


def test_mooncake_trace_keeps_times_tokens_and_a_prefix_key() -> None:
    trace = read_trace(MOONCAKE)
    check_trace(trace)
    rows = [json.loads(line) for line in MOONCAKE.read_text().splitlines()]
    assert len(trace) == len(rows) == 12_031
    assert np.array_equal(trace.arrival_s, np.array([r["timestamp"] for r in rows]) / 1000.0)
    assert np.array_equal(trace.prompt_tokens, [r["input_length"] for r in rows])
    assert np.array_equal(trace.output_tokens, [r["output_length"] for r in rows])
    second = [r["hash_ids"][min(2, len(r["hash_ids"])) - 1] for r in rows]
    assert np.array_equal(trace.prefix_id, second)
    assert trace.duration_s == pytest.approx(3536.999)
    # block 0 is common to all requests, so one block is no key at all
    assert set(read_trace(MOONCAKE, prefix_blocks=1).prefix_id) == {0}


@pytest.mark.parametrize("path", [AZURE_CONV, MOONCAKE])
def test_replay_at_speed_one_reproduces_the_trace(path: Path) -> None:
    trace = read_trace(path)
    chunks = list(replay(trace, horizon_s=10_000.0, chunk_size=4096))
    times = np.concatenate([c.arrival_s for c in chunks])
    assert np.array_equal(times, trace.arrival_s)
    per_second = np.bincount(np.floor(times).astype(int))
    assert np.array_equal(per_second, np.bincount(np.floor(trace.arrival_s).astype(int)))
    assert np.array_equal(np.concatenate([c.prompt_tokens for c in chunks]), trace.prompt_tokens)
    assert np.array_equal(np.concatenate([c.output_tokens for c in chunks]), trace.output_tokens)
    assert np.array_equal(np.concatenate([c.row for c in chunks]), np.arange(len(trace)))
    assert all(len(c) <= 4096 for c in chunks)


# ---------------------------------------------------------------- replay options


@pytest.fixture(scope="module")
def conv() -> Trace:
    return read_trace(AZURE_CONV)


def joined(chunks) -> dict[str, np.ndarray]:
    chunks = list(chunks)
    return {
        name: np.concatenate([getattr(c, name) for c in chunks])
        for name in ("arrival_s", "row", "lap", "copy", "prompt_tokens")
        if chunks and getattr(chunks[0], name) is not None
    }


def test_replay_speed_and_horizon(conv: Trace) -> None:
    out = joined(replay(conv, horizon_s=600.0, speed=2.0))
    expected = conv.arrival_s[conv.arrival_s / 2 < 600.0] / 2
    assert np.array_equal(out["arrival_s"], expected)
    assert out["arrival_s"][-1] < 600.0


def test_replay_window(conv: Trace) -> None:
    out = joined(replay(conv, horizon_s=1e6, start_s=1000.0, end_s=1300.0))
    inside = (conv.arrival_s >= 1000.0) & (conv.arrival_s < 1300.0)
    assert np.array_equal(out["row"], np.flatnonzero(inside))
    assert np.allclose(out["arrival_s"], conv.arrival_s[inside] - 1000.0, rtol=0, atol=1e-9)
    assert out["arrival_s"].min() >= 0 and out["arrival_s"].max() < 300.0


def test_replay_loop_repeats_the_window(conv: Trace) -> None:
    period = replay_period_s(conv, 0.0, 600.0)
    assert period == 600.0
    n = int(np.sum(conv.arrival_s < 600.0))
    out = joined(replay(conv, horizon_s=3 * 600.0, end_s=600.0, loop=True))
    assert len(out["arrival_s"]) == 3 * n
    assert np.array_equal(np.bincount(out["lap"]), [n, n, n])
    lap2 = out["lap"] == 2
    assert np.allclose(out["arrival_s"][lap2] - 1200.0, conv.arrival_s[:n], rtol=0, atol=1e-9)
    assert np.all(np.diff(out["arrival_s"]) >= 0)


def test_default_loop_period_adds_one_mean_gap(conv: Trace) -> None:
    gap = conv.duration_s / (len(conv) - 1)
    assert replay_period_s(conv) == pytest.approx(conv.duration_s + gap)
    out = joined(replay(conv, horizon_s=2.5 * conv.duration_s, loop=True))
    assert np.bincount(out["lap"])[:2].tolist() == [len(conv), len(conv)]
    # the long-run rate is the trace's
    assert len(out["arrival_s"]) / (2.5 * conv.duration_s) == pytest.approx(
        conv.mean_rate_rps, rel=0.05
    )


def test_rate_scale_up_superposes_shifted_copies(conv: Trace) -> None:
    end = 900.0
    n = int(np.sum(conv.arrival_s < end))
    out = joined(replay(conv, horizon_s=end, end_s=end, rate_scale=3.0))
    assert len(out["arrival_s"]) == 3 * n
    assert np.array_equal(np.bincount(out["copy"]), [n, n, n])
    assert np.all(np.diff(out["arrival_s"]) >= 0)
    gap = end / n
    for j in (1, 2):
        mine = out["copy"] == j
        shifted = np.mod(conv.arrival_s[out["row"][mine]] + j * gap / 3, end)
        assert np.allclose(out["arrival_s"][mine], shifted, rtol=0, atol=1e-9)
    # every copy carries the original's token counts
    assert np.array_equal(out["prompt_tokens"], conv.prompt_tokens[out["row"]])


def test_rate_scale_down_thins_independently(conv: Trace) -> None:
    rng = np.random.Generator(np.random.PCG64(5))
    period = replay_period_s(conv)
    out = joined(replay(conv, horizon_s=4 * period, loop=True, rate_scale=0.3, rng=rng))
    n = len(conv)
    for lap in range(4):
        kept = int(np.sum(out["lap"] == lap))
        assert abs(kept - 0.3 * n) < 4 * math.sqrt(n * 0.3 * 0.7)
    lap0 = set(out["row"][out["lap"] == 0])
    lap1 = set(out["row"][out["lap"] == 1])
    assert len(lap0 & lap1) == pytest.approx(0.09 * n, rel=0.1)  # fresh draws per lap


def test_fractional_rate_scale_above_one(conv: Trace) -> None:
    rng = np.random.Generator(np.random.PCG64(6))
    out = joined(replay(conv, horizon_s=1e6, rate_scale=2.5, rng=rng))
    n = len(conv)
    counts = np.bincount(out["copy"])
    assert counts[0] == counts[1] == n
    assert abs(counts[2] - 0.5 * n) < 4 * math.sqrt(n * 0.25)


@pytest.mark.parametrize("options", [{}, {"rate_scale": 1.7, "loop": True}, {"speed": 3.0}])
def test_replay_chunking_does_not_change_the_result(conv: Trace, options: dict) -> None:
    def run(chunk_size: int) -> dict[str, np.ndarray]:
        rng = np.random.Generator(np.random.PCG64(9))
        return joined(replay(conv, 5000.0, rng=rng, chunk_size=chunk_size, **options))

    a, b = run(65_536), run(777)
    assert a.keys() == b.keys() and len(a["arrival_s"]) > 1000  # the same columns, not none
    for name in a:
        assert np.array_equal(a[name], b[name]), name


@pytest.mark.parametrize(
    "options",
    [
        {"speed": 0.0},
        {"speed": math.inf},
        {"rate_scale": -1.0},
        {"rate_scale": 0.5},  # needs an rng
        {"start_s": -1.0},
        {"start_s": 10.0, "end_s": 5.0},
        {"chunk_size": 0},
    ],
)
def test_bad_replay_options_raise_value_error(conv: Trace, options: dict) -> None:
    with pytest.raises(ValueError):
        list(replay(conv, 100.0, **options))


def test_loop_over_a_single_instant_needs_end_s(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("arrival_s\n5\n")
    trace = read_trace(path)
    with pytest.raises(ValueError, match="end_s"):
        list(replay(trace, 100.0, loop=True))
    out = joined(replay(trace, 100.0, loop=True, end_s=10.0))
    assert out["arrival_s"].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0]


# ---------------------------------------------------------------- generic CSV and Parquet


def test_generic_csv_with_every_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "arrival_s,kind,user_id,session_id,prompt_tokens,output_tokens\n"
        '10.5,chat,1,100,50,7\n11,"embed, batch",2,-3,0,0\n\n11,chat,1,100,20,30\n'
    )
    trace = read_trace(path)
    check_trace(trace)
    assert trace.arrival_s.tolist() == [0.0, 0.5, 0.5]
    assert trace.kind.tolist() == ["chat", "embed, batch", "chat"]
    assert trace.user_id.tolist() == [1, 2, 1]
    assert trace.session_id.tolist() == [100, -3, 100]
    assert trace.prompt_tokens.tolist() == [50, 0, 20]
    assert trace.output_tokens.tolist() == [7, 0, 30]


def test_generic_csv_with_times_only(tmp_path: Path) -> None:
    path = tmp_path / "times.txt"
    path.write_text("arrival_s\n1e3\n1000.25\n")
    trace = read_trace(path)
    assert trace.arrival_s.tolist() == [0.0, 0.25]
    assert trace.prompt_tokens is None and trace.output_tokens is None and trace.kind is None
    chunk = next(replay(trace, 10.0))
    assert chunk.prompt_tokens is None


def test_parquet_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "arrival_s": pa.array([3.0, 3.5, 4.0]),
            "kind": pa.array(["a", "b", "a"]).dictionary_encode(),
            "prompt_tokens": pa.array([1, 2, 3], pa.int32()),
            "output_tokens": pa.array([4, 5, 6], pa.uint64()),
            "session_id": pa.array([7, 8, 9]),
        }
    )
    pq.write_table(table, path)
    trace = read_trace(path)
    check_trace(trace)
    assert trace.arrival_s.tolist() == [0.0, 0.5, 1.0]
    assert trace.kind.tolist() == ["a", "b", "a"]
    assert trace.output_tokens.tolist() == [4, 5, 6]
    assert trace.user_id is None and trace.session_id.tolist() == [7, 8, 9]


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        ({"arrival_s": [1.0, 2.0, 0.5]}, "row 3: arrival_s is earlier"),
        ({"arrival_s": [1.0, None, 2.0]}, "row 2: arrival_s is missing (null)"),
        ({"arrival_s": [1.0, math.nan, 2.0]}, "row 2: arrival_s is not finite"),
        ({"arrival_s": [1.0, 2.0], "prompt_tokens": [5, -1]}, "row 2: prompt_tokens is negative"),
        ({"arrival_s": [1.0, 2.0], "kind": ["x", " "]}, "row 2: kind is empty"),
        ({"arrival_s": ["1", "2"]}, "column 'arrival_s' must be a number column"),
        ({"arrival_s": [1.0], "prompt_tokens": [1.5]}, "column 'prompt_tokens' must be an integer"),
        ({"arrival_s": [1.0], "tokens": [1]}, "unknown column 'tokens'"),
        ({"time": [1.0]}, "missing column 'arrival_s'"),
        ({"arrival_s": pa.array([], pa.float64())}, "no data rows"),
    ],
)
def test_bad_parquet_is_an_input_error(tmp_path: Path, columns: dict, problem: str) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert any(line.startswith(f"{path}: ") and problem in line for line in caught.value.problems)


def test_lenient_parquet_skips_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"arrival_s": [1.0, None, 2.0, 0.5, 3.0]}), path)
    trace = read_trace(path, lenient=True)
    assert trace.arrival_s.tolist() == [0.0, 1.0, 2.0] and trace.skipped_rows == 2


# ---------------------------------------------------------------- format detection


def test_format_detection(tmp_path: Path) -> None:
    azure = tmp_path / "renamed.log"
    azure.write_bytes(AZURE_CODE.read_bytes()[:2000].rsplit(b"\r\n", 1)[0])
    assert read_trace(azure).prompt_tokens[0] == 4808
    moon = tmp_path / "renamed.txt"
    moon.write_text('{"timestamp": 5, "input_length": 1, "output_length": 2}\n')
    assert read_trace(moon).prefix_id.tolist() == [-1]
    gz = tmp_path / "conv.csv.gz"
    gz.write_bytes(gzip.compress(AZURE_CONV.read_bytes()))
    assert len(read_trace(gz)) == 19_366
    parquet = tmp_path / "noext"
    pq.write_table(pa.table({"arrival_s": [1.0]}), parquet)
    assert len(read_trace(parquet)) == 1
    explicit = tmp_path / "x.data"
    explicit.write_text("arrival_s\n1\n")
    assert len(read_trace(explicit, format="csv")) == 1


# ---------------------------------------------------------------- errors, one line each


AZURE_HEAD = "TIMESTAMP,ContextTokens,GeneratedTokens"


def azure_text(n: int = 8) -> list[str]:
    return [AZURE_HEAD] + [
        f"2023-11-16 18:15:{10 + i:02d}.68059{i:02d},{100 + i},{i}" for i in range(n)
    ]


def write(path: Path, lines: list[str], newline: str = "\r\n") -> Path:
    path.write_text(newline.join(lines), newline="")
    return path


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("empty.csv", "", "{p}: empty file"),
        ("blank.jsonl", "  \n\n", "{p}: empty file"),
        ("header.csv", AZURE_HEAD + "\r\n", "{p}: no data rows"),
        (
            "cols.csv",
            "TIMESTAMP,Context,GeneratedTokens\n1,2,3",
            "{p}: cannot tell the trace format",
        ),
        (
            "ts.csv",
            AZURE_HEAD + "\n2023-11-16 18:15:10.1,1,2\n2023-11-16 25:00:00.1,1,2",
            "{p}:3: bad TIMESTAMP",
        ),
        (
            "date.csv",
            AZURE_HEAD + "\n2023-02-30 18:15:10.1,1,2",
            "{p}:2: bad TIMESTAMP '2023-02-30 18:15:10.1' (no such date)",
        ),
        (
            "sort.csv",
            AZURE_HEAD + "\n2023-11-16 18:15:10.2,1,2\n2023-11-16 18:15:10.1,1,2",
            "{p}:3: TIMESTAMP 2023-11-16 18:15:10.1 is earlier than the time at line 2",
        ),
        (
            "neg.csv",
            AZURE_HEAD + "\n2023-11-16 18:15:10.1,-5,2",
            "{p}:2: ContextTokens is negative: -5",
        ),
        (
            "float.csv",
            AZURE_HEAD + "\n2023-11-16 18:15:10.1,5,2.0",
            "{p}:2: GeneratedTokens is not an integer: '2.0'",
        ),
        ("fields.csv", AZURE_HEAD + "\n2023-11-16 18:15:10.1,5", "{p}:2: expected 3 fields, got 2"),
        ("gen.csv", "arrival_s,prompt_tokenz\n1,2", "{p}:1: unknown column 'prompt_tokenz'"),
        ("gen2.csv", "arrival_s,kind\nnan,x", "{p}:2: arrival_s is not a number: 'nan'"),
        ("gen4.csv", "arrival_s\n1e400", "{p}:2: arrival_s is out of range: '1e400'"),
        ("wide.csv", "arrival_s\n-1e308\n1e308", "{p}:2: arrival_s is out of range: '-1e308'"),
        ("gen3.csv", "arrival_s,arrival_s\n1,2", "{p}:1: column 'arrival_s' appears twice"),
        ("m.jsonl", '{"timestamp": 1, "input_length": 2}', "{p}:1: missing key 'output_length'"),
        (
            "m2.jsonl",
            '{"timestamp": 1, "input_length": -2, "output_length": 1}',
            "{p}:1: 'input_length' is negative: -2",
        ),
        (
            "m3.jsonl",
            '{"timestamp": 1, "input_length": 2, "output_length": 1}\n[1]',
            "{p}:2: expected a JSON object",
        ),
        (
            "m4.jsonl",
            '{"timestamp": 1, "input_length": 2, "output_length": true}',
            "{p}:1: 'output_length' must be an integer",
        ),
        (
            "m5.jsonl",
            '{"timestamp": 9, "input_length": 2, "output_length": 1}\n'
            '{"timestamp": 3, "input_length": 2, "output_length": 1}',
            "{p}:2: timestamp 3 is earlier than the time at line 1",
        ),
        (
            "m6.jsonl",
            '{"timestamp": NaN, "input_length": 2, "output_length": 1}',
            "{p}:1: 'timestamp' is out of range",
        ),
        (
            "m7.jsonl",
            '{"timestamp": 1, "input_length": 2, "output_length": 1, "hash_ids": [1, "x"]}',
            "{p}:1: 'hash_ids' must be a list",
        ),
        ("m8.jsonl", "{nope", "{p}:1: not valid JSON"),
        ("bin.parquet", "PAR1 not really", "{p}: not a readable Parquet file"),
        ("bad.csv.gz", "not gzip", "{p}: not a valid gzip file"),
    ],
)
def test_bad_input_names_file_line_and_problem(
    tmp_path: Path, name: str, content: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(content, newline="")
    with pytest.raises(InputError) as caught:
        read_trace(path)
    expected = problem.format(p=path)
    assert any(line.startswith(expected) for line in caught.value.problems), caught.value.problems
    assert all("\n" not in line for line in caught.value.problems)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'nope.csv'}: no such file")):
        read_trace(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a directory"):
        read_trace(tmp_path)
    with pytest.raises(InputError, match="unknown trace format"):
        read_trace(AZURE_CODE, format="splitwise")  # type: ignore[arg-type]


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"arrival_s,kind\n1,a\n2,\xff\n")
    with pytest.raises(InputError, match=re.escape(f"{path}:3: not UTF-8 text")):
        read_trace(path)
    assert read_trace(path, lenient=True).kind[1] == "\ufffd"


def test_many_bad_rows_stop_after_the_limit(tmp_path: Path) -> None:
    lines = azure_text(40)
    lines[1:31] = [line.replace(",1", ",-1", 1) for line in lines[1:31]]
    path = write(tmp_path / "many.csv", lines)
    with pytest.raises(InputError) as caught:
        read_trace(path)
    problems = caught.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert [p.split(":")[1] for p in problems[:MAX_PROBLEMS]] == [str(i) for i in range(2, 12)]
    assert problems[-1] == f"{path}: stopped after {MAX_PROBLEMS} problems"
    lenient = read_trace(path, lenient=True)
    assert len(lenient) == 10 and lenient.skipped_rows == 30


def test_lenient_with_no_good_rows_is_still_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv", [AZURE_HEAD, "x,1,2", "y,1,2"])
    with pytest.raises(InputError, match=r"no data rows \(2 bad rows skipped\)"):
        read_trace(path, lenient=True)


# ---------------------------------------------------------------- hypothesis: malformed rows

_FIELD_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters='\r\n"\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029',
    ),
    max_size=30,
)


def _is_int(text: str) -> bool:
    return re.fullmatch(r"\s*[+-]?[0-9]+\s*", text) is not None


@st.composite
def azure_corruption(draw) -> tuple[str, str]:
    """(kind of damage, a replacement for one row given the previous row's timestamp)."""
    kind = draw(st.sampled_from(
        ["negative", "huge", "tokens", "timestamp", "fields", "unsorted", "date", "year"]))
    if kind == "negative":
        return kind, f"2023-11-16 18:15:30.0,{-draw(st.integers(1, 10**12))},5"
    if kind == "huge":  # above the int32 of requests.parquet
        return kind, f"2023-11-16 18:15:30.0,5,{draw(st.integers(2**31, 10**30))}"
    if kind == "year":  # outside int64 nanoseconds since 1970
        year = draw(st.one_of(st.integers(1, 1969), st.integers(2263, 9999)))
        return kind, f"{year:04d}-11-16 18:15:30.0,1,2"
    if kind == "tokens":
        text = draw(_FIELD_TEXT.filter(lambda t: not _is_int(t) and "," not in t))
        return kind, f"2023-11-16 18:15:30.0,12,{text}"
    if kind == "timestamp":
        text = draw(
            _FIELD_TEXT.filter(
                lambda t: "," not in t and not re.fullmatch(r"\s*[0-9-]{10}[ T][0-9:.]+\s*", t)
            )
        )
        return kind, f"{text},1,2"
    if kind == "fields":
        extra = draw(
            st.lists(st.integers(0, 99).map(str), min_size=0, max_size=4).filter(
                lambda x: len(x) != 1
            )
        )
        return kind, ",".join(["2023-11-16 18:15:30.0", "1", *extra])
    if kind == "date":
        bad = draw(
            st.sampled_from(
                [
                    "2023-13-01 00:00:00",
                    "2023-11-31 10:00:00",
                    "2023-11-16 24:00:00.5",
                    "2023-11-16 10:60:00",
                    "0000-01-01 00:00:00",
                ]
            )
        )
        return kind, f"{bad},1,2"
    return kind, "2023-11-16 18:14:00.0,1,2"  # earlier than every row


@HYPOTHESIS
@given(damage=azure_corruption(), where=st.integers(0, 7), newline=st.sampled_from(["\r\n", "\n"]))
def test_one_bad_azure_row_is_named_or_skipped(tmp_path_factory, damage, where, newline) -> None:
    kind, bad_row = damage
    lines = azure_text(8)
    lines[1 + where] = bad_row
    if kind == "unsorted" and where == 0:
        lines[1] = "2023-11-16 18:15:59.0,1,2"  # the first row is later than all the rest
    path = write(tmp_path_factory.mktemp("az") / "t.csv", lines, newline)
    with pytest.raises(InputError) as caught:
        read_trace(path)
    problems = caught.value.problems
    line = 3 if kind == "unsorted" and where == 0 else 2 + where
    if kind == "unsorted" and where == 0:
        assert len(problems) == 7  # every later row is earlier than the first
    else:
        assert len(problems) == 1
    assert problems[0].startswith(f"{path}:{line}: ")
    lenient = read_trace(path, lenient=True)
    check_trace(lenient)
    assert lenient.skipped_rows == len(problems) and len(lenient) == 8 - len(problems)


_NOT_NUMBERS = st.one_of(
    st.text(max_size=5), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)
)
_BAD_JSON_VALUES = {
    "timestamp": st.one_of(
        _NOT_NUMBERS,
        st.sampled_from([math.nan, math.inf, -math.inf, 2**70]),
        st.integers(max_value=-1),
        st.floats(1e12, 1e300, exclude_min=True),
    ),
    "input_length": st.one_of(
        _NOT_NUMBERS, st.integers(max_value=-1), st.floats(), st.integers(2**31, 2**70)
    ),
    "output_length": st.one_of(
        _NOT_NUMBERS, st.integers(max_value=-1), st.floats(), st.integers(2**31, 2**64)
    ),
    "hash_ids": st.one_of(
        st.text(max_size=5),
        st.booleans(),
        st.integers(),
        st.lists(
            st.one_of(st.integers(max_value=-1), st.text(max_size=3), st.floats(), st.just(2**64)),
            min_size=1,
            max_size=3,
        ),
    ),
}


@st.composite
def mooncake_corruption(draw) -> str:
    kind = draw(st.sampled_from(["text", "value", "missing", "unsorted"]))
    good = {"timestamp": 5000, "input_length": 1000, "output_length": 3, "hash_ids": [0, 1]}
    if kind == "text":
        return draw(_FIELD_TEXT.filter(lambda t: t.strip() != "" and not t.strip().startswith("{")))
    if kind == "missing":
        key = draw(st.sampled_from(["timestamp", "input_length", "output_length"]))
        del good[key]
        return json.dumps(good)
    if kind == "unsorted":
        good["timestamp"] = -1
        return json.dumps(good)
    key = draw(st.sampled_from(sorted(_BAD_JSON_VALUES)))
    bad = draw(_BAD_JSON_VALUES[key])
    good[key] = bad
    return json.dumps(good)


@HYPOTHESIS
@given(bad_row=mooncake_corruption(), where=st.integers(0, 5))
def test_one_bad_mooncake_row_is_named_or_skipped(
    tmp_path_factory, bad_row: str, where: int
) -> None:
    lines = [
        json.dumps(
            {"timestamp": 100 * i, "input_length": 700, "output_length": 1, "hash_ids": [0, i]}
        )
        for i in range(6)
    ]
    lines[where] = bad_row
    if where == 0 and '"timestamp": -1' in bad_row:
        return  # an early first row is not out of order
    path = tmp_path_factory.mktemp("mc") / "t.jsonl"
    path.write_text("\n".join(lines))
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{path}:{where + 1}: ")
    lenient = read_trace(path, lenient=True)
    check_trace(lenient)
    assert lenient.skipped_rows == 1 and len(lenient) == 5


@HYPOTHESIS
@given(
    field=st.sampled_from(
        ["arrival_s", "prompt_tokens", "output_tokens", "user_id", "session_id", "kind"]
    ),
    text=_FIELD_TEXT,
    where=st.integers(0, 4),
)
def test_one_bad_generic_field_is_named(
    tmp_path_factory, field: str, text: str, where: int
) -> None:
    assume(
        not (field == "arrival_s" and DECIMAL.fullmatch(text.strip()))
    )  # order is tested elsewhere
    header = ["arrival_s", "prompt_tokens", "output_tokens", "user_id", "session_id", "kind"]
    rows = [[str(10 + i), "5", "6", "7", "8", "chat"] for i in range(5)]
    rows[where][header.index(field)] = text
    path = tmp_path_factory.mktemp("gen") / "t.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    try:
        trace = read_trace(path)
    except InputError as exc:
        assert exc.problems[0].startswith(f"{path}:{where + 2}: ")
        assert read_trace(path, lenient=True).skipped_rows == 1
    else:  # the text happened to be a valid value for that field
        check_trace(trace)
        assert len(trace) == 5


# ---------------------------------------------------------------- hypothesis: random bytes

HEADS = [
    b"",
    AZURE_HEAD.encode() + b"\r\n",
    b"arrival_s,kind,prompt_tokens\n",
    b'{"timestamp": 1, ',
    b"PAR1",
]
TARGETS = [
    ("t.csv", "auto"),
    ("t.jsonl", "auto"),
    ("t.parquet", "auto"),
    ("t.bin", "auto"),
    ("t.csv.gz", "auto"),
    ("t.x", "azure"),
    ("t.x", "mooncake"),
    ("t.x", "csv"),
    ("t.x", "parquet"),
]


@HYPOTHESIS
@given(
    head=st.sampled_from(HEADS),
    body=st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode)),
    target=st.sampled_from(TARGETS),
    lenient=st.booleans(),
)
def test_any_bytes_give_a_trace_or_an_input_error(
    tmp_path_factory, head, body, target, lenient
) -> None:
    name, fmt = target
    path = tmp_path_factory.mktemp("raw") / name
    path.write_bytes(head + body)
    try:
        trace = read_trace(path, fmt, lenient=lenient)
    except InputError as exc:
        assert exc.problems and all(p.startswith(str(path)) and "\n" not in p for p in exc.problems)
    else:
        check_trace(trace)
