"""The CSV trace formats, read block by block: Azure LLM inference (2023/2024) and generic."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date
from itertools import chain
from typing import Any

import numpy as np

from simscale.errors import InputError
from simscale.traces import fields
from simscale.traces.bounds import MAX_SPAN_S, MAX_TOKENS
from simscale.traces.problems import MAX_PROBLEMS, Bad, Problems, show
from simscale.traces.source import AZURE_COLUMNS, Source, lines_of
from simscale.traces.trace import Trace

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
    blocks = source.text_blocks()
    for first, text in blocks:
        if first == 1:
            head, _, body = text.partition("\n")
            if head.rstrip("\r") != _AZURE_HEADER:  # another column order: row by row
                _azure_rows(lines_of(chain([(1, text)], blocks)), problems, columns, times)
                break
            first, text = 2, body
        if not _azure_block(text, first, columns, times):
            rest = lines_of(chain([(first, text)], blocks))
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


_AZURE_HEADER = ",".join(AZURE_COLUMNS)
_AZURE_INDEX = {name: i for i, name in enumerate(AZURE_COLUMNS)}
_AZURE_ROW = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r",([0-9]{1,18}),([0-9]{1,18})\r?$",
    re.MULTILINE,
)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_LAST_FULL_DAY = 106_750  # days from 1970-01-01 to 2262-04-10, the last whole day in int64 ns


def _azure_block(text: str, line: int, columns: fields.Columns, times: fields.Times) -> bool:
    """Add the block's rows if every one is clean, in range and in order; False (nothing
    added) if anything needs a closer look."""
    body = text.rstrip("\r\n")
    if not body:
        return True
    rows = _AZURE_ROW.findall(body)
    if not rows or len(rows) != body.count("\n") + 1:
        return False  # a blank or non-matching line
    day, hour, minute, second, frac, prompt, output = (np.array(c) for c in zip(*rows, strict=True))
    days_of, where = np.unique(day, return_inverse=True)
    try:
        ordinals = np.array([date.fromisoformat(d).toordinal() for d in days_of.tolist()])
    except ValueError:
        return False
    days = ordinals - _EPOCH_DAY
    h, m, sec = hour.astype(np.int64), minute.astype(np.int64), second.astype(np.int64)
    if h.max() > 23 or m.max() > 59 or sec.max() > 59:
        return False
    if days.min() < 0 or days.max() > _LAST_FULL_DAY:
        return False
    nanos = np.strings.ljust(frac, 9, "0").astype(np.int64)
    ns = ((days[where] * 86_400 + h * 3600 + m * 60 + sec) * 1_000_000_000) + nanos
    prompt, output = prompt.astype(np.int64), output.astype(np.int64)
    first = ns[0] if times.first is None else times.first
    if (
        np.any(np.diff(ns) < 0)
        or (times.latest is not None and ns[0] < times.latest)
        or ns[-1] - first > MAX_SPAN_S * 1e9
        or max(prompt.max(), output.max()) > MAX_TOKENS
    ):
        return False
    columns.extend({"ns": ns, "prompt": prompt, "output": output})
    times.accept(int(ns[0]), f"line {line}")
    times.accept(int(ns[-1]), f"line {line + len(rows) - 1}")
    return True


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
    records = csv_records(source.lines(), problems)
    index = header(records, problems, GENERIC_COLUMNS, ("arrival_s",))
    width = len(index)
    columns = fields.Columns({name: GENERIC_DTYPES.get(name, np.int64) for name in index})
    times = fields.Times()
    kinds = fields.Kinds()
    for line, record in records:
        try:
            if len(record) != width:
                raise Bad(f"expected {width} fields, got {len(record)}")
            row = {name: _generic_value(name, record[i], kinds) for name, i in index.items()}
            times.check(row["arrival_s"], f"arrival_s {record[index['arrival_s']].strip()}")
        except Bad as exc:
            problems.row(str(line), str(exc))
            continue
        times.accept(row["arrival_s"], f"line {line}")
        columns.append(row)
    problems.check()
    if not columns.count:
        raise problems.no_rows()
    return generic_trace(columns.arrays(), problems)


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
