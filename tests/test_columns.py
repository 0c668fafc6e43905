"""One declaration of every column (simscale.outputs.columns): the README's tables are the
declaration, every shipped run writes only declared columns with their declared types, and
a column nobody declared cannot be written."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from policies.views import RequestInfo
from simscale.outputs import columns as C
from simscale.outputs.recorder import ROW_TYPE
from simscale.outputs.run_files import metrics_table
from tests.shipped import spec_files

README = Path(__file__).resolve().parent.parent / "README.md"
REGENERATE = "regenerate them: python -m simscale.outputs.columns README.md"


@pytest.mark.parametrize("table", C.README_TABLES)
def test_the_readme_tables_are_the_declared_columns(table):
    block = C.readme_blocks(README.read_text())[table]
    assert block is not None, f"README.md has no generated {table} table"
    assert block == C.readme_table(table), f"README.md's {table} columns differ: {REGENERATE}"


def test_rewriting_the_readme_blocks_changes_only_the_tables():
    stale = ("intro\n<!-- events columns: generated from simscale/outputs/columns.py -->\n"
             "| old |\n<!-- end of events columns -->\noutro")
    fresh = C.write_readme_blocks(stale)
    assert C.readme_blocks(fresh)["events"] == C.readme_table("events")
    assert fresh.startswith("intro\n") and fresh.endswith("\noutro")


def test_every_declared_column_has_a_unit_word_and_a_meaning():
    for group in (C.REQUESTS, C.EVENTS, *C.METRICS):
        for column in group.columns:
            assert column.meaning and column.meaning[-1] not in ".;", column.name
            assert column.name.isidentifier(), column.name
            if column.name.endswith("_s"):
                assert column.unit == "s", column.name


def test_column_names_are_declared_once():
    names = [c.name for group in C.METRICS for c in group.columns]
    assert len(names) == len(set(names))


def test_the_recorder_row_and_the_requests_schema_agree():
    declared = {c.name: c.type for c in C.REQUESTS.columns}
    assert C.REQUESTS_SCHEMA.names == list(declared)
    for field in ROW_TYPE:
        if field.name in declared and field.name != "status":
            assert field.type == declared[field.name], field.name
    assert [f.name for f in ROW_TYPE][:len(RequestInfo._fields)] == list(RequestInfo._fields)


def test_an_undeclared_metrics_column_cannot_be_written():
    with pytest.raises(KeyError, match="not declared"):
        metrics_table([{"t_s": 0.0, "cache_hit_ratio": 0.5}])


def test_scoped_alert_columns_are_typed_as_declared():
    table = metrics_table([{"t_s": 0.0, "response_p95_s[chat_message]": 1.5}])
    assert table.schema.field("response_p95_s[chat_message]").type == pa.float64()


def test_an_all_null_column_keeps_the_null_type_unless_always_typed():
    table = metrics_table([{"t_s": 0.0, "latency_p50_s": None, "cache_hit_rate": None}])
    assert table.schema.field("latency_p50_s").type == pa.float64()
    assert table.schema.field("cache_hit_rate").type == pa.null()


@pytest.mark.shipped(*[(rel,) for rel in spec_files()])
def test_every_shipped_run_writes_declared_columns_with_their_types(shipped):
    seen: set[str] = set()
    for rel in spec_files():
        out = shipped(rel).out
        assert pq.read_schema(out / "requests.parquet").remove_metadata() == C.REQUESTS_SCHEMA
        assert pq.read_schema(out / "events.parquet").remove_metadata() == C.EVENTS_SCHEMA
        for field in pq.read_schema(out / "metrics.parquet"):
            declared = C.metrics_column(field.name)
            assert field.type in (declared.type, pa.null()), f"{rel}: {field.name}"
            if declared.always_typed:
                assert field.type == declared.type, f"{rel}: {field.name}"
            seen.add(field.name)
    # the shipped experiments exercise every declared metrics column
    assert {c.name for g in C.METRICS for c in g.columns} <= seen
