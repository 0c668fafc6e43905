"""summary.parquet: one row per run of a sweep, its parameters and its summary metrics.

Columns, in order: `variant`, `replication`, `seed`, `run_status` (ok | incomplete | error),
`run_error`, one `param.<path>` column per swept parameter, then every key of the runs'
summary.json except wall-clock time (`wall_s`, which differs between identical runs), then
derived metrics (`instance_hours`: Σ ready instances × metrics interval / 3600, when the
summary has no such key). Rows are sorted by variant (design order), then replication.
Table values (a parameter that replaces a whole table) are stored as JSON text. The sweep's
name, parameters, variant order and baseline are stored in the file's metadata.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simscale.errors import InputError

META_KEY = b"simscale.sweep"
PARAM_PREFIX = "param."
RUN_COLUMNS = ("variant", "replication", "seed", "run_status", "run_error")
EXCLUDED_SUMMARY_KEYS = ("wall_s",)


def summary_table(sweep, records: list[dict]) -> pa.Table:
    """The summary table of `records` (already in sweep order)."""
    columns: dict[str, tuple[list[Any], pa.DataType | None]] = {
        "variant": ([r["variant"] for r in records], pa.string()),
        "replication": ([r["replication"] for r in records], pa.int32()),
        "seed": ([r["seed"] for r in records], pa.int64()),
        "run_status": ([r["status"] for r in records], pa.string()),
        "run_error": ([r.get("error") for r in records], pa.string()),
    }
    for path in sweep.parameters:
        columns[PARAM_PREFIX + path] = ([r["params"].get(path) for r in records], None)
    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r.get("summary", {}) if k not in keys
                    and k not in EXCLUDED_SUMMARY_KEYS and k not in columns)
    for key in keys:
        columns[key] = ([r.get("summary", {}).get(key) for r in records], None)
    derived: list[str] = []
    for r in records:
        derived.extend(k for k in r.get("derived", {}) if k not in derived and k not in columns)
    for key in derived:
        columns[key] = ([r.get("derived", {}).get(key) for r in records], None)
    arrays = [_array(values, kind) for values, kind in columns.values()]
    meta = {
        "name": sweep.spec.name,
        "parameters": sweep.parameters,
        "variants": [v.name for v in sweep.variants],
        "baseline": sweep.baseline,
        "metrics": list(sweep.spec.metrics),
        "rank": sweep.spec.rank.model_dump() if sweep.spec.rank else None,
    }
    schema = pa.schema([pa.field(name, a.type) for name, a in zip(columns, arrays, strict=True)],
                       metadata={META_KEY: json.dumps(meta).encode()})
    return pa.Table.from_arrays(arrays, schema=schema)


def write_summary_table(path: Path, sweep, records: list[dict]) -> None:
    """Write summary.parquet under a temporary name, then rename it."""
    table = summary_table(sweep, records)
    tmp = path.with_name(f".{path.name}.partial")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _array(values: list[Any], kind: pa.DataType | None) -> pa.Array:
    """An Arrow column whose type follows from the values (same values → same type)."""
    if kind is not None:
        return pa.array(values, kind)
    present = [v for v in values if v is not None]
    if not present:
        return pa.array(values, pa.float64())
    if all(isinstance(v, bool) for v in present):
        return pa.array(values, pa.bool_())
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.array(values, pa.int64())
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if all(isinstance(v, str) for v in present):
        return pa.array(values, pa.string())
    return pa.array([None if v is None else v if isinstance(v, str)
                     else json.dumps(v, sort_keys=True) for v in values], pa.string())


@dataclass
class SummaryData:
    """A sweep's summary table as Python columns, with the sweep's metadata."""

    columns: dict[str, list[Any]]
    meta: dict[str, Any]
    source: Path

    @property
    def parameters(self) -> list[str]:
        return list(self.meta.get("parameters", []))

    @property
    def variants(self) -> list[str]:
        order = list(self.meta.get("variants", []))
        seen = set(order)
        for v in self.columns["variant"]:
            if v not in seen:
                order.append(v)
                seen.add(v)
        present = set(self.columns["variant"])
        return [v for v in order if v in present]

    def numeric_columns(self) -> list[str]:
        """Every numeric metric column (any numeric summary key, plus derived ones)."""
        out = []
        for name, values in self.columns.items():
            if name in RUN_COLUMNS or name.startswith(PARAM_PREFIX) or name == "seed":
                continue
            present = [v for v in values if v is not None]
            if present and all(isinstance(v, int | float) and not isinstance(v, bool)
                               for v in present):
                out.append(name)
        return out


def read_summary(path: str | Path) -> SummaryData:
    """Read DIR/summary.parquet (or the file itself); InputError if it is not a sweep table."""
    path = Path(path)
    file = path / "summary.parquet" if path.is_dir() else path
    if not file.exists():
        raise InputError(f"{path}: no summary.parquet (is it a sweep folder?)")
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{file}: cannot read ({exc})") from None
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is None or "variant" not in table.column_names:
        raise InputError(f"{file}: not a simscale sweep summary")
    return SummaryData(table.to_pydict(), json.loads(raw), file)
