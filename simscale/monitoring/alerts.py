"""Alert rules: warning and critical thresholds held for `for_s`, evaluated on metric rows
(the spec's [alerts] section, simscale.sections.alerts, says which rules run).

A rule watches one metric column. Each metrics row is one evaluation: the row's value is
compared with the rule's thresholds; a level (warning or critical) starts *pending* at the
start of the first breaching row's window and fires once it has held continuously for
`for_s` seconds, judged at the end of the row's window (`t_s + interval_s`). A rule has one
state: not firing, firing:warning or firing:critical. Every change of state is a transition:
`Firing:<severity> <metric>=<value><op><threshold>` or `Resolved`.

Response time has a scope. The service's rule reads "response time" as the time until a
response starts: for a request that streams an LLM answer its time to first token, for any
other its end-to-end latency. So the defaults watch `api_latency_p95_s` (ok responses that
streamed no answer) and `ttft_p95_s` (those that did) rather than `latency_p95_s`, whose
streamed chats last seconds in a healthy system. A user rule may instead name a scope: the
request kinds it covers and the latency it reads (`response`, `latency` or `ttft`) at a
percentile; it then watches a column such as `response_p95_s[chat_message]` that the model
computes for it (simscale.model.alerting).

Missing data: a rule whose metric column is absent from a row is inactive for that row (it
keeps its state and its clock); a value of None or NaN means "no data" and is treated the
same way, so an outage without responses does not resolve a latency alert.

The evaluator is pure: no clock, no I/O. The model feeds rows in time order and records the
transitions; the TUI replays them to show which alerts fire at any point of a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from simscale.sections.alerts import AlertsSpec

WARNING = "warning"
CRITICAL = "critical"
RESOLVED = "resolved"
SEVERITIES = (WARNING, CRITICAL)  # in increasing order


@dataclass(frozen=True)
class Scope:
    """Which responses a latency rule reads: request kinds (empty: all), the latency
    (`response`: time to first token when the answer streamed, else latency; `latency`:
    end to end; `ttft`: time to first token, streamed answers only) and the percentile."""

    kinds: tuple[str, ...] = ()
    latency: str = "response"
    percentile: float = 95.0

    @property
    def column(self) -> str:
        """The metrics column holding the scope's percentile: 'response_p95_s[chat_message]'."""
        name = f"{self.latency}_p{self.percentile:g}_s"
        return f"{name}[{','.join(self.kinds)}]" if self.kinds else name

    def value(self, latency_s: float, ttft_s: float) -> float | None:
        """What an ok response contributes (ttft_s < 0: it streamed no answer); None: none."""
        if self.latency == "latency":
            return latency_s
        if ttft_s >= 0.0:
            return ttft_s
        return latency_s if self.latency == "response" else None


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class AlertRule:
    """A validated rule as the evaluator uses it."""

    name: str
    metric: str
    warning: float | None = None
    critical: float | None = None
    for_s: float = 0.0
    comparison: str = ">"
    scope: Scope | None = None  # a latency scope whose percentile the model computes

    def breaches(self, value: float, threshold: float | None) -> bool:
        """True when `value` is beyond `threshold` in the rule's direction."""
        if threshold is None:
            return False
        op = self.comparison
        if op == ">":
            return value > threshold
        if op == ">=":
            return value >= threshold
        if op == "<":
            return value < threshold
        return value <= threshold

    def threshold(self, severity: str) -> float | None:
        return self.critical if severity == CRITICAL else self.warning


# The service's own rules: response time (>2 s warning, >5 s critical), error rate, CPU and
# memory. Response time is scoped: API responses by their latency, streamed answers by their
# time to first token (a rule is inactive in a run without the column: no LLM kinds, no ttft).
DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule("HighResponseTime", "api_latency_p95_s", warning=2.0, critical=5.0, for_s=60.0),
    AlertRule("HighTimeToFirstToken", "ttft_p95_s", warning=2.0, critical=5.0, for_s=60.0),
    AlertRule("HighErrorRate", "error_rate", warning=0.05, critical=0.10, for_s=60.0),
    AlertRule("HighCPU", "cpu_util_frac", warning=0.80, critical=0.90, for_s=60.0),
    AlertRule("HighMemory", "memory_frac", warning=0.85, critical=0.95, for_s=60.0),
)


