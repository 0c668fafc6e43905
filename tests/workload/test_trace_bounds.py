"""Trace readers check every column's range, not only its type, and read files as streams:
a value out of range is a `file:line` problem (or a skipped row under lenient) in every
format, and a file is read in bounded blocks whatever it inflates to."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simscale.errors import InputError
from simscale.outputs.columns import REQUESTS_SCHEMA
from simscale.outputs.recorder import ROW_TYPE
from simscale.workload.traces import bounds, read_trace, source
from simscale.workload.traces.problems import Problems

TOO_MANY = 3_000_000_000  # the value of the report: above 2^31 − 1
MAX = bounds.MAX_TRACE_TOKENS
AZURE = "TIMESTAMP,ContextTokens,GeneratedTokens"
AZURE_SWAPPED = "GeneratedTokens,TIMESTAMP,ContextTokens"  # read row by row, not vectorised


def test_max_tokens_is_what_the_requests_table_holds() -> None:
    for schema in (REQUESTS_SCHEMA, ROW_TYPE):
        for name in ("prompt_tokens", "output_tokens"):
            field = schema.field(name)
            assert np.iinfo(field.type.to_pandas_dtype()).max == MAX
        for name in ("user_id", "session_id"):
            assert np.iinfo(schema.field(name).type.to_pandas_dtype()).max == bounds.MAX_ID


# ---------------------------------------------------------------- token counts, every format


def azure_rows(values: list[tuple[int, int]], header: str = AZURE) -> str:
    rows = []
    for i, (ctx, gen) in enumerate(values):
        stamp = f"2023-11-16 18:15:{10 + i:02d}.1234567"
        fields = {"TIMESTAMP": stamp, "ContextTokens": ctx, "GeneratedTokens": gen}
        rows.append(",".join(str(fields[name]) for name in header.split(",")))
    return "\r\n".join([header, *rows])


def mooncake_rows(values: list[tuple[int, int]]) -> str:
    return "\n".join(
        json.dumps({"timestamp": 100 * i, "input_length": ctx, "output_length": gen})
        for i, (ctx, gen) in enumerate(values)
    )


def generic_rows(values: list[tuple[int, int]]) -> str:
    rows = [f"{i}.5,{ctx},{gen}" for i, (ctx, gen) in enumerate(values)]
    return "\n".join(["arrival_s,prompt_tokens,output_tokens", *rows])


def write_trace(folder: Path, fmt: str, values: list[tuple[int, int]]) -> Path:
    """A three-row trace in `fmt` with the given (prompt, output) tokens per row."""
    if fmt == "parquet":
        path = folder / "t.parquet"
        prompt, output = zip(*values, strict=True)
        pq.write_table(pa.table({"arrival_s": [float(i) for i in range(len(values))],
                                 "prompt_tokens": pa.array(prompt, pa.int64()),
                                 "output_tokens": pa.array(output, pa.uint64())}), path)
        return path
    name, text = {
        "azure": ("t.csv", azure_rows(values)),
        "azure-rows": ("t.csv", azure_rows(values, AZURE_SWAPPED)),
        "azure-gz": ("t.csv.gz", azure_rows(values)),
        "mooncake": ("t.jsonl", mooncake_rows(values)),
        "generic": ("t.csv", generic_rows(values)),
    }[fmt]
    path = folder / name
    data = text.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


FORMATS = {  # format → (prompt column, output column, where row 2 is)
    "azure": ("ContextTokens", "GeneratedTokens", "3"),
    "azure-rows": ("ContextTokens", "GeneratedTokens", "3"),
    "azure-gz": ("ContextTokens", "GeneratedTokens", "3"),
    "mooncake": ("'input_length'", "'output_length'", "2"),
    "generic": ("prompt_tokens", "output_tokens", "3"),
    "parquet": ("prompt_tokens", "output_tokens", " row 2"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("column", [0, 1])
def test_a_token_count_above_int32_is_a_bad_row(tmp_path: Path, fmt: str, column: int) -> None:
    big = [5, 6]
    big[column] = TOO_MANY
    path = write_trace(tmp_path, fmt, [(1, 2), tuple(big), (3, 4)])
    with pytest.raises(InputError) as caught:
        read_trace(path)
    name, where = FORMATS[fmt][column], FORMATS[fmt][2]
    assert caught.value.problems == [
        f"{path}:{where}: {name} is out of range: {TOO_MANY} (max 2,147,483,647)"
    ]
    lenient = read_trace(path, lenient=True)
    assert lenient.skipped_rows == 1
    assert lenient.prompt_tokens.tolist() == [1, 3] and lenient.output_tokens.tolist() == [2, 4]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_largest_token_count_is_kept(tmp_path: Path, fmt: str) -> None:
    path = write_trace(tmp_path, fmt, [(MAX, 0), (0, MAX)])
    trace = read_trace(path)
    assert trace.prompt_tokens.tolist() == [MAX, 0] and trace.output_tokens.tolist() == [0, MAX]


# ---------------------------------------------------------------- times


@pytest.mark.parametrize("header", [AZURE, AZURE_SWAPPED])
@pytest.mark.parametrize(
    ("stamps", "line", "problem"),
    [
        (["1700-01-01 00:00:00.0", "2023-11-16 18:15:10.0"], 2,
         "TIMESTAMP '1700-01-01 00:00:00.0' is out of range (1970-01-01 to 2262-04-11)"),
        (["2023-11-16 18:15:10.0", "2262-04-12 00:00:00.0"], 3,
         "TIMESTAMP '2262-04-12 00:00:00.0' is out of range (1970-01-01 to 2262-04-11)"),
        (["2023-11-16 18:15:10.0", "2200-01-01 00:00:00.0"], 3,
         "TIMESTAMP 2200-01-01 00:00:00.0 is 5.56e+09 s after the first row (line 2): a "
         "trace spans at most 1e+09 s"),
        (["1970-01-01 00:00:00.0", "2262-04-11 23:47:16.854775807"], 3,
         "TIMESTAMP 2262-04-11 23:47:16.854775807 is 9.22e+09 s after the first row (line 2)"),
    ],
)
def test_azure_times_out_of_range_name_the_line(
    tmp_path: Path, header: str, stamps: list[str], line: int, problem: str
) -> None:
    order = header.split(",")
    rows = [",".join({"TIMESTAMP": s, "ContextTokens": "1", "GeneratedTokens": "2"}[n]
                     for n in order) for s in stamps]
    path = tmp_path / "t.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert caught.value.problems[0].startswith(f"{path}:{line}: {problem}")
    lenient = read_trace(path, lenient=True)
    assert len(lenient) == 1 and lenient.skipped_rows == 1


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("arrival_s\n0\n2e10\n",
         "3: arrival_s is out of range: '2e10' (|arrival_s| at most 1e+10 s)"),
        ("arrival_s\n-1e10\n-1e10\n1e10\n", "4: arrival_s 1e10 is 2e+10 s after the first row"),
        ("arrival_s,user_id\n1,9223372036854775808\n",
         "2: user_id is out of range: '9223372036854775808' (a 64-bit integer)"),
        ("arrival_s,session_id\n1,-" + "9" * 5000 + "\n",
         "2: session_id is out of range: '-99999999"),
        ("arrival_s,prompt_tokens\n1," + "1" * 5000 + "\n", "2: prompt_tokens is out of range"),
        ("arrival_s,kind\n1,\"a\nb\"\n", "3: kind has a control character: 'a\\nb'"),
        ("arrival_s,kind\n1," + "k" * 101 + "\n", "2: kind is longer than 100 characters"),
    ],
)
def test_generic_values_out_of_range(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert caught.value.problems[0].startswith(f"{path}:{problem}"), caught.value.problems


def test_at_most_256_kinds(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = [f"{i},k{i % 300}" for i in range(600)]
    path.write_text("\n".join(["arrival_s,kind", *rows]))
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert caught.value.problems[0] == (
        f"{path}:258: kind 'k256' is one more than the 256 distinct kinds a trace may have")
    lenient = read_trace(path, lenient=True)
    assert len(set(lenient.kind)) == 256 and lenient.skipped_rows == 2 * 44


def test_any_prefix_blocks_gives_the_whole_prompt_past_its_blocks(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    row = {"timestamp": 0, "input_length": 1500, "output_length": 5, "hash_ids": [7, 8, 9]}
    path.write_text(json.dumps(row) + "\n")
    for blocks, prefix in ((1, 7), (2, 8), (3, 9), (4, 9), (10**30, 9)):
        assert read_trace(path, prefix_blocks=blocks).prefix_id.tolist() == [prefix]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"timestamp": -5}, "'timestamp' is negative: -5"),
        ({"timestamp": 2e12}, "'timestamp' is out of range: 2000000000000.0 (max 1e+12 ms"),
        ({"timestamp": 10**400}, "'timestamp' is out of range: 1000000000"),
        ({"input_length": 2**63}, f"'input_length' is out of range: {2**63} (max 2,147,483,647)"),
        ({"hash_ids": [1, 2, 3]}, "'hash_ids' has 3 ids, more than the 2 blocks of 512 tokens"),
        ({"hash_ids": [2**63]}, "'hash_ids' must be a list of integers from 0 to 2^63 − 1"),
    ],
)
def test_mooncake_values_out_of_range(tmp_path: Path, row: dict, problem: str) -> None:
    good = {"timestamp": 0, "input_length": 1000, "output_length": 5, "hash_ids": [7, 8]}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, **row}) + "\n")
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert caught.value.problems[0].startswith(f"{path}:2: {problem}"), caught.value.problems
    assert read_trace(path, lenient=True).skipped_rows == 1


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        ({"arrival_s": [0.0, 5e10]}, "row 2: arrival_s is out of range: 5e+10"),
        ({"arrival_s": pa.array([0, 2 * 10**9], pa.int64())},
         "row 2: arrival_s 2e+09 is 2e+09 s after the first row's"),
        ({"arrival_s": [0.0, 1.0], "user_id": pa.array([1, 2**63], pa.uint64())},
         f"row 2: user_id is out of range: {2**63} (a 64-bit integer)"),
        ({"arrival_s": [0.0, 1.0], "kind": ["a", "b" * 101]},
         "row 2: kind is longer than 100 characters"),
        ({"arrival_s": [0.0, 1.0], "kind": ["a", "tab\there"]},
         "row 2: kind has a control character"),
    ],
)
def test_parquet_values_out_of_range(tmp_path: Path, columns: dict, problem: str) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert caught.value.problems[0].startswith(f"{path}: {problem}"), caught.value.problems
    assert read_trace(path, lenient=True).skipped_rows == 1


def test_parquet_kinds_are_counted_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    n = 70_000  # two batches
    kinds = [f"k{i % 257}" for i in range(n)]
    pq.write_table(pa.table({"arrival_s": np.arange(n, dtype=float), "kind": kinds}), path)
    with pytest.raises(InputError, match="kind 'k256' is one more than the 256 distinct"):
        read_trace(path)
    lenient = read_trace(path, lenient=True)
    assert len(set(lenient.kind)) == 256 and lenient.skipped_rows == kinds.count("k256")


# ---------------------------------------------------------------- streaming and size bounds


def test_blocks_hold_whole_lines_and_at_most_a_block_plus_a_line(tmp_path: Path) -> None:
    lines = [f"{i},{'x' * (i % 5000)}\n".encode() for i in range(3000)]
    data = b"".join(lines)
    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(data))
    with source.Source(path, Problems(str(path), lenient=False)) as src:
        blocks = list(src.blocks())
    assert b"".join(b for _, b in blocks) == data
    assert len(blocks) >= 4
    assert all(len(b) <= source.BLOCK_BYTES + bounds.MAX_LINE_BYTES for _, b in blocks)
    assert all(b.endswith(b"\n") for _, b in blocks)
    numbers = [first for first, _ in blocks]
    assert numbers == [1 + sum(b.count(b"\n") for _, b in blocks[:k]) for k in range(len(blocks))]


def test_reading_a_gzip_bomb_holds_a_block_not_the_file(tmp_path: Path) -> None:
    """A 40 MB inflation of a 40 KB file, read with one valid row: the peak of Python and
    numpy allocations stays within a few blocks (the old reader held the file twice over:
    125 MB)."""
    filler = (b" " * 1023 + b"\n") * 40_000
    row = json.dumps({"timestamp": 0, "input_length": 5, "output_length": 1}).encode()
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(row + b"\n" + filler, compresslevel=9))
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        trace = read_trace(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(trace) == 1
    assert peak < 16 * source.BLOCK_BYTES  # 40 MB inflated


def test_a_file_beyond_the_size_bound_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(source, "MAX_INPUT_BYTES", 3 * source.BLOCK_BYTES)
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(b"arrival_s\n" + b"1\n" * (4 * source.BLOCK_BYTES // 2)))
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert caught.value.problems[-1] == (
        f"{path}: more than 3 MiB once decompressed: a trace is at most 3 MiB of data (split or "
        "sample it)")


def test_a_file_beyond_the_row_bound_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(source, "MAX_ROWS", 1000)
    path = tmp_path / "many.csv"
    path.write_text("arrival_s\n" + "1\n" * 1000)
    with pytest.raises(InputError, match=r"more than 1,000 lines: a trace holds at most 1,000"):
        read_trace(path)
    path.write_text("arrival_s\n" + "1\n" * 999)
    assert len(read_trace(path)) == 999


@pytest.mark.parametrize("extra", [10, 2 * bounds.MAX_LINE_BYTES])  # ends a block or two on
def test_a_line_longer_than_the_bound_is_a_bad_row(tmp_path: Path, extra: int) -> None:
    path = tmp_path / "long.csv.gz"
    long_line = b"2," + b"9" * (bounds.MAX_LINE_BYTES + extra) + b"\n"
    path.write_bytes(gzip.compress(b"arrival_s,user_id\n1,1\n" + long_line + b"3,3\n"))
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert caught.value.problems == [f"{path}:3: line longer than 1,048,576 bytes"]
    lenient = read_trace(path, lenient=True)
    assert lenient.user_id.tolist() == [1, 3] and lenient.skipped_rows == 1
    assert lenient.arrival_s.tolist() == [0.0, 2.0]


def test_a_truncated_gzip_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(b"arrival_s\n" + b"1\n" * 100_000)[:-100])
    with pytest.raises(InputError, match="not a valid gzip file"):
        read_trace(path)


def test_a_gzipped_parquet_is_spooled_and_read_alike(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"arrival_s": np.arange(100_000, dtype=float) / 7,
                             "prompt_tokens": np.arange(100_000)}), path)
    packed = tmp_path / "t.parquet.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    a, b = read_trace(path), read_trace(packed)
    assert np.array_equal(a.arrival_s, b.arrival_s) and len(a) == 100_000
    assert np.array_equal(a.prompt_tokens, b.prompt_tokens)


def test_a_parquet_beyond_the_row_bound_is_refused(tmp_path: Path, monkeypatch) -> None:
    from simscale.workload.traces import parquet

    monkeypatch.setattr(parquet, "MAX_ROWS", 10)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"arrival_s": np.arange(11, dtype=float)}), path)
    with pytest.raises(InputError) as caught:
        read_trace(path)
    assert caught.value.problems == [f"{path}: 11 rows: a trace holds at most 10 rows"]
