"""Trace fields: parsers that return a value within its bound or raise Bad naming the problem,
the order and span check of a trace's times, kind names, and the columns rows go into."""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

import numpy as np

from simscale.workload.traces.bounds import (
    AZURE_RANGE,
    MAX_ID,
    MAX_KIND_CHARS,
    MAX_KINDS,
    MAX_SPAN_S,
    MAX_TIME_S,
    MAX_TRACE_TOKENS,
)
from simscale.workload.traces.problems import Bad, show

CHUNK = 65_536
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_INT64_MAX = 2**63 - 1

TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
)
INTEGER = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def out_of_range(name: str, value: object, limits: str) -> Bad:
    return Bad(f"{name} is out of range: {value} ({limits})")


class Clock:
    """Exact nanoseconds since 1970-01-01 from ISO date-times, with the day number cached."""

    def __init__(self) -> None:
        self._days: dict[str, int] = {}

    def ns(self, text: str) -> int:
        """Nanoseconds since the Unix epoch, 0 to 2^63 − 1 (1970-01-01 to 2262-04-11)."""
        match = TIMESTAMP.fullmatch(text.strip())
        if match is None:
            raise Bad(f"bad TIMESTAMP {show(text)} (expected YYYY-MM-DD HH:MM:SS.fffffff)")
        year, month, day, hour, minute, second, frac = match.groups()
        ymd = text.strip()[:10]
        days = self._days.get(ymd)
        if days is None:
            try:
                days = date(int(year), int(month), int(day)).toordinal()
            except ValueError:
                raise Bad(f"bad TIMESTAMP {show(text)} (no such date)") from None
            self._days[ymd] = days
        h, m, s = int(hour), int(minute), int(second)
        if h > 23 or m > 59 or s > 59:
            raise Bad(f"bad TIMESTAMP {show(text)} (no such time of day)")
        nanos = int(frac.ljust(9, "0")) if frac else 0
        ns = ((days - _EPOCH_DAY) * 86_400 + h * 3600 + m * 60 + s) * 1_000_000_000 + nanos
        if not 0 <= ns <= _INT64_MAX:
            first, last = AZURE_RANGE
            raise Bad(f"TIMESTAMP {show(text.strip())} is out of range ({first} to {last})")
        return ns


def _integer(text: str, name: str) -> int:
    text = text.strip()
    if not INTEGER.fullmatch(text):
        raise Bad(f"{name} is not an integer: {show(text)}")
    if len(text.lstrip("+-").lstrip("0")) > 19:  # int() of a long digit string is slow
        raise out_of_range(name, show(text), "more than 19 digits")
    return int(text)


def token_count(text: str, name: str) -> int:
    """A token count: an integer from 0 to MAX_TRACE_TOKENS."""
    return check_tokens(_integer(text, name), name)


def check_tokens(value: int, name: str) -> int:
    if value < 0:
        raise Bad(f"{name} is negative: {value}")
    if value > MAX_TRACE_TOKENS:
        raise out_of_range(name, value, f"max {MAX_TRACE_TOKENS:,}")
    return value


def int_id(text: str, name: str) -> int:
    """An id: a 64-bit signed integer."""
    value = _integer(text, name)
    if not -MAX_ID - 1 <= value <= MAX_ID:
        raise out_of_range(name, show(text), "a 64-bit integer")
    return value


def seconds(text: str, name: str) -> float:
    """A time in seconds: a decimal number with |value| <= MAX_TIME_S."""
    text = text.strip()
    if not DECIMAL.fullmatch(text):
        raise Bad(f"{name} is not a number: {show(text)}")
    value = float(text)
    if not (math.isfinite(value) and abs(value) <= MAX_TIME_S):
        raise out_of_range(name, show(text), f"|{name}| at most {MAX_TIME_S:.0e} s")
    return value


class Kinds:
    """Kind names: stripped, non-empty, printable, at most MAX_KIND_CHARS characters and
    MAX_KINDS distinct ones; each distinct name is one str object (rows share it). Only
    the stripped names are remembered, so the table never holds more than MAX_KINDS."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        name = self.names.get(text)
        if name is not None:
            return name
        name = text.strip()
        if not name:
            raise Bad("kind is empty")
        if len(name) > MAX_KIND_CHARS:
            raise Bad(f"kind is longer than {MAX_KIND_CHARS} characters: {show(name)}")
        if not name.isprintable():
            raise Bad(f"kind has a control character: {show(name)}")
        known = self.names.get(name)
        if known is None:
            if len(self.names) >= MAX_KINDS:
                raise Bad(f"kind {show(name)} is one more than the {MAX_KINDS} distinct kinds "
                          "a trace may have")
            known = self.names[name] = name
        return known


class Times:
    """Checks that times never go back and stay within MAX_SPAN_S of the first accepted one.

    `per_s` is the times' units per second (1e9 for nanoseconds, 1e3 for milliseconds).
    """

    def __init__(self, per_s: float = 1.0) -> None:
        self.span = MAX_SPAN_S * per_s
        self.per_s = per_s
        self.first: float | int | None = None
        self.first_at = ""
        self.latest: float | int | None = None
        self.latest_at = ""

    def check(self, value: float | int, shown: str) -> None:
        if self.latest is not None and value < self.latest:
            raise Bad(f"{shown} is earlier than the time at {self.latest_at} (trace not sorted)")
        if self.first is not None and value - self.first > self.span:
            gap_s = (value - self.first) / self.per_s
            raise Bad(f"{shown} is {gap_s:.3g} s after the first row ({self.first_at}): a "
                      f"trace spans at most {MAX_SPAN_S:.0e} s")

    def accept(self, value: float | int, where: str) -> None:
        if self.first is None:
            self.first, self.first_at = value, where
        if self.latest is None or value >= self.latest:
            self.latest, self.latest_at = value, where


class Columns:
    """Typed columns that grow by rows (Python values, packed into numpy every CHUNK rows) or
    by numpy blocks, so that a large trace never sits in Python lists."""

    def __init__(self, dtypes: dict[str, Any]) -> None:
        self.dtypes = dtypes
        self._rows: dict[str, list] = {name: [] for name in dtypes}
        self._blocks: dict[str, list[np.ndarray]] = {name: [] for name in dtypes}
        self.count = 0

    def append(self, row: dict[str, Any]) -> None:
        for name, value in row.items():
            self._rows[name].append(value)
        self.count += 1
        if len(self._rows[next(iter(self.dtypes))]) >= CHUNK:
            self._pack()

    def extend(self, block: dict[str, np.ndarray]) -> None:
        self._pack()
        for name, values in block.items():
            self._blocks[name].append(np.asarray(values, dtype=self.dtypes[name]))
        self.count += len(next(iter(block.values())))

    def _pack(self) -> None:
        for name, values in self._rows.items():
            if values:
                column = np.empty(len(values), dtype=self.dtypes[name])
                column[:] = values
                self._blocks[name].append(column)
                values.clear()

    def arrays(self) -> dict[str, np.ndarray]:
        """Each column as one array (the blocks are released as they are joined)."""
        self._pack()
        out = {}
        for name, blocks in self._blocks.items():
            out[name] = np.concatenate(blocks) if len(blocks) != 1 else blocks[0]
            blocks.clear()
        return out
