"""The CSV trace formats, read block by block: Azure LLM inference (2023/2024) and generic."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import chain
from typing import Any

import numpy as np

from simscale.errors import InputError
from simscale.workload.traces import fast_blocks, fields
from simscale.workload.traces.problems import MAX_PROBLEMS, Bad, Problems, show
from simscale.workload.traces.source import AZURE_COLUMNS, Source, decode, lines_of
from simscale.workload.traces.trace import Trace

GENERIC_COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens", "kind", "user_id", "session_id")
GENERIC_DTYPES = {"arrival_s": np.float64, "kind": object}
AZURE_DTYPES = {"ns": np.int64, "prompt": np.int64, "output": np.int64}

Lines = Iterator[tuple[int, str]]


def csv_records(lines: Lines, problems: Problems) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each non-blank CSV record; malformed records are problems.
    The number is that of the record's last line."""
    where = [0]

    def pieces() -> Iterator[str]:
        for line, piece in lines:
            where[0] = line
            yield piece

    reader = csv.reader(pieces(), strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.row(str(where[0]), f"malformed CSV ({exc})")
            continue
        if record and any(field.strip() for field in record):
            yield where[0], record


def header(
    records: Iterator[tuple[int, list[str]]],
    problems: Problems,
    allowed: tuple[str, ...],
    required: tuple[str, ...],
) -> dict[str, int]:
    """Column name → index from the header record; unknown, duplicate or missing are fatal."""
    try:
        line, names = next(records)
    except StopIteration:
        raise problems.fatal("empty file") from None
    names = [name.strip() for name in names]
    where = f"{problems.source}:{line}"
    bad = [
        f"{where}: unknown column {show(n)} (allowed: {', '.join(allowed)})"
        for n in names
        if n not in allowed
    ]
    bad += [f"{where}: column {n!r} appears twice" for n in set(names) if names.count(n) > 1]
    bad += [f"{where}: missing column {n!r}" for n in required if n not in names]
    if bad:
        raise InputError([*problems.lines, *bad[:MAX_PROBLEMS]])
    return {name: i for i, name in enumerate(names)}


# ---------------------------------------------------------------- Azure


def read_azure(source: Source, problems: Problems) -> Trace:
    """Clean blocks in the standard layout are parsed vectorised; from the first block that
    needs a closer look (or a non-standard header), row by row, to name each problem."""
    columns = fields.Columns(AZURE_DTYPES)
    times = fields.Times(per_s=1e9)
    blocks = source.blocks()
    for first, data in blocks:
        if first == 1:
            head, _, body = data.partition(b"\n")
            if head.rstrip(b"\r") != _AZURE_HEADER:  # another column order: row by row
                rest = lines_of(decode(chain([(1, data)], blocks), problems))
                _azure_rows(rest, problems, columns, times)
                break
            first, data = 2, body
        if not fast_blocks.azure_block(data, first, columns, times):
            rest = lines_of(decode(chain([(first, data)], blocks), problems))
            _azure_rows(rest, problems, columns, times, _AZURE_INDEX)
            break
    problems.check()
    if not columns.count:
        raise problems.no_rows()
    out = columns.arrays()
    ns = out["ns"]
    first_ns = int(ns[0])
    return Trace(
        arrival_s=(ns - first_ns) / 1e9,
        prompt_tokens=out["prompt"],
        output_tokens=out["output"],
        source=problems.source,
        skipped_rows=problems.skipped,
        origin=np.datetime64(first_ns, "ns"),
    )


_AZURE_HEADER = ",".join(AZURE_COLUMNS).encode()
_AZURE_INDEX = {name: i for i, name in enumerate(AZURE_COLUMNS)}


def _azure_rows(
    lines: Lines,
    problems: Problems,
    columns: fields.Columns,
    times: fields.Times,
    index: dict[str, int] | None = None,
) -> None:
    records = csv_records(lines, problems)
    if index is None:
        index = header(records, problems, AZURE_COLUMNS, AZURE_COLUMNS)
    i_ts, i_in, i_out = (index[n] for n in AZURE_COLUMNS)
    width = len(index)
    clock = fields.Clock()
    for line, record in records:
        try:
            if len(record) != width:
                raise Bad(f"expected {width} fields, got {len(record)}")
            ns = clock.ns(record[i_ts])
            ctx = fields.token_count(record[i_in], "ContextTokens")
            gen = fields.token_count(record[i_out], "GeneratedTokens")
            times.check(ns, f"TIMESTAMP {record[i_ts].strip()}")
        except Bad as exc:
            problems.row(str(line), str(exc))
            continue
        times.accept(ns, f"line {line}")
        columns.append({"ns": ns, "prompt": ctx, "output": gen})


# ---------------------------------------------------------------- generic CSV


def read_generic_csv(source: Source, problems: Problems) -> Trace:
    """Clean blocks are parsed vectorised; from the first block that needs a closer look,
    row by row, to name each problem."""
    blocks = source.blocks()
    _, data = next(blocks)
    head, _, body = data.partition(b"\n")
    if not head.strip() or b'"' in head:  # the header needs the CSV reader
        records = csv_records(lines_of(decode(chain([(1, data)], blocks), problems)), problems)
        rows = _GenericRows(header(records, problems, GENERIC_COLUMNS, ("arrival_s",)), problems)
        rows.read(records)
        return rows.trace()
    head_line = lines_of(decode(iter([(1, head + b"\n")]), problems))
    index = header(csv_records(head_line, problems), problems, GENERIC_COLUMNS, ("arrival_s",))
    rows = _GenericRows(index, problems)
    for first, block in chain([(2, body)], blocks):
        if not fast_blocks.generic_block(block, first, list(index), rows.columns, rows.times,
                                         rows.kinds):
            rest = lines_of(decode(chain([(first, block)], blocks), problems))
            rows.read(csv_records(rest, problems))
            break
    return rows.trace()


class _GenericRows:
    """The generic CSV row by row: each value parsed and checked, bad rows named."""

    def __init__(self, index: dict[str, int], problems: Problems) -> None:
        self.index = index
        self.problems = problems
        self.columns = fields.Columns({name: GENERIC_DTYPES.get(name, np.int64)
                                       for name in index})
        self.times = fields.Times()
        self.kinds = fields.Kinds()

    def read(self, records: Iterator[tuple[int, list[str]]]) -> None:
        index, width = self.index, len(self.index)
        for line, record in records:
            try:
                if len(record) != width:
                    raise Bad(f"expected {width} fields, got {len(record)}")
                row = {name: _generic_value(name, record[i], self.kinds)
                       for name, i in index.items()}
                shown = f"arrival_s {record[index['arrival_s']].strip()}"
                self.times.check(row["arrival_s"], shown)
            except Bad as exc:
                self.problems.row(str(line), str(exc))
                continue
            self.times.accept(row["arrival_s"], f"line {line}")
            self.columns.append(row)

    def trace(self) -> Trace:
        self.problems.check()
        if not self.columns.count:
            raise self.problems.no_rows()
        return generic_trace(self.columns.arrays(), self.problems)


def _generic_value(name: str, text: str, kinds: fields.Kinds) -> Any:
    if name == "arrival_s":
        return fields.seconds(text, name)
    if name == "kind":
        return kinds(text)
    if name.endswith("_tokens"):
        return fields.token_count(text, name)
    return fields.int_id(text, name)


def generic_trace(values: dict[str, np.ndarray], problems: Problems) -> Trace:
    """A Trace from checked generic columns (arrival_s in any origin)."""
    times = values["arrival_s"]
    return Trace(
        arrival_s=times - times[0],
        prompt_tokens=values.get("prompt_tokens"),
        output_tokens=values.get("output_tokens"),
        kind=values.get("kind"),
        user_id=values.get("user_id"),
        session_id=values.get("session_id"),
        source=problems.source,
        skipped_rows=problems.skipped,
    )
