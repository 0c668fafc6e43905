"""The Mooncake FAST'25 JSONL trace format, read block by block."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from itertools import chain
from typing import Any

import numpy as np

from simscale.workload.traces import fast_blocks, fields
from simscale.workload.traces.bounds import MAX_ID, MAX_SPAN_S
from simscale.workload.traces.problems import Bad, Problems, show
from simscale.workload.traces.source import Source, decode
from simscale.workload.traces.trace import Trace

BLOCK_TOKENS = 512
"""Tokens per prompt block named by one hash id."""

MAX_TIMESTAMP_MS = MAX_SPAN_S * 1000
_DTYPES = {"ms": np.float64, "prompt": np.int64, "output": np.int64, "prefix": np.int64}


def read_mooncake(source: Source, problems: Problems, prefix_blocks: int) -> Trace:
    """Clean blocks are parsed vectorised (pyarrow); from the first block that needs a closer
    look, line by line, to name each problem."""
    columns = fields.Columns(_DTYPES)
    times = fields.Times(per_s=1e3)
    blocks = source.blocks()
    for first, data in blocks:
        if not _fast_block(data, first, prefix_blocks, columns, times):
            rest = decode(chain([(first, data)], blocks), problems)
            _read_lines(rest, problems, prefix_blocks, columns, times)
            break
    problems.check()
    if not columns.count:
        raise problems.no_rows()
    out = columns.arrays()
    ms = out["ms"]
    return Trace(
        arrival_s=(ms - ms[0]) / 1000.0,
        prompt_tokens=out["prompt"],
        output_tokens=out["output"],
        prefix_id=out["prefix"],
        source=problems.source,
        skipped_rows=problems.skipped,
    )


def _read_lines(blocks: Iterator[tuple[int, str]], problems: Problems, prefix_blocks: int,
                columns: fields.Columns, times: fields.Times) -> None:
    for first, text in blocks:
        for line_no, raw in enumerate(text.split("\n"), first):
            line = raw.strip()
            if not line:
                continue
            try:
                row = mooncake_row(line, prefix_blocks)
                times.check(row[0], f"timestamp {row[0]:g}")
            except Bad as exc:
                problems.row(str(line_no), str(exc))
                continue
            times.accept(row[0], f"line {line_no}")
            columns.append(dict(zip(_DTYPES, row, strict=True)))


_SCHEMA = (("timestamp", "float64"), ("input_length", "int64"), ("output_length", "int64"),
           ("hash_ids", "list_int64"))


def _fast_block(data: bytes, first: int, prefix_blocks: int, columns: fields.Columns,
                times: fields.Times) -> bool:
    """Add a block whose every line is one clean object in range and in order (parsed by
    pyarrow, which accepts a subset of what json.loads accepts and gives the same numbers);
    False, adding nothing, if anything needs a closer look."""
    table = _parse(data)
    if table is None:
        return False
    if not table.num_rows:
        return True
    ms = table["timestamp"].to_numpy()
    prompt = table["input_length"].to_numpy()
    output = table["output_length"].to_numpy()
    if not (np.all((ms >= 0) & (ms <= MAX_TIMESTAMP_MS)) and fast_blocks.tokens_ok(prompt, output)):
        return False
    prefix = _prefix_ids(table["hash_ids"], prompt, prefix_blocks, has_ids=b"hash_ids" in data)
    if prefix is None or not fast_blocks.in_order(ms, times, first):
        return False
    columns.extend({"ms": ms, "prompt": prompt, "output": output, "prefix": prefix})
    return True


def _parse(data: bytes) -> Any | None:
    import pyarrow as pa
    import pyarrow.json as pj

    body = data.rstrip(b"\r\n")
    lines = body.count(b"\n") + 1 if body.strip() else 0
    if not lines:
        return None if body else pa.table({})  # blank lines (or none): nothing to add
    schema = pa.schema([(name, pa.list_(pa.int64()) if kind == "list_int64" else
                         getattr(pa, kind)()) for name, kind in _SCHEMA])
    try:
        table = pj.read_json(
            io.BytesIO(body),
            read_options=pj.ReadOptions(use_threads=False),
            parse_options=pj.ParseOptions(explicit_schema=schema,
                                          unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != lines or any(table[n].null_count for n, _ in _SCHEMA[:3]):
        return None
    return table


def _prefix_ids(hash_ids: Any, prompt: np.ndarray, prefix_blocks: int,
                has_ids: bool) -> np.ndarray | None:
    """Each row's prefix id (see _prefix_id), or None if a row's hash_ids are not clean (or
    some rows give them and some do not, or one gives null)."""
    ids = hash_ids.combine_chunks()
    if ids.null_count:
        if has_ids:
            return None
        return np.full(len(ids), -1, dtype=np.int64)  # no row names hash_ids
    lengths = ids.value_lengths().to_numpy()
    values = ids.values.to_numpy()
    if (len(values) and values.min() < 0) or np.any(lengths > -(-prompt // BLOCK_TOKENS)):
        return None
    offsets = ids.offsets.to_numpy()[:-1]
    where = offsets + np.minimum(prefix_blocks, lengths) - 1
    return np.where(lengths > 0, values[np.maximum(where, 0)] if len(values) else -1, -1)


def mooncake_row(line: str, prefix_blocks: int) -> tuple[float, int, int, int]:
    """(timestamp ms, input tokens, output tokens, prefix id) of one JSON line."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise Bad(
            f"not valid JSON ({str(exc).splitlines()[0] if str(exc) else 'too deep'})"
        ) from None
    if not isinstance(obj, dict):
        raise Bad("expected a JSON object per line")
    missing = [k for k in ("timestamp", "input_length", "output_length") if k not in obj]
    if missing:
        raise Bad(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    stamp = _timestamp(obj["timestamp"])
    tokens_in = fields.check_tokens(_json_int(obj, "input_length"), "'input_length'")
    tokens_out = fields.check_tokens(_json_int(obj, "output_length"), "'output_length'")
    return stamp, tokens_in, tokens_out, _prefix_id(obj.get("hash_ids", []), tokens_in,
                                                    prefix_blocks)


def _timestamp(stamp: object) -> float:
    """Milliseconds from the start of the trace: 0 to MAX_TIMESTAMP_MS."""
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        raise Bad(f"'timestamp' must be a number of ms, got {show(json.dumps(stamp))}")
    if isinstance(stamp, float) and not math.isfinite(stamp):
        raise Bad("'timestamp' is out of range (not a finite number)")
    if stamp < 0:
        raise Bad(f"'timestamp' is negative: {_number(stamp)} (ms from the trace's start)")
    if stamp > MAX_TIMESTAMP_MS:
        raise Bad(f"'timestamp' is out of range: {_number(stamp)} (max {MAX_TIMESTAMP_MS:.0e}"
                  f" ms, {MAX_SPAN_S:.0e} s)")
    return float(stamp)


def _number(value: float) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _json_int(obj: dict, key: str) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise Bad(f"{key!r} must be an integer, got {show(json.dumps(value))}")
    return value


def _prefix_id(blocks: object, tokens_in: int, prefix_blocks: int) -> int:
    """The id of block min(prefix_blocks, len) − 1 of a list of at most ceil(tokens / 512)
    block ids (each 0 to MAX_ID); −1 for none."""
    if not isinstance(blocks, list) or not all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= MAX_ID for b in blocks
    ):
        raise Bad("'hash_ids' must be a list of integers from 0 to 2^63 − 1")
    most = -(-tokens_in // BLOCK_TOKENS)
    if len(blocks) > most:
        raise Bad(f"'hash_ids' has {len(blocks)} ids, more than the {most} blocks of "
                  f"{BLOCK_TOKENS} tokens in input_length {tokens_in}")
    return blocks[min(prefix_blocks, len(blocks)) - 1] if blocks else -1
