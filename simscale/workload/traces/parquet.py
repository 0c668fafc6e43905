"""The generic trace in a Parquet file, read batch by batch with the columns checked vectorised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from simscale.errors import InputError
from simscale.workload.traces import fields
from simscale.workload.traces.bounds import (
    MAX_ID,
    MAX_INPUT_BYTES,
    MAX_ROWS,
    MAX_SPAN_S,
    MAX_TIME_S,
    MAX_TRACE_TOKENS,
)
from simscale.workload.traces.csv_formats import GENERIC_COLUMNS, GENERIC_DTYPES, generic_trace
from simscale.workload.traces.problems import MAX_PROBLEMS, Bad, Problems, show
from simscale.workload.traces.source import Source, size_text
from simscale.workload.traces.trace import Trace


def read_parquet(source: Source, problems: Problems) -> Trace:
    import pyarrow.parquet as pq

    target, spool = source.seekable_file()
    try:
        try:
            parquet = pq.ParquetFile(target)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise _unreadable(problems, exc) from None
        names = [str(n) for n in parquet.schema_arrow.names]
        _check_schema(parquet, names, problems)
        reader = _Batches(names, problems)
        try:
            for batch in parquet.iter_batches(batch_size=fields.CHUNK):
                reader.add(batch)
        except InputError:
            raise
        except Exception as exc:
            raise _unreadable(problems, exc) from None
    finally:
        if spool is not None:
            spool.close()
    problems.check()
    if not reader.columns.count:
        raise problems.no_rows()
    return generic_trace(reader.columns.arrays(), problems)


def _unreadable(problems: Problems, exc: Exception) -> InputError:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return problems.fatal(f"not a readable Parquet file ({first})")


def _check_schema(parquet: Any, names: list[str], problems: Problems) -> None:
    """Columns known, once each, of the right types; rows and size within bounds."""
    bad = [
        f"unknown column {show(n)} (allowed: {', '.join(GENERIC_COLUMNS)})"
        for n in names
        if n not in GENERIC_COLUMNS
    ]
    bad += [f"column {n!r} appears twice" for n in set(names) if names.count(n) > 1]
    if "arrival_s" not in names:
        bad.append("missing column 'arrival_s'")
    schema = parquet.schema_arrow
    for name in names:
        if name in GENERIC_COLUMNS and names.count(name) == 1:
            problem = _type_problem(name, schema.field(name).type)
            if problem:
                bad.append(problem)
    meta = parquet.metadata
    if meta.num_rows > MAX_ROWS:
        bad.append(f"{meta.num_rows:,} rows: a trace holds at most {MAX_ROWS:,} rows")
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > MAX_INPUT_BYTES:
        bad.append(f"{size:,} bytes of data once decompressed: a trace is at most "
                   f"{size_text(MAX_INPUT_BYTES)}")
    if bad:
        raise InputError([f"{problems.source}: {b}" for b in bad[:MAX_PROBLEMS]])


def _type_problem(name: str, dtype: Any) -> str | None:
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


class _Batches:
    """Checks record batches in file order and keeps their good rows."""

    def __init__(self, names: list[str], problems: Problems) -> None:
        self.names = names
        self.problems = problems
        self.columns = fields.Columns({n: GENERIC_DTYPES.get(n, np.int64) for n in names})
        self.kinds = fields.Kinds()
        self.rows = 0  # rows of earlier batches
        self.first_s: float | None = None  # the first good arrival_s
        self.latest_s = -np.inf  # the latest good arrival_s so far

    def add(self, batch: Any) -> None:
        n = batch.num_rows
        good = np.ones(n, dtype=bool)
        why: dict[int, str] = {}

        def flag(mask: np.ndarray, problem: str | Callable[[int], str]) -> None:
            for i in np.flatnonzero(mask & good)[:MAX_PROBLEMS]:
                why.setdefault(int(i), problem if isinstance(problem, str) else problem(i))
            good[mask] = False

        values = {name: self._column(name, batch.column(name), flag) for name in self.names}
        self._check_times(values["arrival_s"], good, flag)
        if self.problems.lenient:
            self.problems.skipped += int(n - good.sum())
        else:
            for i in sorted(why):
                self.problems.row(f" row {self.rows + i + 1}", why[i])
        self.rows += n
        if good.any():
            self.columns.extend({name: column[good] for name, column in values.items()})

    def _column(self, name: str, column: Any, flag: Callable) -> np.ndarray:
        flag(column.is_null().to_numpy(zero_copy_only=False), f"{name} is missing (null)")
        if name == "kind":
            return self._kinds(column, flag)
        if name == "arrival_s":
            times = column.fill_null(0).to_numpy().astype(np.float64)
            flag(~np.isfinite(times), "arrival_s is not finite")
            flag(np.abs(times) > MAX_TIME_S, lambda i: f"arrival_s is out of range: {times[i]:g}"
                 f" (|arrival_s| at most {MAX_TIME_S:.0e} s)")
            return times
        raw = column.fill_null(0).to_numpy()
        if raw.dtype == np.uint64:
            flag(raw > MAX_ID, lambda i: f"{name} is out of range: {raw[i]} (a 64-bit integer)")
        ints = raw.astype(np.int64)
        if name.endswith("_tokens"):
            flag(ints < 0, lambda i: f"{name} is negative: {ints[i]}")
            flag(ints > MAX_TRACE_TOKENS,
                 lambda i: f"{name} is out of range: {ints[i]} (max {MAX_TRACE_TOKENS:,})")
        return ints

    def _kinds(self, column: Any, flag: Callable) -> np.ndarray:
        """Each row's kind name, checked once per distinct value (dictionary-encoded)."""
        import pyarrow as pa

        encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
        names: list[str | None] = []
        problems: dict[int, str] = {}
        for code, text in enumerate(encoded.dictionary.to_pylist()):
            try:
                names.append(self.kinds(text))
            except Bad as exc:
                names.append(None)
                problems[code] = str(exc)
        codes = encoded.indices.fill_null(0).to_numpy().astype(np.int64)
        for code, problem in problems.items():
            flag(codes == code, problem)
        table = np.empty(len(names) + 1, dtype=object)
        table[: len(names)] = names
        return table[codes] if len(codes) else np.empty(0, dtype=object)

    def _check_times(self, times: np.ndarray, good: np.ndarray, flag: Callable) -> None:
        """Within MAX_SPAN_S of the first good time, and sorted (carried across batches)."""
        if self.first_s is None and good.any():
            self.first_s = float(times[np.argmax(good)])
        if self.first_s is not None:
            first = self.first_s
            flag(times - first > MAX_SPAN_S, lambda i: f"arrival_s {times[i]:g} is "
                 f"{times[i] - first:.3g} s after the first row's: a trace spans at most "
                 f"{MAX_SPAN_S:.0e} s")
        ok_times = np.where(good, times, -np.inf)
        running = np.maximum.accumulate(np.concatenate(([self.latest_s], ok_times)))
        flag(times < running[:-1], "arrival_s is earlier than an earlier row's (trace not sorted)")
        if len(times):
            self.latest_s = float(running[-1])
