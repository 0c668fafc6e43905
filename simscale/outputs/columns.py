"""The one declaration of every column a run writes: requests, metrics and events.parquet.

Each column has a name (with its unit in it, as everywhere in simscale), an Arrow type, a
unit and a one-line meaning. The Parquet schemas are built from these declarations, the
README's column tables are generated from them (tests/test_columns.py keeps the two equal),
and a part of the model that adds metrics columns declares them here as a `ColumnGroup`,
returning their values in the group's order (simscale.model.seam.MetricSource).

metrics.parquet types every column as declared, with one exception kept so that outputs do
not change between versions: a column outside the always-typed ones (`always_typed`) that
holds no value in the whole run (every row null) is written with Arrow's null type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

F64, I64, I32, I16, STR = pa.float64(), pa.int64(), pa.int32(), pa.int16(), pa.string()

# The terminal statuses, in the order of the model's status codes (simscale.model.request).
STATUSES = ("ok", "error", "timeout", "rejected")


@dataclass(frozen=True)
class Column:
    """One column: name, Arrow type, unit ("" when it has none) and what it means."""

    name: str
    type: pa.DataType
    unit: str
    meaning: str
    always_typed: bool = False   # metrics: typed even when the run gives it no value


@dataclass(frozen=True)
class ColumnGroup:
    """The columns one part of the model writes, in table order, and when it writes them."""

    owner: str
    when: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _typed(*columns: Column) -> tuple[Column, ...]:
    return tuple(Column(c.name, c.type, c.unit, c.meaning, always_typed=True) for c in columns)


# ---------------------------------------------------------------- requests.parquet

REQUESTS = ColumnGroup("recorder", "Always", (
    Column("request_id", I64, "", "arrival order, from 0"),
    Column("arrival_s", F64, "s", "arrival time"),
    Column("end_s", F64, "s", "when it reached its terminal status"),
    Column("latency_s", F64, "s",
           "`end_s − arrival_s`; null when there was no response (timeout, rejected)"),
    Column("wait_s", F64, "s", "time queued before getting a slot; null when it never got one"),
    Column("status", STR, "", "`ok`, `error`, `timeout` or `rejected`"),
    Column("instance_id", I32, "", "the instance that took it; null when never routed"),
    Column("attempts", I16, "count", "instances it was sent to"),
    Column("kind", STR, "", "request kind"),
    Column("session_id", I64, "",
           "session (open-loop arrivals: one per request; closed-loop users and traces: theirs)"),
    Column("user_id", I64, "",
           "user (open-loop arrivals: one per request; closed-loop users and traces: theirs)"),
    Column("prompt_tokens", I32, "tokens",
           "prompt (context) tokens of an LLM request, 0 otherwise"),
    Column("output_tokens", I32, "tokens", "output tokens the LLM streams back, 0 otherwise"),
    Column("ttft_s", F64, "s", "time to first token of the LLM call; null when there was none"),
    Column("reason", STR, "",
           "why it ended so, for non-ok statuses (`QueueFull`, `RequestTimeout`, `RunEnded`, "
           "`NoHealthyInstance`, `OOMKilled`, `MemoryShed`, `InstanceCrashed`, "
           "`UpstreamRateLimited`, `UpstreamConcurrencyLimited`, "
           "`UpstreamQueueFull`, …)"),
))

# ---------------------------------------------------------------- events.parquet

EVENTS = ColumnGroup("model", "Always", (
    Column("t_s", F64, "s", "when"),
    Column("kind", STR, "", "what kind of event (`instance`, `autoscaler`, `fault`, `alert`, "
           "`run`, …)"),
    Column("subject", STR, "", "what it is about (an instance, a policy, a shard, a rule)"),
    Column("reason", STR, "", "the decision's or change's reason (`PolicyFailure:<policy>`, …)"),
))

# ---------------------------------------------------------------- metrics.parquet

_IN_WINDOW = "in the interval"

CORE = ColumnGroup("model core", "Always", _typed(
    Column("t_s", F64, "s", "start of the interval"),
    Column("interval_s", F64, "s", "its length (the last one may be shorter)"),
    Column("instances_ready", I32, "count", "instances serving at the end of the interval"),
    Column("arrivals_rps", F64, "1/s", "arrivals per second"),
    Column("throughput_rps", F64, "1/s", "ok responses per second"),
    Column("latency_p50_s", F64, "s",
           "median latency of the ok responses finished in the interval (exact; null when none)"),
    Column("latency_p95_s", F64, "s", "95th percentile of the same"),
    Column("latency_p99_s", F64, "s", "99th percentile of the same"),
    Column("error_rate", F64, "fraction",
           "non-ok terminal statuses / all terminal statuses in the interval"),
    Column("errors", I64, "count", f"requests that ended `error` {_IN_WINDOW}"),
    Column("timeouts", I64, "count", f"requests that ended `timeout` {_IN_WINDOW}"),
    Column("rejected", I64, "count", f"requests that ended `rejected` {_IN_WINDOW}"),
    Column("utilization", F64, "fraction",
           "slot-seconds held / (slots × interval) over ready instances"),
    Column("cpu_util_frac", F64, "fraction", "CPU core-seconds used / (cores × interval)"),
    Column("in_flight", I64, "count",
           "requests on instances (queued or served) at the end of the interval"),
    Column("queued", I64, "count", "of which queued"),
) + (
    Column("instances_booting", I64, "count",
           "instances booting (requested, not ready yet) at the end of the interval"),
    Column("instances_draining", I64, "count",
           "instances draining (taking no new traffic) at the end of the interval"),
    Column("instances_failed", I64, "count", "instances crashed (a crash fault, or OOM-killed and "
           "waiting out the restart back-off) and not back at the end of the interval"),
    Column("api_latency_p95_s", F64, "s",
           "p95 latency of the ok responses finished in the interval that streamed no LLM answer "
           "(every kind without `llm`, and LLM requests answered from the response cache); null "
           "when none; equal to `latency_p95_s` without LLM kinds"),
    Column("ttft_p95_s", F64, "s",
           "p95 time to first token of the ok responses finished in the interval that streamed "
           "an LLM answer; null when none (only with an `llm` kind)"),
    Column("memory_frac", F64, "fraction",
           "memory of a mean running (booting, ready, draining) instance over the interval / "
           "`instances.memory_limit_mb`: `memory_base_mb` plus what its requests held "
           "(`memory_per_request_mb` or the kind's `memory_mb_by_kind`, plus "
           "`memory_per_token_bytes` a token), queued or served; at most 1 (past the limit an "
           "instance is OOM-killed); 0 without a running instance"),
))

RESILIENCE = ColumnGroup(
    "resilience component",
    "With `[resilience]` (or a balancer that learns from response times)", (
        Column("instances_healthy", I64, "count",
               "instances the balancer counts as healthy (ready, or crashed and not noticed yet; "
               "passing health checks; not ejected) at the end of the interval"),
        Column("instances_ejected", I64, "count",
               "instances out by outlier detection at the end of the interval"),
        Column("breakers_open", I64, "count",
               "circuit breakers not closed (open or half-open) at the end of the interval"),
        Column("panic", I64, "", "1 when the balancer is in panic mode at the end of the "
               "interval, else 0"),
        Column("retries", I64, "count", f"retries sent {_IN_WINDOW}"),
        Column("retries_denied", I64, "count",
               "failed attempts the retry policy did not retry (attempts, overall timeout or "
               f"budget) {_IN_WINDOW}"),
        Column("rate_limited", I64, "count", f"arrivals rejected by a rate limiter {_IN_WINDOW}"),
        Column("probes_failed", I64, "count", f"health probes that failed {_IN_WINDOW}"),
    ))

CACHE = ColumnGroup("cache", "With `[cache]`", (
    Column("cache_hit_rate", F64, "fraction",
           "cache reads that hit / cache reads in the interval; null when none"),
    *(Column(f"cache_hit_rate_{t}", F64, "fraction",
             f"the same for `{t}` reads; null when there were none")
      for t in ("user", "session", "conversation", "response")),
    Column("cache_reads_rps", F64, "1/s", "cache reads per second"),
    Column("cache_latency_mean_s", F64, "s",
           "mean time per cache read as the caller sees it (a hit: its round trip; a miss: also "
           "the database wait, query and fill); null when none"),
    Column("cache_evictions", I64, "count",
           f"keys evicted to make room {_IN_WINDOW} (expiries are not evictions)"),
    Column("cache_stale_reads", I64, "count",
           f"hits on a value older than the key's last write {_IN_WINDOW}"),
    Column("cache_coalesced", I64, "count",
           "misses that waited for another request's load of the same key (single flight)"),
    Column("cache_items", I64, "count", "keys stored on shards that are up, at the end of the "
           "interval"),
    Column("cache_shards_up", I64, "count", "shards on the ring at the end of the interval"),
))

DATABASE = ColumnGroup("database", "With `[cache]`", (
    Column("db_queries_rps", F64, "1/s", "database read queries started (given a connection) "
           "per second"),
    Column("db_writes_rps", F64, "1/s", "database writes started per second"),
    Column("db_connections_in_use", F64, "count",
           "mean connections in use over the interval (time-weighted)"),
    Column("db_query_p95_s", F64, "s",
           "95th percentile of the times of the queries and writes started in the interval, "
           "without the wait for a connection; null when none"),
    Column("db_slow_queries", I64, "count",
           "queries and writes started in the interval that take at least "
           "`database.slow_query_s`"),
    Column("db_queue", I64, "count", "operations waiting for a connection at the end of the "
           "interval"),
    Column("db_wait_mean_s", F64, "s",
           "mean wait for a connection of the operations that got one in the interval; null "
           "when none"),
))

BILLING = ColumnGroup("instance billing", "Always", (
    Column("instance_hours", F64, "instance-hours",
           "billed from t = 0 to the end of the interval (booting, ready and draining time, and "
           "OOM restart back-offs; cumulative)"),
))

AUTOSCALER = ColumnGroup("autoscaler", "With `autoscaling.enabled`", (
    Column("desired_replicas", I64, "count", "the autoscaler's latest desired count"),
    Column("scaler_metric", F64, "",
           "the metric as the autoscaler last saw it: the mean over ready instances of "
           "`autoscaling.scaler_metric` in the delivered scrape (old by `scaler_metric_age_s`); "
           "null before the first value"),
    Column("scaler_metric_age_s", F64, "s",
           "age of that scrape when the autoscaler read it: the metrics lag"),
))

UPSTREAM = ColumnGroup("LLM upstream", "With an `llm` kind", (
    Column("upstream_streams", I64, "count", "LLM calls in progress at the end of the interval"),
    Column("upstream_queued", I64, "count", "LLM calls waiting for the provider's limits"),
))

USERS = ColumnGroup("closed-loop users", "With `users` or `user_stairs` arrivals", (
    Column("users_started", I64, "count", "closed-loop users started so far"),
    Column("users_waiting", I64, "count", "of which waiting for a request's end"),
))

CONTEXT = ColumnGroup("conversation-context cache", "With `[context_cache]`", (
    Column("context_lookups", I64, "count",
           "requests of a context kind routed in the interval (first attempts)"),
    Column("context_hit_frac", F64, "fraction",
           "of which found their conversation's context on the instance chosen; null when "
           "none"),
))

NETWORK = ColumnGroup("network", "With `[network]`", (
    Column("network_in_bps", F64, "bit/s",
           "bits the instances received per second (requests, cache and database payloads, LLM "
           "streams), counted as they cross: when a request reaches its response, or with "
           "`network.nic_bandwidth_bps` as the interface sends them"),
    Column("network_out_bps", F64, "bit/s",
           "bits the instances sent per second (responses, streamed tokens, cache writes, "
           "prompts to the LLM provider), counted the same way"),
    Column("network_util_frac", F64, "fraction",
           "time the busier direction of a mean running instance's interface was sending / "
           "the interval (at most 1); null without `network.nic_bandwidth_bps`"),
))

SCOPED_LATENCY = Column(
    "<latency>_p<percentile>_s[<kinds>]", F64, "s",
    "the percentile of a scoped alert rule (e.g. `response_p95_s[chat_message]`), over the ok "
    "responses of those kinds finished in the interval; null when none (only with such a rule)")

ALERTS = ColumnGroup("alert rules", "With `[alerts]` enabled (the default)", (
    Column("alerts_firing", I64, "count", "alert rules firing at the end of the interval"),
))

# In the order the model writes them: the core row, then each part in the order it is built.
METRICS = (CORE, RESILIENCE, CACHE, DATABASE, BILLING, AUTOSCALER, UPSTREAM, USERS, NETWORK,
           CONTEXT, ALERTS)

_SCOPED = re.compile(r"^(response|latency|ttft)_p[0-9.e+-]+_s(\[[^\]]*\])?$")
_METRICS_BY_NAME = {c.name: c for group in METRICS for c in group.columns}


def scoped_latency(name: str) -> Column:
    """The column of a scoped alert rule's percentile (simscale.monitoring.alerts.Scope.column)."""
    return Column(name, SCOPED_LATENCY.type, SCOPED_LATENCY.unit, SCOPED_LATENCY.meaning)


