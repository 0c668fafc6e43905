"""Request traces: read real LLM-serving traces into arrays, and replay them over a horizon.

Formats (`read_trace(path, format=...)`; "auto" detects by extension, then by content):

- "azure": Azure LLM inference trace 2023 (Splitwise; also the 2024 week-long release), CSV
  with header `TIMESTAMP,ContextTokens,GeneratedTokens`. TIMESTAMP is an absolute wall-clock
  time such as `2023-11-16 18:17:03.9799600` (up to 9 fractional digits, no time zone); it is
  parsed exactly to the nanosecond with integer arithmetic, and arrival_s is the offset from
  the first row. Column order is free; CRLF or LF line endings; a final newline is optional.
- "mooncake": Mooncake FAST'25 JSONL, one object per line with `timestamp` (ms from the start
  of the trace), `input_length`, `output_length` and optional `hash_ids` (ids of 512-token
  prompt blocks; each id names the whole prefix up to and including its block). Other keys
  are ignored. From hash_ids only `prefix_id` is kept: the id of block
  min(prefix_blocks, len) − 1, so two requests share a prefix_id exactly when they share
  their first `prefix_blocks` blocks (all of them for shorter prompts) — a key for prefix
  (KV-cache) affinity. The default of 2 blocks is chosen because in the conversation trace
  block 0 is the same for every request (a common system prompt) and the second block tells
  conversations apart; -1 means the row had no hash_ids.
- "csv": the generic format: a header row, then one request per row. Columns:
  `arrival_s` (required; seconds, any origin, non-decreasing), and optionally
  `prompt_tokens`, `output_tokens` (integers >= 0), `kind` (non-empty text), `user_id`,
  `session_id` (64-bit integers). Other column names are errors (a typo should not silently
  drop a column). Standard CSV quoting applies.
- "parquet": the same columns as the generic CSV, in a Parquet file (integer columns of any
  integer type; arrival_s integer or floating; kind a string column; no nulls).

A `.gz` suffix (or gzip magic bytes) is decompressed first. Bad input raises InputError with
one `file:line: problem` line per problem (`file: row N: problem` for Parquet), stopping after
MAX_PROBLEMS. With lenient=True, bad rows are skipped and counted in `Trace.skipped_rows`
instead; problems with the file as a whole (missing, empty, unknown columns, no valid rows)
are still errors. A row whose time is earlier than an earlier row's is a bad row (traces
must be sorted).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import numpy as np

from simscale.errors import InputError

CHUNK = 65_536
MAX_PROBLEMS = 10
MOONCAKE_BLOCK_TOKENS = 512

TraceFormat = Literal["auto", "azure", "mooncake", "csv", "parquet"]
FORMATS: tuple[str, ...] = ("auto", "azure", "mooncake", "csv", "parquet")

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
GENERIC_COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens", "kind", "user_id", "session_id")
_INT64_MAX = 2**63 - 1
_EPOCH_DAY = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, eq=False)
class Trace:
    """A request trace as columns; row i is the i-th request in arrival order.

    arrival_s: float64 seconds from the first arrival (so arrival_s[0] == 0), non-decreasing.
    prompt_tokens, output_tokens: int64 >= 0, or None when the trace does not give them (a
    generic trace without those columns; draw sizes from a distribution instead).
    kind: object array of str, or None. user_id, session_id, prefix_id: int64, or None.
    origin: the absolute time of the first arrival when the trace gives wall-clock times
    (Azure), else None. source: the file read. skipped_rows: bad rows dropped (lenient).
    """

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray | None
    output_tokens: np.ndarray | None
    kind: np.ndarray | None = None
    user_id: np.ndarray | None = None
    session_id: np.ndarray | None = None
    prefix_id: np.ndarray | None = None
    source: str = ""
    skipped_rows: int = 0
    origin: np.datetime64 | None = None

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        for name in (
            "prompt_tokens",
            "output_tokens",
            "kind",
            "user_id",
            "session_id",
            "prefix_id",
        ):
            column = getattr(self, name)
            if column is not None and len(column) != n:
                raise ValueError(f"{name} has {len(column)} rows, arrival_s has {n}")
        if n and np.any(np.diff(self.arrival_s) < 0):
            raise ValueError("arrival_s must be non-decreasing")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last arrival."""
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) else 0.0

    @property
    def mean_rate_rps(self) -> float:
        """(n − 1) / duration: the mean arrival rate over the trace (0 if undefined)."""
        return (len(self) - 1) / self.duration_s if self.duration_s > 0 else 0.0


