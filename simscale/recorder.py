"""Output tables: columnar buffers flushed to Parquet in row groups, under temporary names.

Every file is written as `.<name>.partial` and renamed when closed, so a killed run never
leaves a truncated file under its final name. Rows are buffered as Python lists in small
batches, turned into Arrow arrays (compact), and written once a row group's worth is ready.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simscale.digest import Digest
from simscale.model.request import STATUS_NAMES

REQUESTS_SCHEMA = pa.schema([
    ("request_id", pa.int64()),
    ("arrival_s", pa.float64()),
    ("end_s", pa.float64()),
    ("latency_s", pa.float64()),
    ("wait_s", pa.float64()),
    ("status", pa.string()),
    ("instance_id", pa.int32()),
    ("attempts", pa.int16()),
    ("kind", pa.string()),
    ("session_id", pa.int64()),
    ("user_id", pa.int64()),
    ("prompt_tokens", pa.int32()),
    ("output_tokens", pa.int32()),
    ("ttft_s", pa.float64()),
    ("reason", pa.string()),
])

EVENTS_SCHEMA = pa.schema([
    ("t_s", pa.float64()),
    ("kind", pa.string()),
    ("subject", pa.string()),
    ("reason", pa.string()),
])

# A request's row as the hot path appends it (see RequestLog): RequestInfo's fields, then
# the outcome. -1 marks "none" in instance_id, start_s and ttft_s.
ROW_TYPE = pa.struct([
    ("request_id", pa.int64()),
    ("kind", pa.string()),
    ("user_id", pa.int64()),
    ("session_id", pa.int64()),
    ("prompt_tokens", pa.int32()),
    ("output_tokens", pa.int32()),
    ("arrival_s", pa.float64()),
    ("status", pa.int8()),
    ("end_s", pa.float64()),
    ("start_s", pa.float64()),
    ("instance_id", pa.int32()),
    ("attempts", pa.int16()),
    ("reason", pa.string()),
    ("ttft_s", pa.float64()),
])

_STATUS_DICT = pa.array(STATUS_NAMES, pa.string())


class ParquetSink:
    """A Parquet file written in row groups under a temporary name, renamed on close()."""

    def __init__(self, path: Path, schema: pa.Schema, metadata: dict[str, str],
                 float_columns: list[str] | None = None,
                 dictionary_columns: list[str] | None = None) -> None:
        self.path = Path(path)
        self.tmp_path = self.path.with_name(f".{self.path.name}.partial")
        self.schema = schema.with_metadata({k.encode(): v.encode() for k, v in metadata.items()})
        self.rows = 0
        self._writer = pq.ParquetWriter(
            self.tmp_path, self.schema, compression="zstd",
            use_dictionary=dictionary_columns if dictionary_columns is not None else True,
            use_byte_stream_split=float_columns or False,
        )

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.cast(self.schema), row_group_size=table.num_rows)
            self.rows += table.num_rows

    def close(self) -> None:
        """Finish the file and move it to its final name."""
        self._writer.close()
        os.replace(self.tmp_path, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        try:
            self._writer.close()
        finally:
            self.tmp_path.unlink(missing_ok=True)


class RequestLog:
    """One row per terminated request; buffered, converted in batches, flushed per row group.

    The hot path appends one flat tuple per request, laid out as ROW_TYPE. A tuple holding
    only numbers and strings is dropped from the garbage collector's tracking, so the
    buffer costs no collection time (a nested RequestInfo would keep every row tracked).
    Every `batch` rows the tuples become Arrow columns in one pass, which are compact.
    Latencies of ok requests and times to first token go to digests for the summary's
    percentiles: exact up to five million values, then within 0.5%, in bounded memory
    either way.
    """

    BATCH = 65_536

    def __init__(self, sink: ParquetSink | None, row_group_rows: int) -> None:
        self.sink = sink
        self.row_group_rows = row_group_rows
        self.batch = min(self.BATCH, row_group_rows)  # rows converted to Arrow at a time
        self.rows: list[tuple] = []
        self._batches: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.ok_latency = Digest()  # for the summary's percentiles, in bounded memory
        self.ttft = Digest()
        self.output_tokens = 0  # streamed to ok requests
        self.counts = [0, 0, 0, 0]

    def add(self, req, status: int, end_s: float, reason: str) -> None:
        """Record a request that has just reached its terminal status."""
        inst = req.instance
        self.rows.append(req.info + (status, end_s, req.start_s,
                                     -1 if inst is None else inst.instance_id, req.attempts,
                                     reason, req.ttft_s))
        if len(self.rows) >= self.batch:
            self._convert()

    def flush_rows(self) -> None:
        """Convert the buffered rows to Arrow now (called when `batch` rows are waiting)."""
        self._convert()

    def _convert(self) -> None:
        rows = self.rows
        if not rows:
            return
        self.rows = []
        # one pass in C from row tuples to typed columns (a struct array's fields)
        column = pa.array(rows, type=ROW_TYPE).field
        status = column("status").to_numpy()
        self.counts = [c + int(k) for c, k in zip(self.counts, np.bincount(status, minlength=4))]
        arrival = column("arrival_s").to_numpy()
        start = column("start_s").to_numpy()
        inst = column("instance_id").to_numpy()
        ttft = column("ttft_s").to_numpy()
        latency = column("end_s").to_numpy() - arrival
        ok = status == 0
        self.ok_latency.add(latency[ok])
        self.ttft.add(ttft[ok & (ttft >= 0)])
        self.output_tokens += int(column("output_tokens").to_numpy()[ok].sum())
        if self.sink is None:
            return
        never_started = start < 0
        batch = pa.RecordBatch.from_arrays([
            column("request_id"),
            column("arrival_s"),
            column("end_s"),
            pa.array(latency, mask=status >= 2),  # no response: timeout, rejected
            pa.array(np.where(never_started, np.nan, start - arrival), mask=never_started),
            pa.DictionaryArray.from_arrays(column("status"), _STATUS_DICT).cast(pa.string()),
            pa.array(inst, mask=inst < 0),
            column("attempts"),
            column("kind"),
            column("session_id"),
            column("user_id"),
            column("prompt_tokens"),
            column("output_tokens"),
            pa.array(ttft, mask=ttft < 0),
            column("reason"),
        ], schema=REQUESTS_SCHEMA)
        self._batches.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= self.row_group_rows:
            self._write()

    def _write(self) -> None:
        if self._batches and self.sink is not None:
            self.sink.write(pa.Table.from_batches(self._batches))
        self._batches = []
        self._pending_rows = 0

    def flush(self) -> None:
        """Convert and write everything buffered (end of run)."""
        self._convert()
        self._write()



def write_table(path: Path, table: pa.Table, metadata: dict[str, str],
                float_columns: list[str] | None = None) -> None:
    """Write a whole (small) table atomically: temporary name, then rename."""
    sink = ParquetSink(path, table.schema, metadata, float_columns=float_columns)
    try:
        sink.write(table)
    except BaseException:
        sink.abort()
        raise
    sink.close()
