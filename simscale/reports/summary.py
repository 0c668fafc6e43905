"""A run's summary for people: its keys in groups (traffic, latency, errors, …), each number in
the one format (simscale.reports.numbers).

Used by the end-of-run table of `simscale run`, the TUI's summary panel and compare table,
and the HTML report, so a number looks the same wherever it is shown.
"""

from __future__ import annotations

import re
from typing import Any

from simscale.reports.numbers import fmt_number

# (group, patterns) in display order; a key goes to the first group with a matching pattern.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("traffic", (r"arrivals", r"ok", r"throughput_rps", r"peak_throughput_rps",
                 r"output_tokens_per_s", r"users", r"user_sessions", r"trace_.*",
                 r"stress_.*")),
    ("latency", (r"latency_.*", r"ttft_.*", r"api_latency_.*", r"upstream_queue_wait.*")),
    ("errors", (r"error", r"timeout", r"rejected", r"retries.*", r"rate_limited",
                r"upstream_limited", r"faults", r"breaker_trips", r"ejections",
                r"health_marked_unhealthy", r"probes.*")),
    ("capacity and cost", (r"utilization", r"instance_hours", r"cost_.*", r"upstream_calls",
                           r"upstream_queued_calls")),
    ("cache", (r"cache_.*", r"stale_reads", r"response_cache_hits", r"db_.*")),
    ("autoscaling", (r"scale_.*", r"instances_added", r"instances_removed", r"scaler_metric")),
    ("alerts", (r"alerts.*",)),
    ("run", (r"complete", r"failure", r"duration_s", r"simulated_s", r"wall_s", r"seed",
             r"non_finite")),
)
HIDDEN = ("name", "spec_sha256", "simscale_version")
OTHER = "other"


def flat_summary(summary: dict, prefix: str = "") -> dict[str, Any]:
    """Nested tables (alerts) flattened to `alerts.firing_s.HighCPU` style keys."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            out.update(flat_summary(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def group_of(key: str) -> str:
    for group, patterns in GROUPS:
        if any(re.fullmatch(p, key) for p in patterns):
            return group
    return OTHER


def grouped(summary: dict, keys: list[str] | None = None) -> list[tuple[str, list[str]]]:
    """[(group, keys)] in display order; keys default to those of summary (flattened),
    hidden identity keys left out; empty groups are dropped."""
    keys = [k for k in (keys if keys is not None else flat_summary(summary))
            if k not in HIDDEN]
    order = [g for g, _ in GROUPS] + [OTHER]
    by_group: dict[str, list[str]] = {g: [] for g in order}
    for key in keys:
        by_group[group_of(key)].append(key)
    return [(g, by_group[g]) for g in order if by_group[g]]


# Keys a compact summary leaves out: identity, run bookkeeping and per-rule detail.
COMPACT_SKIP = re.compile(
    r"(seed|wall_s|duration_s|simulated_s|complete|non_finite|alerts\.rules|alerts\.fired|"
    r"alerts\.fired_by_severity\..*)")


def compact(summary: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(group, [(key, value text)])] for a short panel: numbers and words only, no
    bookkeeping, per-rule alert times only when non-zero."""
    flat = flat_summary(summary)
    out = []
    for group, keys in grouped(summary):
        pairs = []
        for key in keys:
            value = flat[key]
            if COMPACT_SKIP.fullmatch(key) or isinstance(value, (list, tuple)):
                continue
            if key.startswith("alerts.firing_s.") and not value:
                continue
            pairs.append((key, fmt_number(value)))
        if pairs:
            out.append((group, pairs))
    return out
