"""Mutations of the generic Parquet sample: column types, values, nulls, columns, row order
and count, write options, and damage to the file's bytes."""

from __future__ import annotations

import gzip

import numpy as np
import pyarrow as pa
from hypothesis import strategies as st

from tests.fuzz.samples import generic_table, parquet_bytes
from tests.fuzz.text_mutations import edit_bytes

COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens", "kind", "user_id", "session_id")
TYPES = {
    "int8": pa.int8(), "int32": pa.int32(), "int64": pa.int64(), "uint32": pa.uint32(),
    "uint64": pa.uint64(), "float16": pa.float16(), "float32": pa.float32(),
    "float64": pa.float64(), "string": pa.string(), "large_string": pa.large_string(),
    "bool": pa.bool_(), "timestamp": pa.timestamp("ns"), "date": pa.date32(),
    "decimal": pa.decimal128(38, 3), "binary": pa.binary(), "null": pa.null(),
    "dictionary": pa.dictionary(pa.int32(), pa.string()),
}
NUMBERS = (0, -1, 1, 2**31 - 1, 2**31, 3_000_000_000, 2**53 + 1, 2**63 - 1, -(2**63),
           2**64 - 1, 1e10, 1e10 + 1, -1e10 - 1, 1e300, -1e300, 5e-324, 0.5, float("nan"),
           float("inf"), float("-inf"), None)
KIND_VALUES = ("", " ", "x" * 100, "x" * 101, "\x01", "chat_message", "load_history",
               "new_kind", "é", "\u202e", None)


def _with_column(table: pa.Table, i: int, column) -> pa.Table:
    return table.set_column(i, table.column_names[i], column)


def _reorder(table: pa.Table, order: list[int]) -> pa.Table:
    """The rows in `order` (column by column: a null-typed column has no take kernel)."""
    indices = pa.array(order, pa.int64())
    columns = [pa.nulls(len(order)) if pa.types.is_null(c.type) else c.take(indices)
               for c in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names)


def _column_index(draw, table: pa.Table) -> int | None:
    if not table.num_columns:
        return None
    return draw(st.integers(0, table.num_columns - 1), label="column")


def retype(draw, table: pa.Table) -> pa.Table:
    """A column cast to another type (values that do not fit wrap or become null)."""
    i = _column_index(draw, table)
    target = TYPES[draw(st.sampled_from(sorted(TYPES)), label="type")]
    if i is None:
        return table
    column = table.column(i)
    try:
        if pa.types.is_null(target):
            cast = pa.nulls(len(column))
        elif pa.types.is_dictionary(target):
            cast = column.cast(pa.string()).dictionary_encode()
        elif pa.types.is_timestamp(target) or pa.types.is_date(target):
            whole = column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype("int64")
            cast = pa.array(whole).cast(pa.int32() if pa.types.is_date(target) else pa.int64(),
                                        safe=False).cast(target)
        else:
            cast = column.cast(target, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return table
    return _with_column(table, i, cast)


def set_values(draw, table: pa.Table) -> pa.Table:
    """A few values of one column replaced: out of range, not finite, null, odd kinds."""
    i = _column_index(draw, table)
    if i is None or not table.num_rows:
        return table
    rows = draw(st.lists(st.integers(0, table.num_rows - 1), min_size=1, max_size=3),
                label="rows")
    try:
        values = table.column(i).to_pylist()
    except (ValueError, OverflowError, pa.ArrowException):  # e.g. beyond datetime's range
        return table
    pool = KIND_VALUES if table.column_names[i] == "kind" else NUMBERS
    for row in rows:
        values[row] = draw(st.one_of(st.sampled_from(pool), st.integers(-(2**64), 2**64),
                                     st.floats()), label="value")
    for kind in (table.schema.field(i).type, pa.float64(), pa.uint64(), pa.string()):
        try:
            return _with_column(table, i, pa.array(values, kind))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError,
                OverflowError, TypeError):
            continue
    return table