def metrics_column(name: str) -> Column:
    """The declaration of a metrics column; KeyError for a column nobody declared."""
    column = _METRICS_BY_NAME.get(name)
    if column is None:
        if not _SCOPED.match(name):
            raise KeyError(f"metrics column {name!r} is not declared in simscale.outputs.columns")
        column = scoped_latency(name)
    return column


def schema(group: ColumnGroup) -> pa.Schema:
    """The Arrow schema of a whole table (requests, events)."""
    return pa.schema([(c.name, c.type) for c in group.columns])


REQUESTS_SCHEMA = schema(REQUESTS)
EVENTS_SCHEMA = schema(EVENTS)


# ---------------------------------------------------------------- the README's tables

_TYPE_NAMES = {F64: "float64"}  # Arrow prints float64 as "double"
README_TABLES = ("requests", "metrics", "events")


def markdown(columns: tuple[Column, ...]) -> str:
    """A Markdown table of columns: name, type, unit, meaning."""
    lines = ["| column | type | unit | meaning |", "|---|---|---|---|"]
    for c in columns:
        type_name = _TYPE_NAMES.get(c.type, str(c.type))
        lines.append(f"| `{c.name}` | {type_name} | {c.unit or '—'} | {c.meaning} |")
    return "\n".join(lines)


