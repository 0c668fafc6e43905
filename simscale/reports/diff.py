"""What differs between runs: the spec fields that differ, a label per run, and deltas.

Runs are compared through their resolved specs (the `simscale.spec` metadata every output
carries). A run is labelled by the fields in which it differs from the others, e.g.
`balancer=power_of_two_choices` against `balancer=round_robin`; runs with identical specs are
labelled by their directory names. Deltas are taken against the first run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simscale.reports.numbers import fmt_number

# Fields that say nothing about the experiment's setting.
IGNORED_FIELDS = ("description",)
MAX_LABEL_FIELDS = 2


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """{'a.b.c': value} for every leaf of nested dicts; lists are leaves."""
    if not isinstance(data, dict):
        return {prefix.rstrip("."): data} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def differing_fields(specs: Sequence[dict | None]) -> list[str]:
    """Spec fields (dotted paths) whose value is not the same in every run, in spec order.
    A field one run lacks counts as differing. The name is left out when anything else
    differs."""
    flat = [flatten(s or {}) for s in specs]
    paths: dict[str, None] = {}
    for f in flat:
        for path in f:
            paths.setdefault(path, None)
    missing = object()
    out = [p for p in paths if p not in IGNORED_FIELDS
           and len({_key(f.get(p, missing)) for f in flat}) > 1]
    if len(out) > 1 and "name" in out:
        out.remove("name")
    return out


def _key(value: Any) -> str:
    return repr(value)


def short_name(path: str, others: Sequence[str] = ()) -> str:
    """A short, still unique name of a field: `balancer.policy` → `balancer`,
    `workload.arrivals.rate_rps` → `rate_rps` (longer when two fields would share it)."""
    parts = path.split(".")
    if len(parts) > 1 and parts[-1] == "policy":
        parts = parts[:-1]
    for n in range(1, len(parts) + 1):
        name = ".".join(parts[-n:])
        if not any(o != path and (o == name or o.endswith("." + name)) for o in others):
            return name
    return path


def value_text(value: Any) -> str:
    """A field's value as a label shows it."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{…}" if value else "{}"
    return str(value)


def labels(specs: Sequence[dict | None], fallback: Sequence[str]) -> list[str]:
    """One label per run from the fields that differ (at most MAX_LABEL_FIELDS, then
    `+N`); fallback (e.g. directory names) when the specs are identical. Always unique."""
    fields = differing_fields(specs)
    if not fields:
        out = list(fallback)
    elif fields == ["name"]:
        out = [str((spec or {}).get("name", fb)) for spec, fb in zip(specs, fallback,
                                                                       strict=True)]
    else:
        shown = fields[:MAX_LABEL_FIELDS]
        more = len(fields) - len(shown)
        out = []
        for spec in specs:
            flat = flatten(spec or {})
            parts = [f"{short_name(p, fields)}={value_text(flat.get(p, '–'))}" for p in shown]
            out.append(", ".join(parts) + (f" +{more}" if more else ""))
    return _unique(out, fallback)


def _unique(names: list[str], fallback: Sequence[str]) -> list[str]:
    if len(set(names)) == len(names):
        return names
    return [f"{n} ({fb})" if names.count(n) > 1 else n
            for n, fb in zip(names, fallback, strict=True)]


@dataclass(frozen=True)
class Delta:
    """A value against the first run's: the difference, and the relative change (None when
    the first is zero or either is missing)."""

    diff: float | None
    rel: float | None


def delta(value: Any, first: Any) -> Delta:
    """value − first for numbers (bools and text give no delta)."""
    if not (_number(value) and _number(first)):
        return Delta(None, None)
    diff = float(value) - float(first)
    rel = diff / abs(float(first)) if float(first) != 0 else None
    return Delta(diff, rel)


def _number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def delta_text(d: Delta, digits: int = 4) -> str:
    """'+0.97 (+39%)', '−3', '0', or '' when there is no delta; the size in the one number
    format with `digits` significant digits."""
    if d.diff is None:
        return ""
    if d.diff == 0:
        return "0"
    sign = "+" if d.diff > 0 else "−"
    text = f"{sign}{fmt_number(abs(d.diff), digits)}"
    if d.rel is not None:
        text += f" ({sign}{abs(d.rel):.0%})"
    return text


def shared_range(series: Sequence[Sequence[Any]]) -> tuple[float, float] | None:
    """(low, high) over every number of every series (None when there is none): one scale
    for a metric across runs."""
    values = [float(v) for s in series for v in s if _number(v)]
    if not values:
        return None
    return min(values), max(values)
