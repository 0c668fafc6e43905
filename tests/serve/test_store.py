"""The fleet's append store: nothing accepted is lost or duplicated, whenever it is killed."""

from __future__ import annotations

import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from simscale.serve.store import WAL, AppendStore

SCHEMAS = {
    "a": pa.schema([("t_s", pa.float64()), ("x", pa.int64())]),
    "b": pa.schema([("t_s", pa.float64()), ("name", pa.string())]),
}


def rows(table, n, start=0):
    if table == "a":
        return [{"t_s": float(start + i), "x": start + i} for i in range(n)]
    return [{"t_s": float(start + i), "name": f"n{start + i}"} for i in range(n)]


def test_rows_reach_parquet_parts_on_roll(tmp_path):
    store = AppendStore(tmp_path, SCHEMAS, roll_rows=1000, roll_s=60)
    store.append("a", rows("a", 5), now_s=0.0)
    store.append("b", rows("b", 3), now_s=0.0)
    assert store.written("a") == 0  # still in the log
    store.maybe_roll(30.0)
    assert store.written("a") == 0  # not old enough
    store.maybe_roll(61.0)
    assert (store.written("a"), store.written("b")) == (5, 3)
    assert store.read("a").to_pylist() == rows("a", 5)
    assert list((tmp_path / WAL).iterdir()) == []


def test_a_full_segment_is_closed_and_compacted_next(tmp_path):
    store = AppendStore(tmp_path, SCHEMAS, roll_rows=10, roll_s=3600)
    store.append("a", rows("a", 12), now_s=0.0)
    store.append("a", rows("a", 4, 12), now_s=0.0)
    store.maybe_roll(1.0)
    assert store.written("a") == 12  # the full segment; the open one waits
    store.close()
    assert store.read("a").to_pylist() == rows("a", 16)
    assert [p.name for p in store.parts("a")] == ["part-00000001.parquet",
                                                  "part-00000002.parquet"]


def test_a_killed_store_loses_nothing(tmp_path):
    store = AppendStore(tmp_path, SCHEMAS)
    store.append("a", rows("a", 7), now_s=0.0)
    store.append("b", rows("b", 2), now_s=0.0)
    # killed: no roll, no close; the log is all there is
    reopened = AppendStore(tmp_path, SCHEMAS)
    assert (reopened.written("a"), reopened.written("b")) == (7, 2)
    reopened.append("a", rows("a", 1, 7), now_s=0.0)
    reopened.close()
    assert reopened.read("a").to_pylist() == rows("a", 8)  # numbering went on after the parts


def test_compacting_a_segment_twice_duplicates_nothing(tmp_path):
    store = AppendStore(tmp_path, SCHEMAS)
    store.append("a", rows("a", 4), now_s=0.0)
    segment = next((tmp_path / WAL).iterdir())
    kept = tmp_path / "segment.copy"
    shutil.copy(segment, kept)
    store.close()
    # as if killed after writing the parts but before deleting the segment
    os.replace(kept, segment)
    reopened = AppendStore(tmp_path, SCHEMAS)
    assert reopened.read("a").to_pylist() == rows("a", 4)


def test_a_torn_last_line_is_skipped_and_counted(tmp_path):
    store = AppendStore(tmp_path, SCHEMAS)
    store.append("a", rows("a", 3), now_s=0.0)
    segment = next((tmp_path / WAL).iterdir())
    with open(segment, "ab") as f:
        f.write(b'{"t":"a","r":{"t_s":3.0,')
    reopened = AppendStore(tmp_path, SCHEMAS)
    assert reopened.written("a") == 3 and reopened.torn_lines == 1


def test_read_since_and_tail(tmp_path):
    store = AppendStore(tmp_path, SCHEMAS, roll_rows=5)
    for k in range(4):
        store.append("a", rows("a", 5, 5 * k), now_s=0.0)
        store.maybe_roll(0.0)
    assert [r["x"] for r in store.read("a", min_t_s=13.0).to_pylist()] == list(range(13, 20))
    assert [r["x"] for r in store.tail("a", 7)] == list(range(13, 20))
    assert store.tail("b", 3) == []
    assert pq.read_metadata(store.parts("a")[0]).num_rows == 5


@settings(max_examples=25, deadline=None)
@given(batches=st.lists(st.tuples(st.sampled_from("ab"), st.integers(1, 30)), max_size=12),
       roll_rows=st.integers(1, 40), kill_at=st.integers(0, 12))
def test_every_accepted_row_is_written_once(tmp_path_factory, batches, roll_rows, kill_at):
    root = tmp_path_factory.mktemp("store")
    store = AppendStore(root, SCHEMAS, roll_rows=roll_rows)
    sent = {"a": [], "b": []}
    for i, (table, n) in enumerate(batches):
        if i == kill_at:  # a kill: a new store opens the same folder
            store = AppendStore(root, SCHEMAS, roll_rows=roll_rows)
        batch = rows(table, n, len(sent[table]))
        store.append(table, batch, now_s=float(i))
        sent[table] += batch
        if i % 3 == 0:
            store.maybe_roll(float(i))
    final = AppendStore(root, SCHEMAS)
    for table in "ab":
        assert final.read(table).to_pylist() == sent[table]
