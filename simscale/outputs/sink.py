"""Parquet files written in row groups under a temporary name, renamed when complete.

Every file is written as `.<name>.partial` and renamed when closed, so a killed run never
leaves a truncated file under its final name.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


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