# ---------------------------------------------------------------- problems


class _Problems:
    """Collects per-row problems (strict) or counts skipped rows (lenient)."""

    def __init__(self, source: str, lenient: bool) -> None:
        self.source = source
        self.lenient = lenient
        self.lines: list[str] = []
        self.skipped = 0

    def row(self, where: str, problem: str) -> None:
        """A bad row at `where` ("12" for a line, " row 12" for a Parquet row)."""
        if self.lenient:
            self.skipped += 1
            return
        self.lines.append(f"{self.source}:{where}: {problem}")
        if len(self.lines) >= MAX_PROBLEMS:
            raise InputError([*self.lines, f"{self.source}: stopped after {MAX_PROBLEMS} problems"])

    def fatal(self, problem: str) -> InputError:
        return InputError([*self.lines, f"{self.source}: {problem}"])

    def check(self) -> None:
        if self.lines:
            raise InputError(self.lines)

    def no_rows(self) -> InputError:
        extra = f" ({self.skipped} bad rows skipped)" if self.skipped else ""
        return self.fatal(f"no data rows{extra}")


class _Bad(Exception):
    """A problem with one row; the message is the problem."""


def _show(value: str, limit: int = 40) -> str:
    """A value quoted for a one-line message, cut to `limit` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


# ---------------------------------------------------------------- reading


def read_trace(
    path: str | Path,
    format: TraceFormat = "auto",
    *,
    lenient: bool = False,
    kind: str | None = None,
    prefix_blocks: int = 2,
) -> Trace:
    """Read a trace file (see the module docstring for the formats).

    kind: a label given to every row when the file has no kind column (e.g. "code" for the
    Azure code trace). prefix_blocks: how many leading Mooncake blocks make `prefix_id`.
    Raises InputError for a missing, unreadable or bad file.
    """
    source = str(path)
    if format not in FORMATS:
        raise InputError(f"{source}: unknown trace format {format!r} (one of {', '.join(FORMATS)})")
    if prefix_blocks < 1:
        raise ValueError(f"prefix_blocks must be >= 1, got {prefix_blocks}")
    problems = _Problems(source, lenient)
    data = _read_bytes(Path(path), problems)
    fmt = _detect(Path(path), data, problems) if format == "auto" else format
    if fmt == "parquet":
        trace = _read_parquet(data, problems)
    else:
        text = _decode(data, problems)
        if fmt == "azure":
            trace = _read_azure(text, problems)
        elif fmt == "mooncake":
            trace = _read_mooncake(text, problems, prefix_blocks)
        else:
            trace = _read_generic_csv(text, problems)
    if kind is not None and trace.kind is None:
        labels = np.empty(len(trace), dtype=object)
        labels[:] = kind
        trace = _replace(trace, kind=labels)
    return trace


def _replace(trace: Trace, **changes: Any) -> Trace:
    fields = {name: getattr(trace, name) for name in Trace.__dataclass_fields__}
    fields.update(changes)
    return Trace(**fields)


def _read_bytes(path: Path, problems: _Problems) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise problems.fatal("no such file") from None
    except IsADirectoryError:
        raise problems.fatal("is a directory, not a trace file") from None
    except OSError as exc:
        raise problems.fatal(f"cannot read ({exc.strerror or exc})") from None
    if path.suffix.lower() == ".gz" or data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise problems.fatal(f"not a valid gzip file ({exc})") from None
    if not data.strip():
        raise problems.fatal("empty file")
    return data


def _detect(path: Path, data: bytes, problems: _Problems) -> str:
    """The format from the extension, else from the first bytes."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    ext = suffixes[-1] if suffixes else ""
    if ext in (".parquet", ".pq") or (ext != ".csv" and data[:4] == b"PAR1"):
        return "parquet"
    if ext in (".jsonl", ".ndjson", ".json") or (ext != ".csv" and data.lstrip()[:1] == b"{"):
        return "mooncake"
    first = data.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
    names = {name.strip() for name in first.strip().split(",")}
    if set(AZURE_COLUMNS) <= names:
        return "azure"
    if "arrival_s" in names:
        return "csv"
    raise problems.fatal(
        f"cannot tell the trace format from the header {_show(first.strip())}: expected Azure "
        f"({','.join(AZURE_COLUMNS)}) or generic CSV (arrival_s,...), or pass a format"
    )


