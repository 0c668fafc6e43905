"""Mutations of the text trace samples (Azure CSV, Mooncake JSONL, generic CSV): values in
cells, rows, columns and lines, raw bytes, line endings and gzip compression.

A mutation draws a sample, applies a few edits and returns the file's name and bytes; every
edit is one Hypothesis choice, so a failure shrinks to the few edits that cause it.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.fuzz import values
from tests.fuzz.samples import TextSample, text_samples

RAW = "@@RAW@@"
MOONCAKE_KEYS = ("timestamp", "input_length", "output_length", "hash_ids")


@dataclass
class Doc:
    """A text trace being edited: CSV header and cells, or JSONL lines (header None)."""

    format: str
    header: list[str] | None
    rows: list[list[str]] | list[str]
    line_end: str = "\n"
    final_newline: bool = True

    @classmethod
    def of(cls, sample: TextSample) -> Doc:
        if sample.header is None:
            return cls(sample.format, None, list(sample.rows))
        return cls(sample.format, sample.header.split(","),
                   [row.split(",") for row in sample.rows])

    def lines(self) -> list[str]:
        if self.header is None:
            return list(self.rows)
        return [",".join(self.header), *(",".join(row) for row in self.rows)]

    def data(self) -> bytes:
        text = self.line_end.join(self.lines()) + (self.line_end if self.final_newline else "")
        return text.encode("utf-8", "surrogatepass")


def _pick(draw, items, label: str):
    return draw(st.integers(0, len(items) - 1), label=label) if items else None


# ---------------------------------------------------------------- values


def set_cell(draw, doc: Doc) -> None:
    """One cell (CSV) or one key's value (JSONL) replaced by a hostile value."""
    row = _pick(draw, doc.rows, "row")
    if row is None:
        return
    if doc.header is None:
        key = draw(st.sampled_from(MOONCAKE_KEYS), label="key")
        raw = draw(values.hash_ids_text() if key == "hash_ids" else values.json_text(),
                   label="value")
        doc.rows[row] = _json_with(doc.rows[row], key, raw)
        return
    column = _pick(draw, doc.header, "column")
    name = doc.header[column] if column < len(doc.header) else ""
    strategy = values.timestamp_text() if name == "TIMESTAMP" else values.cell_text()
    cells = doc.rows[row]
    if column < len(cells):
        cells[column] = draw(strategy, label="value")


def set_column(draw, doc: Doc) -> None:
    """Every row given the same value in one column: equal times, one kind, all zero."""
    if not doc.rows:
        return
    if doc.header is None:
        key = draw(st.sampled_from(MOONCAKE_KEYS), label="key")
        raw = draw(st.one_of(st.sampled_from(["0", "5", "1e-9", "[]"]), values.json_text()))
        doc.rows[:] = [_json_with(line, key, raw) for line in doc.rows]
        return
    column = _pick(draw, doc.header, "column")
    value = draw(st.one_of(st.just(doc.rows[0][column] if column < len(doc.rows[0]) else ""),
                           values.cell_text()), label="value")
    for cells in doc.rows:
        if column < len(cells):
            cells[column] = value


