"""ParquetSink: one row group per write, the file renamed only when complete, and nothing
left behind after a failed write."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simscale.outputs.sink import ParquetSink

SCHEMA = pa.schema([("x", pa.int64()), ("y", pa.float64())])


def table(start: int, n: int) -> pa.Table:
    return pa.table({"x": range(start, start + n), "y": [float(i) / 2 for i in range(n)]})


def test_each_write_is_a_row_group_and_the_name_appears_on_close(tmp_path):
    path = tmp_path / "t.parquet"
    sink = ParquetSink(path, SCHEMA, {"simscale.seed": "7"})
    for k in range(5):
        sink.write(table(100 * k, 100))
    sink.write(table(0, 0))  # an empty table writes nothing
    assert not path.exists()
    sink.close()
    assert not sink.tmp_path.exists()
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 5
    assert meta.metadata[b"simscale.seed"] == b"7"
    assert pq.read_table(path)["x"].to_pylist() == list(range(500))


def test_a_failed_write_is_raised_and_leaves_no_file(tmp_path):
    path = tmp_path / "t.parquet"
    sink = ParquetSink(path, SCHEMA, {})

    def disk_full(*_args, **_kwargs):
        raise OSError("No space left on device")

    sink._writer.write_table = disk_full
    with pytest.raises(OSError, match="No space left"):
        sink.write(table(0, 10))
    sink.abort()  # what the runner does with any error
    assert list(tmp_path.iterdir()) == []


def test_abort_drops_the_partial_file(tmp_path):
    path = tmp_path / "t.parquet"
    sink = ParquetSink(path, SCHEMA, {})
    sink.write(table(0, 10))
    sink.abort()
    assert list(tmp_path.iterdir()) == []