def _decode(data: bytes, problems: _Problems) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if problems.lenient:
            return data.decode("utf-8-sig", errors="replace")
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"{problems.source}:{line}: not UTF-8 text") from None


# ---------------------------------------------------------------- CSV formats


def _csv_records(text: str, problems: _Problems) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) for each non-blank CSV record; malformed records are problems."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.row(str(reader.line_num), f"malformed CSV ({exc})")
            continue
        if record and any(field.strip() for field in record):
            yield reader.line_num, record


def _header(
    records: Iterator[tuple[int, list[str]]],
    problems: _Problems,
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
        f"{where}: unknown column {_show(n)} (allowed: {', '.join(allowed)})"
        for n in names
        if n not in allowed
    ]
    bad += [f"{where}: column {n!r} appears twice" for n in set(names) if names.count(n) > 1]
    bad += [f"{where}: missing column {n!r}" for n in required if n not in names]
    if bad:
        raise InputError([*problems.lines, *bad[:MAX_PROBLEMS]])
    return {name: i for i, name in enumerate(names)}


_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class _Clock:
    """Exact nanoseconds since 1970-01-01 from ISO date-times, with the day number cached."""

    def __init__(self) -> None:
        self._days: dict[str, int] = {}

    def ns(self, text: str) -> int:
        match = _TIMESTAMP.fullmatch(text.strip())
        if match is None:
            raise _Bad(f"bad TIMESTAMP {_show(text)} (expected YYYY-MM-DD HH:MM:SS.fffffff)")
        year, month, day, hour, minute, second, frac = match.groups()
        ymd = text.strip()[:10]
        days = self._days.get(ymd)
        if days is None:
            try:
                days = date(int(year), int(month), int(day)).toordinal()
            except ValueError:
                raise _Bad(f"bad TIMESTAMP {_show(text)} (no such date)") from None
            self._days[ymd] = days
        h, m, s = int(hour), int(minute), int(second)
        if h > 23 or m > 59 or s > 59:
            raise _Bad(f"bad TIMESTAMP {_show(text)} (no such time of day)")
        nanos = int(frac.ljust(9, "0")) if frac else 0
        ns = ((days - _EPOCH_DAY) * 86_400 + h * 3600 + m * 60 + s) * 1_000_000_000 + nanos
        if not -_INT64_MAX <= ns <= _INT64_MAX:
            raise _Bad(f"TIMESTAMP {_show(text)} is out of range (years 1678 to 2262)")
        return ns


def _int_field(text: str, name: str, *, non_negative: bool) -> int:
    text = text.strip()
    if not _INTEGER.fullmatch(text):
        raise _Bad(f"{name} is not an integer: {_show(text)}")
    value = int(text)
    if non_negative and value < 0:
        raise _Bad(f"{name} is negative: {value}")
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise _Bad(f"{name} is out of range: {_show(text)}")
    return value


def _float_field(text: str, name: str) -> float:
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        raise _Bad(f"{name} is not a number: {_show(text)}")
    value = float(text)
    if not math.isfinite(value):
        raise _Bad(f"{name} is out of range: {_show(text)}")
    return value