# With a network bandwidth (`network.nic_bandwidth_bps`) the defaults add a rule on the
# interface: simscale's choice, the service's CPU thresholds applied to the busier direction.
NETWORK_RULE = AlertRule("HighNetwork", "network_util_frac", warning=0.80, critical=0.90,
                         for_s=60.0)


def rules_from_spec(spec: AlertsSpec | None, network: bool = False) -> tuple[AlertRule, ...]:
    """The rules a spec's [alerts] section asks for (None: the defaults). Disabled: no
    rules. network: the run models a network bandwidth (the defaults include NETWORK_RULE)."""
    defaults_all = DEFAULT_RULES + ((NETWORK_RULE,) if network else ())
    if spec is None:
        return defaults_all
    if not spec.enabled:
        return ()
    user = [r.rule() for r in spec.rules]
    names = {r.name for r in user}
    defaults = [r for r in defaults_all if r.name not in names] if spec.use_defaults else []
    return tuple(defaults + user)


def spec_rules(spec) -> tuple[AlertRule, ...]:
    """The rules a whole spec runs with (its [alerts] and whether it has a bandwidth)."""
    network = getattr(spec, "network", None)
    bandwidth = network is not None and network.bandwidth_bps is not None
    return rules_from_spec(getattr(spec, "alerts", None), bandwidth)


# ---------------------------------------------------------------- evaluation


class AlertTransition(NamedTuple):
    """A change of a rule's state at `t_s`: severity is warning, critical or resolved."""

    t_s: float
    rule: str
    severity: str
    reason: str

    def as_event(self) -> tuple[str, str, str]:
        """(kind, subject, reason) for events.parquet."""
        return ("alert", self.rule, self.reason)


@dataclass(frozen=True)
class ActiveAlert:
    """A rule that is firing: since when, at which severity, on which value."""

    rule: str
    metric: str
    severity: str
    since_s: float
    value: float
    threshold: float
    comparison: str

    @property
    def message(self) -> str:
        return describe(self.metric, self.value, self.comparison, self.threshold)


def describe(metric: str, value: float, comparison: str, threshold: float) -> str:
    """'latency_p95_s=5.3>5'"""
    return f"{metric}={value:.4g}{comparison}{threshold:g}"


@dataclass
class _RuleState:
    rule: AlertRule
    severity: str | None = None           # None: not firing
    firing_since_s: float = 0.0           # when the current firing began (any severity)
    severity_since_s: float = 0.0         # when the current severity began
    pending_since: dict[str, float] = field(default_factory=dict)  # level → breach start
    value: float = math.nan
    firing_s: float = 0.0                 # completed firing time
    fired: int = 0
    worst: str | None = None              # the highest severity it fired at