def edit_columns(draw, table: pa.Table) -> pa.Table:
    """A column dropped, named twice, renamed, moved, added, or nested."""
    action = draw(st.sampled_from(["drop", "twice", "rename", "move", "extra", "nested"]),
                  label="columns")
    names = table.column_names
    i = draw(st.integers(0, len(names) - 1), label="column") if names else 0
    if not names:
        return table
    if action == "drop":
        return table.remove_column(i)
    if action == "twice":
        return pa.Table.from_arrays([*table.columns, table.column(i)], names=[*names, names[i]])
    if action == "rename":
        new = draw(st.sampled_from(["", "Arrival_s", "arrival_s", "kind", "x", "TIMESTAMP"]),
                   label="name")
        return table.rename_columns([new if k == i else n for k, n in enumerate(names)])
    if action == "move":
        order = [i, *(k for k in range(len(names)) if k != i)]
        return table.select(order)
    if action == "extra":
        return table.append_column("extra", pa.array(range(table.num_rows), pa.int64()))
    nested = pa.StructArray.from_arrays([table.column(i).combine_chunks()], names=["v"])
    return table.set_column(i, names[i], nested)


def edit_rows(draw, table: pa.Table) -> pa.Table:
    """Rows reversed, swapped, cut to a few (or none), repeated, or given equal times."""
    action = draw(st.sampled_from(["reverse", "swap", "keep", "repeat", "same time"]),
                  label="rows")
    n = table.num_rows
    if action == "reverse":
        return _reorder(table, list(range(n - 1, -1, -1)))
    if action == "keep":
        return table.slice(0, draw(st.integers(0, min(n, 3)), label="kept"))
    if action == "repeat":
        return pa.concat_tables([table] * draw(st.sampled_from([2, 50]), label="times"))
    if action == "same time" and n:
        i = _column_index(draw, table)
        first = table.column(i)[0]
        return _with_column(table, i, pa.array([first] * n, table.column(i).type))
    if n < 2:
        return table
    i, j = draw(st.integers(0, n - 1), label="i"), draw(st.integers(0, n - 1), label="j")
    order = list(range(n))
    order[i], order[j] = order[j], order[i]
    return _reorder(table, order)


def many_kinds(draw, table: pa.Table) -> pa.Table:
    """300 rows, each of its own kind (the limit is 256)."""
    n = draw(st.sampled_from([256, 257, 300]), label="rows")
    times = np.arange(n, dtype=np.float64) * 0.01
    return pa.table({"arrival_s": times, "kind": [f"kind_{i}" for i in range(n)]})


EDITS = {"retype": retype, "values": set_values, "columns": edit_columns, "rows": edit_rows,
         "kinds": many_kinds}
WRITE_OPTIONS = (
    {}, {"row_group_size": 1}, {"compression": "none"}, {"compression": "gzip"},
    {"compression": "zstd", "use_dictionary": False}, {"version": "1.0"},
    {"data_page_size": 64, "write_statistics": False},
)


@st.composite
def parquet_trace(draw) -> tuple[str, bytes]:
    """(file name, file bytes): the generic sample after 1–3 edits, written with some write
    options, its bytes sometimes damaged or gzip-compressed."""
    table = generic_table()
    for edit in draw(st.lists(st.sampled_from(sorted(EDITS)), min_size=1, max_size=3),
                     label="edits"):
        table = EDITS[edit](draw, table)
    options = draw(st.sampled_from(WRITE_OPTIONS), label="write options")
    try:
        data = parquet_bytes(table, **options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        data = parquet_bytes(table)
    name = draw(st.sampled_from(["trace.parquet", "trace.parquet", "trace.pq", "trace"]),
                label="name")
    damage = draw(st.sampled_from(["none", "none", "none", "bytes", "gz", "gz unnamed"]),
                  label="damage")
    if damage == "bytes":
        data = edit_bytes(draw, data)
    elif damage == "gz":
        name, data = name + ".gz", gzip.compress(data, mtime=0)
    elif damage == "gz unnamed":
        data = gzip.compress(data, mtime=0)
    return name, data