class _Order:
    """Checks that times never go back; remembers the line of the latest time so far."""

    def __init__(self) -> None:
        self.latest: float | int | None = None
        self.latest_at = ""

    def check(self, value: float | int, shown: str) -> None:
        if self.latest is not None and value < self.latest:
            raise _Bad(f"{shown} is earlier than the time at {self.latest_at} (trace not sorted)")

    def accept(self, value: float | int, where: str) -> None:
        if self.latest is None or value >= self.latest:
            self.latest, self.latest_at = value, where


def _read_azure(text: str, problems: _Problems) -> Trace:
    """Vectorised when every row is clean; otherwise row by row, to name each problem."""
    fast = _azure_fast(text)
    if fast is not None:
        return _azure_trace(*fast, problems)
    return _read_azure_rows(text, problems)


_AZURE_HEADER = ",".join(AZURE_COLUMNS)
_AZURE_ROW = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r",([0-9]{1,18}),([0-9]{1,18})\r?$",
    re.MULTILINE,
)


def _azure_fast(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(ns since 1970, prompt, output) if the file is in the standard layout and every row
    is clean and in order; None if anything needs a closer look."""
    header, _, body = text.partition("\n")
    if header.rstrip("\r") != _AZURE_HEADER:
        return None
    body = body.rstrip("\r\n")
    rows = _AZURE_ROW.findall(body)
    if not rows or len(rows) != body.count("\n") + 1:
        return None  # a blank or non-matching line
    day, hour, minute, second, frac, prompt, output = (np.array(c) for c in zip(*rows, strict=True))
    days_of, where = np.unique(day, return_inverse=True)
    try:
        ordinals = np.array([date.fromisoformat(d).toordinal() for d in days_of.tolist()])
    except ValueError:
        return None
    h, m, sec = hour.astype(np.int64), minute.astype(np.int64), second.astype(np.int64)
    if h.max() > 23 or m.max() > 59 or sec.max() > 59:
        return None
    if not (-106_000 < ordinals.min() - _EPOCH_DAY and ordinals.max() - _EPOCH_DAY < 106_000):
        return None  # beyond what int64 nanoseconds hold
    nanos = np.strings.ljust(frac, 9, "0").astype(np.int64)
    seconds = (ordinals[where] - _EPOCH_DAY) * 86_400 + h * 3600 + m * 60 + sec
    ns = seconds * 1_000_000_000 + nanos
    if np.any(np.diff(ns) < 0):
        return None
    return ns, prompt.astype(np.int64), output.astype(np.int64)


def _azure_trace(
    ns: np.ndarray, prompt: np.ndarray, output: np.ndarray, problems: _Problems
) -> Trace:
    first = int(ns[0])
    return Trace(
        arrival_s=(ns - first) / 1e9,
        prompt_tokens=prompt,
        output_tokens=output,
        source=problems.source,
        skipped_rows=problems.skipped,
        origin=np.datetime64(first, "ns"),
    )


def _read_azure_rows(text: str, problems: _Problems) -> Trace:
    records = _csv_records(text, problems)
    columns = _header(records, problems, AZURE_COLUMNS, AZURE_COLUMNS)
    i_ts, i_in, i_out = (columns[n] for n in AZURE_COLUMNS)
    width = len(columns)
    clock, order = _Clock(), _Order()
    stamps: list[int] = []
    prompt: list[int] = []
    output: list[int] = []
    for line, record in records:
        where = str(line)
        try:
            if len(record) != width:
                raise _Bad(f"expected {width} fields, got {len(record)}")
            ns = clock.ns(record[i_ts])
            ctx = _int_field(record[i_in], "ContextTokens", non_negative=True)
            gen = _int_field(record[i_out], "GeneratedTokens", non_negative=True)
            order.check(ns, f"TIMESTAMP {record[i_ts].strip()}")
        except _Bad as exc:
            problems.row(where, str(exc))
            continue
        order.accept(ns, f"line {line}")
        stamps.append(ns)
        prompt.append(ctx)
        output.append(gen)
    problems.check()
    if not stamps:
        raise problems.no_rows()
    return _azure_trace(
        np.array(stamps, dtype=np.int64),
        np.array(prompt, dtype=np.int64),
        np.array(output, dtype=np.int64),
        problems,
    )


def _read_generic_csv(text: str, problems: _Problems) -> Trace:
    records = _csv_records(text, problems)
    columns = _header(records, problems, GENERIC_COLUMNS, ("arrival_s",))
    width = len(columns)
    values: dict[str, list[Any]] = {name: [] for name in columns}
    order = _Order()
    for line, record in records:
        where = str(line)
        try:
            if len(record) != width:
                raise _Bad(f"expected {width} fields, got {len(record)}")
            row = {name: _generic_value(name, record[i]) for name, i in columns.items()}
            order.check(row["arrival_s"], f"arrival_s {record[columns['arrival_s']].strip()}")
        except _Bad as exc:
            problems.row(where, str(exc))
            continue
        order.accept(row["arrival_s"], f"line {line}")
        for name, value in row.items():
            values[name].append(value)
    problems.check()
    if not values["arrival_s"]:
        raise problems.no_rows()
    return _generic_trace(values, problems)


def _generic_value(name: str, text: str) -> Any:
    if name == "arrival_s":
        return _float_field(text, name)
    if name == "kind":
        if not text.strip():
            raise _Bad("kind is empty")
        return text.strip()
    return _int_field(text, name, non_negative=name.endswith("_tokens"))


def _generic_trace(values: dict[str, Any], problems: _Problems) -> Trace:
    times = np.asarray(values["arrival_s"], dtype=np.float64)
    if not math.isfinite(float(times[-1]) - float(times[0])):
        raise problems.fatal("arrival_s spans too wide a range to measure in seconds")

    def ints(name: str) -> np.ndarray | None:
        return np.asarray(values[name], dtype=np.int64) if name in values else None

    kind = None
    if "kind" in values:
        kind = np.empty(len(times), dtype=object)
        kind[:] = list(values["kind"])
    return Trace(
        arrival_s=times - times[0],
        prompt_tokens=ints("prompt_tokens"),
        output_tokens=ints("output_tokens"),
        kind=kind,
        user_id=ints("user_id"),
        session_id=ints("session_id"),
        source=problems.source,
        skipped_rows=problems.skipped,
    )


# ---------------------------------------------------------------- Mooncake JSONL


def _json_int(obj: dict, key: str, *, non_negative: bool) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{key!r} must be an integer, got {_show(json.dumps(value))}")
    if non_negative and value < 0:
        raise _Bad(f"{key!r} is negative: {value}")
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise _Bad(f"{key!r} is out of range")
    return value


def _read_mooncake(text: str, problems: _Problems, prefix_blocks: int) -> Trace:
    stamps: list[float] = []
    prompt: list[int] = []
    output: list[int] = []
    prefix: list[int] = []
    order = _Order()
    for line_no, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        where = str(line_no)
        try:
            row = _mooncake_row(line, prefix_blocks)
            order.check(row[0], f"timestamp {row[0]:g}")
        except _Bad as exc:
            problems.row(where, str(exc))
            continue
        order.accept(row[0], f"line {line_no}")
        stamps.append(row[0])
        prompt.append(row[1])
        output.append(row[2])
        prefix.append(row[3])
    problems.check()
    if not stamps:
        raise problems.no_rows()
    ms = np.asarray(stamps, dtype=np.float64)
    return Trace(
        arrival_s=(ms - ms[0]) / 1000.0,
        prompt_tokens=np.asarray(prompt, dtype=np.int64),
        output_tokens=np.asarray(output, dtype=np.int64),
        prefix_id=np.asarray(prefix, dtype=np.int64),
        source=problems.source,
        skipped_rows=problems.skipped,
    )


def _mooncake_row(line: str, prefix_blocks: int) -> tuple[float, int, int, int]:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise _Bad(
            f"not valid JSON ({str(exc).splitlines()[0] if str(exc) else 'too deep'})"
        ) from None
    if not isinstance(obj, dict):
        raise _Bad("expected a JSON object per line")
    missing = [k for k in ("timestamp", "input_length", "output_length") if k not in obj]
    if missing:
        raise _Bad(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    stamp = obj["timestamp"]
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        raise _Bad(f"'timestamp' must be a number of ms, got {_show(json.dumps(stamp))}")
    if isinstance(stamp, int) and abs(stamp) > 2**53:
        raise _Bad("'timestamp' is out of range")
    stamp = float(stamp)
    if not math.isfinite(stamp):
        raise _Bad("'timestamp' is out of range")
    tokens_in = _json_int(obj, "input_length", non_negative=True)
    tokens_out = _json_int(obj, "output_length", non_negative=True)
    blocks = obj.get("hash_ids", [])
    if not isinstance(blocks, list) or not all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= _INT64_MAX for b in blocks
    ):
        raise _Bad("'hash_ids' must be a list of non-negative integers")
    prefix_id = blocks[min(prefix_blocks, len(blocks)) - 1] if blocks else -1
    return stamp, tokens_in, tokens_out, prefix_id


# ---------------------------------------------------------------- Parquet


def _read_parquet(data: bytes, problems: _Problems) -> Trace:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise problems.fatal(f"not a readable Parquet file ({first})") from None
    names = [str(n) for n in table.column_names]
    bad = [
        f"unknown column {_show(n)} (allowed: {', '.join(GENERIC_COLUMNS)})"
        for n in names
        if n not in GENERIC_COLUMNS
    ]
    bad += [f"column {n!r} appears twice" for n in set(names) if names.count(n) > 1]
    if "arrival_s" not in names:
        bad.append("missing column 'arrival_s'")
    for name in names:
        if name in GENERIC_COLUMNS and names.count(name) == 1:
            problem = _parquet_type_problem(name, table.column(name).type)
            if problem:
                bad.append(problem)
    if bad:
        raise InputError([f"{problems.source}: {b}" for b in bad[:MAX_PROBLEMS]])
    n = table.num_rows
    if n == 0:
        raise problems.no_rows()
    good = np.ones(n, dtype=bool)
    why: dict[int, str] = {}

    def flag(mask: np.ndarray, problem: str) -> None:
        for i in np.flatnonzero(mask & good)[:MAX_PROBLEMS]:
            why.setdefault(int(i), problem)
        good[mask] = False

    columns: dict[str, np.ndarray] = {}
    for name in names:
        column = table.column(name)
        nulls = column.is_null().to_numpy(zero_copy_only=False)
        flag(nulls, f"{name} is missing (null)")
        if name == "kind":
            values = np.empty(n, dtype=object)
            values[:] = [v.strip() if isinstance(v, str) else "" for v in column.to_pylist()]
            flag(values == "", "kind is empty")
        elif name == "arrival_s":
            values = column.fill_null(0).to_numpy().astype(np.float64)
            flag(~np.isfinite(values), "arrival_s is not finite")
        else:
            raw = column.fill_null(0).to_numpy()
            if raw.dtype == np.uint64:
                flag(raw > _INT64_MAX, f"{name} is out of range")
            values = raw.astype(np.int64)
            if name.endswith("_tokens"):
                flag(values < 0, f"{name} is negative")
        columns[name] = values
    times = columns["arrival_s"]
    ok_times = np.where(good, times, -np.inf)
    before = np.concatenate(([-np.inf], np.maximum.accumulate(ok_times)[:-1]))
    flag(times < before, "arrival_s is earlier than an earlier row's (trace not sorted)")
    if problems.lenient:
        problems.skipped = int(n - good.sum())
    else:
        for i in sorted(why):
            problems.row(f" row {i + 1}", why[i])
        problems.check()
    if not good.any():
        raise problems.no_rows()
    values = {name: col[good] for name, col in columns.items()}
    if "kind" in values:
        values["kind"] = np.asarray(values["kind"], dtype=object)
    return _generic_trace(values, problems)


def _parquet_type_problem(name: str, dtype: Any) -> str | None:
    import pyarrow as pa

    if name == "kind":
        ok = pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
        if pa.types.is_dictionary(dtype):
            ok = pa.types.is_string(dtype.value_type) or pa.types.is_large_string(dtype.value_type)
        expected = "a string"
    elif name == "arrival_s":
        ok = pa.types.is_integer(dtype) or pa.types.is_floating(dtype)
        expected = "a number"
    else:
        ok = pa.types.is_integer(dtype)
        expected = "an integer"
    return None if ok else f"column {name!r} must be {expected} column, got {dtype}"


# ---------------------------------------------------------------- replay


@dataclass(frozen=True, eq=False)
class ReplayChunk:
    """Consecutive replayed arrivals. arrival_s is simulated time (s, ascending); `row` is the
    index of the source row in the trace; `lap` counts loops (0 = first pass) and `copy`
    the superposed copy (0 = the original). Other columns are the trace's, row by row (None
    where the trace has none); copies keep the original ids.
    """

    arrival_s: np.ndarray
    row: np.ndarray
    lap: np.ndarray
    copy: np.ndarray
    prompt_tokens: np.ndarray | None
    output_tokens: np.ndarray | None
    kind: np.ndarray | None
    user_id: np.ndarray | None
    session_id: np.ndarray | None
    prefix_id: np.ndarray | None

    def __len__(self) -> int:
        return len(self.arrival_s)


def replay_period_s(trace: Trace, start_s: float = 0.0, end_s: float | None = None) -> float:
    """The trace-time length of one lap of the window [start_s, end_s).

    end_s − start_s when end_s is given; otherwise from start_s to the window's last arrival
    plus one mean inter-arrival gap (span / (n − 1)), so looping keeps the window's mean rate
    and the first arrival of a lap does not coincide with the last of the previous one.
    Raises ValueError when that is undefined (fewer than two distinct times and no end_s).
    """
    if end_s is not None:
        return end_s - start_s
    times = trace.arrival_s[np.searchsorted(trace.arrival_s, start_s, side="left") :]
    if len(times) < 2 or times[-1] == times[0]:
        raise ValueError("give end_s: the window has fewer than two distinct arrival times")
    return float(times[-1] - start_s + (times[-1] - times[0]) / (len(times) - 1))


def replay(
    trace: Trace,
    horizon_s: float,
    *,
    speed: float = 1.0,
    start_s: float = 0.0,
    end_s: float | None = None,
    loop: bool = False,
    rate_scale: float = 1.0,
    rng: np.random.Generator | None = None,
    chunk_size: int = CHUNK,
) -> Iterator[ReplayChunk]:
    """The trace's arrivals as simulated time on [0, horizon_s), in chunks.

    Window: the rows with start_s <= arrival_s < end_s (trace seconds; end_s None: to the
    end); the window's start is simulated time 0. speed: simulated time = trace time / speed
    (2.0 plays twice as fast). loop: after one lap of `replay_period_s(...)` trace seconds,
    start the window again, until the horizon; without it the replay ends with the window.

    rate_scale f: the result superposes floor(f) full copies of the window plus, when f has
    a fractional part, one more copy in which each arrival is kept independently with
    probability f − floor(f) (drawn from `rng`, fresh for every lap); f < 1 is just that
    thinned copy. Copy j is shifted later by j·g/m, where g = period / (rows in the window)
    is the mean gap and m the number of copies, and wrapped cyclically within the lap, so
    every copy has the same arrivals per lap and copies interleave rather than coincide; the
    rate's shape is kept at time scales above g.

    With speed 1, no window, no loop and f = 1, the arrivals are exactly the trace's.
    Raises ValueError for a bad option or a missing rng when f is not an integer.
    """
    for name, value in (("speed", speed), ("rate_scale", rate_scale)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0, got {value}")
    if not (math.isfinite(horizon_s) and horizon_s >= 0):
        raise ValueError(f"horizon_s must be finite and >= 0, got {horizon_s}")
    if not (math.isfinite(start_s) and start_s >= 0):
        raise ValueError(f"start_s must be finite and >= 0, got {start_s}")
    if end_s is not None and not (math.isfinite(end_s) and end_s > start_s):
        raise ValueError(f"end_s must be finite and > start_s={start_s}, got {end_s}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    full, fraction = divmod(rate_scale, 1.0)
    if fraction > 0 and rng is None:
        raise ValueError("rate_scale with a fractional part needs an rng for thinning")
    lo = int(np.searchsorted(trace.arrival_s, start_s, side="left"))
    hi = len(trace) if end_s is None else int(np.searchsorted(trace.arrival_s, end_s, side="left"))
    if hi <= lo:
        return iter(())
    copies = int(full) + (fraction > 0)
    period = replay_period_s(trace, start_s, end_s) if (loop or copies > 1) else math.inf
    return _replay_laps(
        trace, lo, hi, horizon_s, speed, start_s, loop, period, int(full), fraction, rng, chunk_size
    )


def _replay_laps(
    trace: Trace,
    lo: int,
    hi: int,
    horizon_s: float,
    speed: float,
    start_s: float,
    loop: bool,
    period: float,
    full: int,
    fraction: float,
    rng: np.random.Generator | None,
    chunk_size: int,
) -> Iterator[ReplayChunk]:
    base = trace.arrival_s[lo:hi] - start_s  # trace seconds from the window start
    rows = np.arange(lo, hi, dtype=np.int64)
    copies = full + (fraction > 0)
    gap = period / len(base)
    lap = 0
    while True:
        parts_t, parts_row, parts_copy = [], [], []
        for j in range(copies):
            keep = slice(None)
            if j == full:  # the thinned copy
                keep = rng.random(len(base)) < fraction  # type: ignore[union-attr]
            t, r = base[keep], rows[keep]
            if j:
                t = t + j * gap / copies
                wrap = int(np.searchsorted(t, period, side="left"))
                t = np.concatenate((t[wrap:] - period, t[:wrap]))
                r = np.concatenate((r[wrap:], r[:wrap]))
            parts_t.append(t)
            parts_row.append(r)
            parts_copy.append(np.full(len(t), j, dtype=np.int64))
        t = np.concatenate(parts_t) if copies > 1 else parts_t[0]
        r = np.concatenate(parts_row) if copies > 1 else parts_row[0]
        c = np.concatenate(parts_copy) if copies > 1 else parts_copy[0]
        if copies > 1:
            order = np.argsort(t, kind="stable")
            t, r, c = t[order], r[order], c[order]
        sim = (lap * period + t) / speed if lap else t / speed
        end = int(np.searchsorted(sim, horizon_s, side="left"))
        for i in range(0, end, chunk_size):
            piece = slice(i, min(i + chunk_size, end))
            yield _chunk(trace, sim[piece], r[piece], lap, c[piece])
        lap += 1
        if end < len(sim) or not loop or lap * period / speed >= horizon_s:
            return


def _chunk(
    trace: Trace, sim: np.ndarray, rows: np.ndarray, lap: int, copy: np.ndarray
) -> ReplayChunk:
    def take(column: np.ndarray | None) -> np.ndarray | None:
        return None if column is None else column[rows]

    return ReplayChunk(
        arrival_s=sim,
        row=rows,
        lap=np.full(len(rows), lap, dtype=np.int64),
        copy=copy,
        prompt_tokens=take(trace.prompt_tokens),
        output_tokens=take(trace.output_tokens),
        kind=take(trace.kind),
        user_id=take(trace.user_id),
        session_id=take(trace.session_id),
        prefix_id=take(trace.prefix_id),
    )
