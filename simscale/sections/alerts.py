"""The [alerts] section: the service's default alert rules, user rules, or none.

A user rule watches a metrics column or a latency scope (simscale.monitoring.alerts, which
evaluates the rules, says how); the checks here are the rule's own (a threshold, thresholds
in order, a known request kind).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from simscale.limits import MAX_KINDS, MAX_LIST, MAX_THRESHOLD, MAX_TIME_S
from simscale.monitoring.alerts import AlertRule, Scope
from simscale.sections.base import Section

Threshold = Annotated[float, Field(ge=-MAX_THRESHOLD, le=MAX_THRESHOLD)]

Comparison = Literal[">", ">=", "<", "<="]
LatencyKind = Literal["response", "latency", "ttft"]


class AlertRuleSpec(Section):
    """One user alert rule (spec `[[alerts.rules]]`): a metric column, or a latency scope."""

    name: str = Field(description="rule name, shown in events and the TUI; replaces a default "
                                  "rule of the same name")
    metric: str | None = Field(
        None, description="metrics.parquet column the rule watches, e.g. api_latency_p95_s "
                          "(or give a latency scope: kinds, latency, percentile)")
    kinds: tuple[str, ...] | None = Field(
        None, max_length=MAX_KINDS,
        description="scope: the request kinds whose responses the rule reads (none: all)")
    latency: LatencyKind | None = Field(
        None, description="scope: response (time to first token of a streamed answer, else "
                          "latency), latency (end to end) or ttft (streamed answers only)")
    percentile: float = Field(95.0, gt=0, lt=100,
                              description="scope: the percentile of the latency, e.g. 95")
    warning: Threshold | None = Field(
        None, description="warning threshold (none: no warning level)")
    critical: Threshold | None = Field(
        None, description="critical threshold (none: no critical level)")
    for_s: float = Field(
        0.0, ge=0, le=MAX_TIME_S,
        description="seconds a threshold must be breached continuously before it fires")
    comparison: Comparison = Field(
        ">", description="how the value is compared with the thresholds ('<' for floors)")

    @model_validator(mode="after")
    def _thresholds(self) -> AlertRuleSpec:
        if not self.name.strip():
            raise ValueError("name: must not be empty")
        scoped = self.kinds is not None or self.latency is not None
        if (self.metric is None) == (not scoped):
            raise ValueError("give a metric, or a latency scope (kinds, latency), not both")
        if self.metric is not None and self.percentile != 95.0:
            raise ValueError("percentile applies to a latency scope, not to a metric")
        if self.kinds is not None and (not self.kinds or not all(k.strip() for k in self.kinds)):
            raise ValueError("kinds: name at least one request kind")
        if self.warning is None and self.critical is None:
            raise ValueError("a rule needs a warning or a critical threshold (or both)")
        if self.warning is not None and self.critical is not None:
            if self.comparison in (">", ">=") and self.critical < self.warning:
                raise ValueError(f"critical ({self.critical:g}) must not be below warning "
                                 f"({self.warning:g}) for comparison '{self.comparison}'")
            if self.comparison in ("<", "<=") and self.critical > self.warning:
                raise ValueError(f"critical ({self.critical:g}) must not be above warning "
                                 f"({self.warning:g}) for comparison '{self.comparison}'")
        return self

    @property
    def scope(self) -> Scope | None:
        """The latency scope (None: the rule names a metric)."""
        if self.metric is not None:
            return None
        return Scope(tuple(self.kinds or ()), self.latency or "response", self.percentile)

    def rule(self) -> AlertRule:
        """The rule as the evaluator uses it."""
        scope = self.scope
        metric = scope.column if scope is not None else self.metric
        return AlertRule(self.name, metric, self.warning, self.critical, self.for_s,
                         self.comparison, scope)


class AlertsSpec(Section):
    """The spec section `[alerts]`: the default rules, user rules, or none."""

    enabled: bool = Field(True, description="evaluate alert rules during the run")
    use_defaults: bool = Field(
        True, description="include the service's default rules (response time, error rate, "
                          "CPU, memory)")
    rules: tuple[AlertRuleSpec, ...] = Field(
        (), max_length=MAX_LIST,
        description="user rules; one named like a default rule replaces it")

    @model_validator(mode="after")
    def _unique_names(self) -> AlertsSpec:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rules: two rules are named {rule.name!r}")
            seen.add(rule.name)
        return self

    def check_kinds(self, known: set[str] | None) -> None:
        """A scoped rule must name kinds the workload has (known None: not known before the
        run, as with a trace's own kind column). Raises ValueError naming the field."""
        if known is None:
            return
        for i, rule in enumerate(self.rules):
            unknown = [k for k in rule.kinds or () if k not in known]
            if unknown:
                raise ValueError(f"alerts.rules.{i}.kinds: no request kind "
                                 f"{', '.join(map(repr, unknown))} in the workload "
                                 f"(kinds: {', '.join(sorted(known))})")