class AlertEvaluator:
    """Feeds metric rows through a set of rules; returns transitions; keeps totals.

    observe(row) must be called with rows in time order. Totals: `fired` counts Firing
    transitions to a higher severity than the rule had (none→warning, none→critical,
    warning→critical); firing seconds run from a Firing transition to its Resolved one.
    """

    def __init__(self, rules: tuple[AlertRule, ...] | list[AlertRule]) -> None:
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError("alert rule names must be unique")
        self.rules = tuple(rules)
        self._states = {r.name: _RuleState(r) for r in self.rules}
        self.transitions: list[AlertTransition] = []
        self.fired_by_severity = {s: 0 for s in SEVERITIES}
        self.last_t_s: float | None = None

    def observe(self, row: dict) -> list[AlertTransition]:
        """Evaluate every rule on one metrics row; return the transitions it caused."""
        start = float(row.get("t_s", 0.0) or 0.0)
        span = row.get("interval_s")
        now = start + float(span) if span is not None else start
        self.last_t_s = now
        out: list[AlertTransition] = []
        for state in self._states.values():
            rule = state.rule
            if rule.metric not in row:
                continue  # inactive: this run has no such metric
            value = row[rule.metric]
            if value is None or isinstance(value, bool) or not _is_number(value):
                continue  # no data: keep state and clocks
            value = float(value)
            if math.isnan(value):
                continue
            state.value = value
            for level in SEVERITIES:
                if rule.breaches(value, rule.threshold(level)):
                    state.pending_since.setdefault(level, start)
                else:
                    state.pending_since.pop(level, None)
            severity = None
            for level in SEVERITIES:
                since = state.pending_since.get(level)
                if since is not None and now - since >= rule.for_s - 1e-9:
                    severity = level
            transition = self._move(state, severity, now)
            if transition is not None:
                out.append(transition)
        self.transitions.extend(out)
        return out

    def _move(self, state: _RuleState, severity: str | None, now: float) -> AlertTransition | None:
        old = state.severity
        if severity == old:
            return None
        rule = state.rule
        if severity is None:
            state.firing_s += now - state.firing_since_s
            state.severity = None
            return AlertTransition(now, rule.name, RESOLVED, "Resolved")
        if old is None:
            state.firing_since_s = now
        if old is None or SEVERITIES.index(severity) > SEVERITIES.index(old):
            state.fired += 1
            self.fired_by_severity[severity] += 1
        if state.worst is None or SEVERITIES.index(severity) > SEVERITIES.index(state.worst):
            state.worst = severity
        state.severity = severity
        state.severity_since_s = now
        threshold = rule.threshold(severity)
        what = describe(rule.metric, state.value, rule.comparison, threshold)
        reason = f"Firing:{severity} {what}"
        return AlertTransition(now, rule.name, severity, reason)

    def firing(self) -> tuple[ActiveAlert, ...]:
        """The rules firing now, critical first, then by name."""
        active = [
            ActiveAlert(s.rule.name, s.rule.metric, s.severity, s.firing_since_s, s.value,
                        s.rule.threshold(s.severity), s.rule.comparison)
            for s in self._states.values() if s.severity is not None
        ]
        active.sort(key=lambda a: (-SEVERITIES.index(a.severity), a.rule))
        return tuple(active)

    @property
    def fired(self) -> int:
        return sum(self.fired_by_severity.values())

    def firing_s(self, end_s: float | None = None) -> dict[str, float]:
        """Seconds each rule spent firing, up to `end_s` (default: the last row's end)."""
        end = end_s if end_s is not None else (self.last_t_s or 0.0)
        out = {}
        for name, s in self._states.items():
            total = s.firing_s
            if s.severity is not None:
                total += max(0.0, end - s.firing_since_s)
            out[name] = total
        return out

    def worst_severity(self) -> dict[str, str]:
        """The highest severity each rule that fired reached: {rule: severity}."""
        return {name: s.worst for name, s in self._states.items() if s.worst is not None}

    def summary(self, end_s: float | None = None) -> dict:
        """Totals for summary.json: alerts fired (by severity), the worst severity of each
        rule that fired, seconds firing per rule."""
        return {
            "rules": [r.name for r in self.rules],
            "fired": self.fired,
            "fired_by_severity": dict(self.fired_by_severity),
            "worst_severity": self.worst_severity(),
            "firing_s": self.firing_s(end_s),
            "firing_at_end": [a.rule for a in self.firing()],
        }


def _is_number(value) -> bool:
    return isinstance(value, int | float) or hasattr(value, "__float__")


def evaluate(rules, rows) -> tuple[list[AlertTransition], AlertEvaluator]:
    """Run every row through a fresh evaluator: (all transitions, the evaluator)."""
    evaluator = AlertEvaluator(rules)
    for row in rows:
        evaluator.observe(row)
    return evaluator.transitions, evaluator
