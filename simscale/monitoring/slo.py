"""Service-level objectives (`METRIC<=VALUE`) and the verdicts that gate a run.

The same syntax serves `simscale plan --slo` (judged on a confidence bound over
replications, simscale.sweep.capacity) and `simscale run --slo` (judged on the one run's
summary value). A verdict that fails makes the command exit 1; input that does not parse,
or names a metric the run does not report, is bad input (exit 2).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from simscale.errors import InputError

_SLO = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*$")
SEVERITY_ORDER = ("warning", "critical")


@dataclass(frozen=True)
class Slo:
    """metric op threshold."""

    metric: str
    op: str
    threshold: float

    @property
    def upper(self) -> bool:
        """True when the metric must stay below the threshold (check its upper bound)."""
        return self.op in ("<=", "<")

    def holds(self, value: float) -> bool:
        """Whether `value` meets the objective (NaN never does)."""
        if math.isnan(value):
            return False
        return {"<=": value <= self.threshold, "<": value < self.threshold,
                ">=": value >= self.threshold, ">": value > self.threshold}[self.op]

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


def parse_slo(text: str) -> Slo:
    """'latency_p95_s<=1.0' → Slo; InputError when it does not parse."""
    m = _SLO.match(text)
    if not m:
        raise InputError(f"--slo {text}: expected METRIC<=VALUE (or <, >=, >)")
    try:
        threshold = float(m.group(3))
    except ValueError:
        raise InputError(f"--slo {text}: {m.group(3)!r} is not a number") from None
    if not math.isfinite(threshold):
        raise InputError(f"--slo {text}: the threshold must be a finite number")
    return Slo(m.group(1), m.group(2), threshold)


@dataclass(frozen=True)
class SloVerdict:
    """One SLO judged on one run: the run's value (None: no data) and whether it holds."""

    slo: Slo
    value: float | None
    holds: bool

    def __str__(self) -> str:
        shown = "no data" if self.value is None else f"{self.value:.4g}"
        return f"slo {self.slo}: {shown}: {'holds' if self.holds else 'missed'}"


def judge_run(slos: list[Slo], summary: dict) -> list[SloVerdict]:
    """Each SLO on a run's summary. A metric the summary reports as null has no data (the
    SLO is missed); one it does not report at all, or that is not a number, is bad input."""
    numeric = sorted(k for k, v in summary.items()
                     if v is None or (isinstance(v, int | float) and not isinstance(v, bool)))
    unknown = [s.metric for s in slos if s.metric not in numeric]
    if unknown:
        raise InputError([f"--slo: the run reports no metric {name!r} (metrics: "
                          f"{', '.join(k for k in numeric if summary[k] is not None)})"
                          for name in unknown])
    out = []
    for slo in slos:
        value = summary[slo.metric]
        number = None if value is None else float(value)
        out.append(SloVerdict(slo, number, number is not None and slo.holds(number)))
    return out


def fired_at_or_above(summary: dict, severity: str) -> dict[str, str]:
    """Alert rules that fired at `severity` or worse during the run: {rule: worst severity}."""
    floor = SEVERITY_ORDER.index(severity)
    worst = (summary.get("alerts") or {}).get("worst_severity") or {}
    return {rule: sev for rule, sev in sorted(worst.items())
            if SEVERITY_ORDER.index(sev) >= floor}
