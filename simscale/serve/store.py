"""Crash-safe appends to Parquet tables: a write-ahead log compacted into Parquet parts.

Accepted rows are appended as JSON lines to the open segment `wal/SEQ.jsonl`, one write per
batch, before the request that carried them is answered: a killed server keeps every
accepted row (the kernel holds what was written). A segment is closed when it holds
`roll_rows` rows or is `roll_s` seconds old; closing compacts it: each table's rows go to
`TABLE/part-SEQ.parquet` (written under a temporary name, synced, renamed), then the
segment is deleted. Compacting a segment again writes the same parts under the same names,
so a crash between the two steps loses nothing and duplicates nothing. Segments left by a
killed server are compacted when the store is opened. Readers glob `TABLE/part-*.parquet`.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simscale.outputs.sink import write_table

WAL = "wal"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _seq_of(name: str) -> int | None:
    stem = name.split(".", 1)[0].removeprefix("part-")
    return int(stem) if stem.isdigit() else None


class AppendStore:
    """Tables of rows under one folder; append() is durable against a killed process.

    schemas: table name → Arrow schema (a row's missing fields are written as null).
    Thread-safe. `written[table]` counts rows in Parquet parts; `accepted[table]` rows
    appended by this process.
    """

    def __init__(self, root: Path, schemas: dict[str, pa.Schema], *, roll_rows: int = 100_000,
                 roll_s: float = 60.0, metadata: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        self.schemas = schemas
        self.roll_rows = roll_rows
        self.roll_s = roll_s
        self.metadata = metadata or {}
        self.accepted = {name: 0 for name in schemas}
        self.torn_lines = 0
        self._lock = threading.Lock()
        self._compacting = threading.Lock()
        self._pending: list[Path] = []
        (self.root / WAL).mkdir(parents=True, exist_ok=True)
        for name in schemas:
            (self.root / name).mkdir(exist_ok=True)
        for segment in sorted(self._segments()):
            self._compact(segment)
        self._seq = self._last_seq() + 1
        self._fd: int | None = None
        self._rows_in_segment = 0
        self._opened_s: float | None = None

    # ------------------------------------------------------------ appending

    def append(self, table: str, rows: list[dict], now_s: float) -> None:
        """Append rows to `table` durably (one write); OSError when the disk refuses."""
        if table not in self.schemas:
            raise KeyError(f"unknown table {table!r}")
        if not rows:
            return
        data = "".join(json.dumps({"t": table, "r": row}, separators=(",", ":")) + "\n"
                       for row in rows).encode()
        with self._lock:
            if self._fd is None:
                self._open(now_s)
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._rows_in_segment += len(rows)
            self.accepted[table] += len(rows)
            if self._rows_in_segment >= self.roll_rows:
                self._close_segment()  # compacted by the next maybe_roll()

    def _open(self, now_s: float) -> None:
        path = self.root / WAL / f"{self._seq:08d}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._rows_in_segment = 0
        self._opened_s = now_s

    def _close_segment(self) -> None:
        """Close the open segment (lock held); it waits in _pending for compaction (which
        syncs what it writes: no disk wait while appends are held up)."""
        os.close(self._fd)
        self._fd = None
        self._pending.append(self.root / WAL / f"{self._seq:08d}.jsonl")
        self._seq += 1

    def maybe_roll(self, now_s: float) -> None:
        """Sync the open segment; close it when roll_s old; compact the closed segments."""
        synced = None
        with self._lock:
            if self._fd is not None:
                if self._opened_s is not None and now_s - self._opened_s >= self.roll_s:
                    self._close_segment()
                else:
                    synced = os.dup(self._fd)  # synced outside the lock: appends go on
        if synced is not None:
            try:
                os.fsync(synced)
            finally:
                os.close(synced)
        self._compact_pending()

    def roll(self) -> None:
        """Close the open segment and compact every closed one into Parquet parts."""
        with self._lock:
            if self._fd is not None:
                self._close_segment()
        self._compact_pending()

    def close(self) -> None:
        """Compact what is open; the store can still be appended to afterwards."""
        self.roll()

    def _compact_pending(self) -> None:
        with self._compacting:
            while True:
                with self._lock:
                    if not self._pending:
                        return
                    segment = self._pending[0]
                self._compact(segment)
                with self._lock:
                    self._pending.pop(0)

    # ------------------------------------------------------------ compaction

    def _segments(self) -> list[Path]:
        return [p for p in (self.root / WAL).glob("*.jsonl") if _seq_of(p.name) is not None]

    def _last_seq(self) -> int:
        seqs = [_seq_of(p.name) for p in self._segments()]
        for name in self.schemas:
            seqs += [_seq_of(p.name) for p in (self.root / name).glob("part-*.parquet")]
        return max((s for s in seqs if s is not None), default=0)

    def _compact(self, segment: Path) -> None:
        """Write the segment's rows as one part per table, then delete the segment."""
        _fsync_path(segment)
        seq = _seq_of(segment.name)
        by_table: dict[str, list[dict]] = {name: [] for name in self.schemas}
        with open(segment, "rb") as f:
            for line in f:
                try:
                    record = json.loads(line)
                    by_table[record["t"]].append(record["r"])
                except (ValueError, KeyError, TypeError):
                    self.torn_lines += 1  # a line cut short by a crash of the machine
        for name, rows in by_table.items():
            if not rows:
                continue
            schema = self.schemas[name]
            table = pa.Table.from_pylist(rows, schema=schema)
            path = self.root / name / f"part-{seq:08d}.parquet"
            write_table(path, table, self.metadata)
            _fsync_path(path)
            _fsync_path(path.parent)
        segment.unlink()
        _fsync_path(segment.parent)

    # ------------------------------------------------------------ reading

    def parts(self, table: str) -> list[Path]:
        return sorted((self.root / table).glob("part-*.parquet"))

    def read(self, table: str, columns: list[str] | None = None,
             min_t_s: float | None = None) -> pa.Table:
        """Every compacted row of `table` (optionally only rows with t_s >= min_t_s)."""
        return read_parts(self.parts(table), self.schemas[table], columns, min_t_s)

    def tail(self, table: str, rows: int) -> list[dict]:
        """The last `rows` compacted rows of `table` (reading parts from the newest)."""
        tables: list[pa.Table] = []
        count = 0
        for path in reversed(self.parts(table)):
            if count >= rows:
                break
            part = pq.read_table(path)
            tables.insert(0, part)
            count += part.num_rows
        if not tables:
            return []
        return pa.concat_tables(tables).to_pylist()[-rows:]

    def written(self, table: str) -> int:
        """Rows of `table` in Parquet parts (from the files' footers)."""
        return sum(pq.read_metadata(p).num_rows for p in self.parts(table))


def read_parts(parts: list[Path], schema: pa.Schema, columns: list[str] | None = None,
               min_t_s: float | None = None) -> pa.Table:
    """The rows of a table's parts, in part order (optionally only t_s >= min_t_s)."""
    import pyarrow.compute as pc

    names = columns or schema.names
    tables = []
    for path in parts:
        if min_t_s is not None and _max_t(path) < min_t_s:
            continue
        table = pq.read_table(path, columns=names)
        if min_t_s is not None:
            table = table.filter(pc.greater_equal(table["t_s"], min_t_s))
        tables.append(table)
    if not tables:
        return pa.Table.from_pylist([], schema=pa.schema([schema.field(n) for n in names]))
    return pa.concat_tables(tables)


def _max_t(path: Path) -> float:
    """The largest t_s of a part from its statistics (inf when unknown)."""
    meta = pq.read_metadata(path)
    index = meta.schema.names.index("t_s") if "t_s" in meta.schema.names else None
    if index is None:
        return float("inf")
    best = float("-inf")
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(index).statistics
        if stats is None or not stats.has_min_max:
            return float("inf")
        best = max(best, stats.max)
    return best
