"""Clean CSV blocks parsed by pyarrow in one pass and checked column by column.

A block is taken this way only when every line is one row, no field is quoted, pyarrow
parses every value and every value is within its bound and in order; anything else returns
False, and the reader reads that block (and the rest) row by row, which names each problem.
pyarrow accepts a subset of what the row-by-row parsers accept and gives the same numbers
(correctly rounded floats, exact nanoseconds), so both ways read a clean file alike.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from simscale.workload.traces import fields
from simscale.workload.traces.bounds import MAX_TIME_S, MAX_TRACE_TOKENS
from simscale.workload.traces.problems import Bad

# 1970 to 2261 (2262 ends inside int64 nanoseconds: the row-by-row parser checks it), and a
# time of day that exists; the date itself is checked by the cast
AZURE_TIMESTAMP = (
    r"^(19[7-9][0-9]|2[01][0-9][0-9]|22[0-5][0-9]|226[01])-[0-9]{2}-[0-9]{2}[ T]"
    r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?$"
)


def parse(data: bytes, names: list[str], types: dict[str, str]) -> Any | None:
    """The block's rows as a pyarrow Table of `types` ("float64", "int64", "string"), or
    None when anything needs a closer look (see the module docstring)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if b'"' in data:
        return None
    body = data.rstrip(b"\r\n")
    lines = body.count(b"\n") + 1 if body else 0
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: getattr(pa, kind)() for name, kind in types.items()},
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != lines or any(column.null_count for column in table.columns):
        return None
    return table


def in_order(values: np.ndarray, times: fields.Times, first_line: int) -> bool:
    """Whether `values` (the block's times) never go back, also from the times before, and
    stay within the span of the first; if so, `times` takes them."""
    if not len(values):
        return True
    first = values[0] if times.first is None else times.first
    if (
        np.any(np.diff(values) < 0)
        or (times.latest is not None and values[0] < times.latest)
        or values[-1] - first > times.span
    ):
        return False
    times.accept(values[0].item(), f"line {first_line}")
    times.accept(values[-1].item(), f"line {first_line + len(values) - 1}")
    return True


def tokens_ok(*columns: np.ndarray) -> bool:
    return all(not len(c) or (c.min() >= 0 and c.max() <= MAX_TRACE_TOKENS) for c in columns)


def azure_block(data: bytes, first_line: int, columns: fields.Columns,
                times: fields.Times) -> bool:
    """Add an Azure block (standard column order, no header) if it is clean."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = parse(data, ["TIMESTAMP", "ContextTokens", "GeneratedTokens"],
                  {"TIMESTAMP": "string", "ContextTokens": "int64", "GeneratedTokens": "int64"})
    if table is None:
        return False
    if not table.num_rows:
        return True
    stamps = table["TIMESTAMP"]
    if not pc.all(pc.match_substring_regex(stamps, AZURE_TIMESTAMP)).as_py():
        return False
    try:
        ns = pc.cast(stamps, pa.timestamp("ns")).cast(pa.int64()).to_numpy()
    except pa.ArrowInvalid:  # no such date
        return False
    prompt = table["ContextTokens"].to_numpy()
    output = table["GeneratedTokens"].to_numpy()
    if not tokens_ok(prompt, output) or not in_order(ns, times, first_line):
        return False
    columns.extend({"ns": ns, "prompt": prompt, "output": output})
    return True


def generic_block(data: bytes, first_line: int, names: list[str], columns: fields.Columns,
                  times: fields.Times, kinds: fields.Kinds) -> bool:
    """Add a generic CSV block (columns `names`, no header) if it is clean."""
    types = {n: "float64" if n == "arrival_s" else "string" if n == "kind" else "int64"
             for n in names}
    table = parse(data, names, types)
    if table is None:
        return False
    if not table.num_rows:
        return True
    values = {n: table[n].to_numpy() for n in names if n != "kind"}
    arrival = values["arrival_s"]
    if not np.all(np.abs(arrival) <= MAX_TIME_S):  # also NaN and infinities
        return False
    if not tokens_ok(*(values[n] for n in names if n.endswith("_tokens"))):
        return False
    before = (times.first, times.first_at, times.latest, times.latest_at)
    if not in_order(arrival, times, first_line):
        return False
    if "kind" in names:
        kind = _kinds(table["kind"], kinds)
        if kind is None:
            times.first, times.first_at, times.latest, times.latest_at = before
            return False
        values["kind"] = kind
    columns.extend(values)
    return True


def _kinds(column: Any, kinds: fields.Kinds) -> np.ndarray | None:
    """Each row's kind name (checked once per distinct value), or None if one is bad (the
    kinds seen are then as before)."""
    encoded = column.combine_chunks().dictionary_encode()
    known = dict(kinds.names)
    try:
        names = [kinds(text) for text in encoded.dictionary.to_pylist()]
    except Bad:
        kinds.names = known
        return None
    table = np.empty(len(names), dtype=object)
    table[:] = names
    return table[encoded.indices.to_numpy()]
