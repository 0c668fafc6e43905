"""The columns of a fleet's Parquet tables (FLEETS/<name>/<table>/part-*.parquet)."""

from __future__ import annotations

import pyarrow as pa

from simscale.outputs.columns import EVENTS_SCHEMA

SAMPLES_SCHEMA = pa.schema([
    ("t_s", pa.float64()), ("instance", pa.string()), ("state", pa.string()),
    ("ready", pa.bool_()), ("cpu_util_frac", pa.float64()), ("memory_frac", pa.float64()),
    ("in_flight", pa.float64()), ("request_rps", pa.float64()), ("latency_s", pa.float64()),
])
CLUSTER_SCHEMA = pa.schema([("t_s", pa.float64()), ("metric", pa.string()),
                            ("value", pa.float64())])
METRICS_SCHEMA = pa.schema([
    ("t_s", pa.float64()), ("interval_s", pa.float64()), ("instances", pa.int32()),
    ("instances_ready", pa.int32()), ("desired_replicas", pa.int32()),
    ("cpu_util_frac", pa.float64()), ("memory_frac", pa.float64()), ("in_flight", pa.float64()),
    ("throughput_rps", pa.float64()), ("arrivals_rps", pa.float64()), ("latency_s", pa.float64()),
])
DECISIONS_SCHEMA = pa.schema([
    ("t_s", pa.float64()), ("policy", pa.string()), ("desired_replicas", pa.int32()),
    ("current_replicas", pa.int32()), ("ready_replicas", pa.int32()), ("reason", pa.string()),
    ("metric", pa.string()), ("metric_value", pa.float64()), ("metrics_age_s", pa.float64()),
    ("applied", pa.string()),
])

FLEET_SCHEMAS = {
    "samples": SAMPLES_SCHEMA,
    "cluster": CLUSTER_SCHEMA,
    "metrics": METRICS_SCHEMA,
    "decisions": DECISIONS_SCHEMA,
    "events": EVENTS_SCHEMA,
}


def metrics_record(row: dict) -> dict:
    """The stored part of a fleet's metrics row (cluster samples are stored on their own)."""
    return {name: row.get(name) for name in METRICS_SCHEMA.names}
