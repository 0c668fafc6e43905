"""The files of a run directory: their names, metadata, and metrics/events.parquet.

requests.parquet is written as the run goes (simscale.outputs.recorder); metrics.parquet and
events.parquet are written whole at the end from the rows the model kept, with the schemas
simscale.outputs.columns declares; summary.json last (strict JSON), so a folder holding
summary.json is complete (simscale.outputs.staging).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from simscale import __version__
from simscale.outputs.columns import CORE, EVENTS_SCHEMA, REQUESTS_SCHEMA, metrics_column
from simscale.outputs.paths import write_json
from simscale.outputs.sink import ParquetSink, write_table

OUTPUT_NAMES = ("requests.parquet", "metrics.parquet", "events.parquet", "summary.json")
# What a run directory may hold: its outputs, and their temporary names in older versions.
RUN_DIR_ENTRIES = frozenset(OUTPUT_NAMES) | {f".{name}.partial" for name in OUTPUT_NAMES}
REQUEST_FLOAT_COLUMNS = ["arrival_s", "end_s", "latency_s", "wait_s"]
REQUEST_DICTIONARY_COLUMNS = ["status", "kind", "reason", "instance_id"]


def metadata(spec) -> dict[str, str]:
    """Key-value metadata stored in every output file (spec: a simscale.spec.Spec)."""
    return {
        "simscale.spec": spec.canonical_json(),
        "simscale.spec_sha256": spec.sha256(),
        "simscale.seed": str(spec.seed),
        "simscale.version": __version__,
    }


def requests_sink(run_dir: Path, meta: dict[str, str]) -> ParquetSink:
    """requests.parquet of a run directory, open for the recorder's row groups."""
    return ParquetSink(run_dir / "requests.parquet", REQUESTS_SCHEMA, meta,
                       float_columns=REQUEST_FLOAT_COLUMNS,
                       dictionary_columns=REQUEST_DICTIONARY_COLUMNS)


def metrics_table(rows: list[dict]) -> pa.Table:
    """metrics.parquet as a table: the columns of the first row, in its order, each typed as
    simscale.outputs.columns declares it (KeyError for a column nobody declared)."""
    names = list(rows[0]) if rows else [c.name for c in CORE.columns if c.always_typed]
    arrays = []
    for name in names:
        column = metrics_column(name)
        values = [row.get(name) for row in rows]
        typed = column.always_typed or any(v is not None for v in values)
        arrays.append(pa.array(values, column.type if typed else None))
    return pa.Table.from_arrays(arrays, names=names)


def events_table(events: list[tuple]) -> pa.Table:
    """events.parquet as a table, from (t_s, kind, subject, reason) tuples."""
    cols = list(zip(*events)) if events else [[], [], [], []]
    return pa.Table.from_arrays([pa.array(c, f.type) for c, f in zip(cols, EVENTS_SCHEMA)],
                                schema=EVENTS_SCHEMA)


def write_run_tables(run_dir: Path, meta: dict[str, str], metric_rows: list[dict],
                     events: list[tuple], summary: dict) -> None:
    """metrics.parquet, events.parquet, then summary.json (last: it marks the run complete)."""
    write_table(run_dir / "metrics.parquet", metrics_table(metric_rows), meta)
    write_table(run_dir / "events.parquet", events_table(events), meta)
    write_json(run_dir / "summary.json", summary)