def _json_with(line: str, key: str, raw: str) -> str:
    """A JSONL line with `key`'s value written as the raw text `raw` (a line that is not an
    object is left as it is)."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return line
    if not isinstance(obj, dict):
        return line
    obj[key] = RAW
    return json.dumps(obj).replace(json.dumps(RAW), raw, 1)


# ---------------------------------------------------------------- rows and lines


def edit_rows(draw, doc: Doc) -> None:
    """Rows deleted, duplicated, swapped, reversed, cut to a few, or many more added."""
    rows = doc.rows
    action = draw(st.sampled_from(["delete", "duplicate", "swap", "reverse", "keep", "many",
                                   "blank", "shuffle"]), label="rows")
    n = len(rows)
    if action == "keep":
        del rows[draw(st.integers(0, min(n, 3)), label="kept"):]
    elif action == "reverse":
        rows.reverse()
    elif action == "shuffle":
        random.Random(draw(st.integers(0, 2**16), label="order")).shuffle(rows)
    elif action == "many":  # more rows than the sample: many kinds, many ids
        extra = draw(st.sampled_from([200, 300, 5_000]), label="extra")
        rows.extend(_more_rows(doc, extra))
    elif n:
        i = draw(st.integers(0, n - 1), label="i")
        j = draw(st.integers(0, n - 1), label="j")
        if action == "delete":
            del rows[i]
        elif action == "duplicate":
            rows.insert(i, list(rows[i]) if doc.header is not None else rows[i])
        elif action == "swap":
            rows[i], rows[j] = rows[j], rows[i]
        else:
            rows.insert(i, [""] if doc.header is not None else "")


def _more_rows(doc: Doc, count: int) -> list:
    """`count` rows after the last: copies of the last row, each with a kind of its own
    (generic CSV), or the same times (Azure, Mooncake)."""
    if not doc.rows:
        return []
    last = doc.rows[-1]
    if doc.header is None:
        return [last] * count
    rows = []
    for i in range(count):
        cells = list(last)
        if "kind" in doc.header and doc.header.index("kind") < len(cells):
            cells[doc.header.index("kind")] = f"kind_{i}"
        rows.append(cells)
    return rows


def edit_columns(draw, doc: Doc) -> None:
    """A column (JSONL: a key) dropped, added, named twice, renamed or moved."""
    action = draw(st.sampled_from(["drop", "extra", "twice", "rename", "move", "header_only"]),
                  label="columns")
    if doc.header is None:
        _edit_keys(draw, doc, action)
        return
    c = _pick(draw, doc.header, "column")
    if action == "header_only":
        doc.rows.clear()
    elif action == "rename":
        doc.header[c] = draw(st.sampled_from(["", " TIMESTAMP ", "timestamp", "arrival_s",
                                              "Arrival_s", "kind", '"kind"', "x", "\ufeffx"]),
                             label="name")
    else:
        table = [doc.header, *doc.rows]
        for cells in table:
            if c >= len(cells):
                continue
            if action == "drop":
                del cells[c]
            elif action == "twice":
                cells.append(cells[c])
            elif action == "extra":
                cells.append("extra" if cells is doc.header else "1")
            else:
                cells.insert(0, cells.pop(c))


def _edit_keys(draw, doc: Doc, action: str) -> None:
    key = draw(st.sampled_from(MOONCAKE_KEYS), label="key")
    edited = []
    for line in doc.rows:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            edited.append(line)
            continue
        if not isinstance(obj, dict) or key not in obj:
            edited.append(line)
            continue
        text = json.dumps(obj)
        if action in ("drop", "header_only"):
            obj.pop(key)
            text = json.dumps(obj)
        elif action == "twice":  # a key written twice: json.loads keeps the last
            text = text[:-1] + f', "{key}": {json.dumps(obj[key])}' + "}"
        elif action in ("extra", "move"):
            obj = {"extra": [1, {"a": None}], **obj} if action == "extra" else {
                key: obj.pop(key), **obj}
            text = json.dumps(obj)
        else:
            obj[key.upper()] = obj.pop(key)
            text = json.dumps(obj)
        edited.append(text)
    doc.rows[:] = edited


LINES = ("", " ", ",", ",,,", '"', '"a', "#", "\x00", "{", "}", "[1, 2]", "5", "null", '"s"',
         "{}", '{"timestamp": 0}', "TIMESTAMP,ContextTokens,GeneratedTokens",
         "arrival_s", "arrival_s,arrival_s", "1" * (1 << 20), "x" * ((1 << 20) + 1),
         ",".join(["1"] * 10_000), "[" * 100_000)


def insert_line(draw, doc: Doc) -> None:
    """A raw line put between the rows (or at the top): blank, punctuation, JSON of the
    wrong shape, a second header, a line of 1 MiB or longer, 10,000 fields, deep nesting."""
    line = draw(st.one_of(st.sampled_from(LINES), st.text(max_size=12)), label="line")
    at = draw(st.integers(0, len(doc.rows)), label="at")
    if doc.header is None:
        doc.rows.insert(at, line)
    elif at == 0 and draw(st.booleans(), label="above header"):
        doc.header = [line, *doc.header]  # the header line itself begins with the text
    else:
        doc.rows.insert(at, [line])


def line_endings(draw, doc: Doc) -> None:
    doc.line_end = draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"]), label="line end")
    doc.final_newline = draw(st.booleans(), label="final newline")


EDITS = {"cell": set_cell, "column value": set_column, "rows": edit_rows,
         "columns": edit_columns, "line": insert_line, "line endings": line_endings}
VALUE_EDITS = ("cell", "cell", "cell", "column value")
STRUCTURE_EDITS = ("rows", "columns", "line", "line endings")


# ---------------------------------------------------------------- bytes and compression


def edit_bytes(draw, data: bytes) -> bytes:
    """A byte flipped, bytes inserted or deleted, the file cut short or given a BOM."""
    action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "bom", "empty",
                                   "spaces"]), label="bytes")
    if action == "empty":
        return b""
    if action == "spaces":
        return b" \n\t\n" * draw(st.integers(1, 3), label="times")
    if action == "bom":
        return b"\xef\xbb\xbf" + data
    at = draw(st.integers(0, len(data)), label="at")
    if action == "truncate":
        return data[:at]
    if action == "insert":
        junk = draw(st.one_of(st.binary(min_size=1, max_size=8), st.sampled_from(
            [b"\x00", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x1f\x8b",
             b"PAR1", b"\r", b'"'])), label="junk")
        return data[:at] + junk + data[at:]
    if action == "delete":
        return data[:at] + data[at + draw(st.integers(1, 64), label="length"):]
    if at == len(data):
        return data
    flipped = data[at] ^ draw(st.integers(1, 255), label="mask")
    return data[:at] + bytes([flipped]) + data[at + 1:]


# plain two times in three: damage to the data is what most examples are about
COMPRESSIONS = ("plain",) * 16 + ("gz", "gz", "gz unnamed", "gz members", "named gz",
                                   "gz damaged", "gz cut", "gz twice", "gz bomb")


def compress(draw, name: str, data: bytes) -> tuple[str, bytes]:
    """The file as it reaches the reader: plain, gzip (named .gz or not), gzip damaged, two
    gzip members, gzip twice, or a name ending .gz on plain text; or a small gzip that
    inflates to 30 MB of blank lines."""
    how = draw(st.sampled_from(COMPRESSIONS), label="compression")
    if how == "plain":
        return name, data
    if how == "named gz":
        return name + ".gz", data
    if how == "gz bomb":
        return name + ".gz", gzip.compress(data + b"\n" * 30_000_000, compresslevel=1)
    if how == "gz members":
        half = len(data) // 2
        return name + ".gz", gzip.compress(data[:half]) + gzip.compress(data[half:])
    packed = gzip.compress(data, mtime=0)
    if how == "gz twice":
        return name + ".gz", gzip.compress(packed, mtime=0)
    if how == "gz unnamed":
        return name, packed
    if how == "gz cut":
        return name + ".gz", packed[: draw(st.integers(0, len(packed) - 1), label="cut")]
    return name + ".gz", edit_bytes(draw, packed)


# ---------------------------------------------------------------- the strategies


@st.composite
def text_trace(draw, edits: tuple[str, ...]) -> tuple[str, str, bytes]:
    """(sample name, file name, file bytes): a text sample after 1–3 of `edits`, sometimes
    a byte-level edit, then compression."""
    name = draw(st.sampled_from(sorted(text_samples())), label="sample")
    sample = text_samples()[name]
    doc = Doc.of(sample)
    for edit in draw(st.lists(st.sampled_from(edits), min_size=1, max_size=3), label="edits"):
        EDITS[edit](draw, doc)
    data = doc.data()
    if draw(st.integers(0, 7), label="byte edit") == 0:
        data = edit_bytes(draw, data)
    file_name, data = compress(draw, "trace" + sample.suffix, data)
    return name, file_name, data