def readme_table(table: str) -> str:
    """The README's column tables of requests, metrics or events.parquet (metrics: one
    table per part of the model that writes columns, in the order they are written)."""
    if table == "requests":
        return markdown(REQUESTS.columns)
    if table == "events":
        return markdown(EVENTS.columns)
    parts = []
    for group in METRICS:
        columns = group.columns + ((SCOPED_LATENCY,) if group is ALERTS else ())
        parts.append(f"{group.when}, from the {group.owner}:\n\n{markdown(columns)}")
    return "\n\n".join(parts)


def _markers(table: str) -> tuple[str, str]:
    return (f"<!-- {table} columns: generated from simscale/outputs/columns.py -->",
            f"<!-- end of {table} columns -->")


def readme_blocks(text: str) -> dict[str, str | None]:
    """The generated blocks a README holds, by table (None: no such block)."""
    blocks: dict[str, str | None] = {}
    for table in README_TABLES:
        start, end = _markers(table)
        i, j = text.find(start), text.find(end)
        blocks[table] = text[i + len(start):j].strip("\n") if 0 <= i < j else None
    return blocks


def write_readme_blocks(text: str) -> str:
    """text with every generated block replaced by the tables as declared now."""
    for table in README_TABLES:
        start, end = _markers(table)
        i, j = text.find(start), text.find(end)
        if 0 <= i < j:
            text = text[:i + len(start)] + f"\n{readme_table(table)}\n" + text[j:]
    return text


if __name__ == "__main__":  # python -m simscale.outputs.columns README.md: rewrite its tables
    import sys
    from pathlib import Path

    readme = Path(sys.argv[1])
    readme.write_text(write_readme_blocks(readme.read_text()))
