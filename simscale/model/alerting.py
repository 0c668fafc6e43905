"""Alert rules evaluated on each metrics row as the run produces it.

Firing and resolved transitions go to events.parquet (kind "alert", subject the rule, reason
e.g. "Firing:critical ttft_p95_s=5.3>5"); summary.json counts alerts and seconds firing.
A rule with a latency scope (kinds, latency, percentile) watches a column computed here from
the window's ok responses, unless the model already writes that column (latency_p95_s, …).
"""

from __future__ import annotations

import numpy as np

from simscale.model.request import OK
from simscale.model.seam import Cluster, Hooks
from simscale.monitoring.alerts import AlertEvaluator, Scope, rules_from_spec
from simscale.outputs.columns import ALERTS, ColumnGroup, scoped_latency
from simscale.sections.alerts import AlertsSpec

# Columns the model writes itself; a scope that names one of them needs no extra work.
MODEL_COLUMNS = frozenset({"latency_p50_s", "latency_p95_s", "latency_p99_s", "ttft_p95_s"})


class ScopedLatencies:
    """Per-window values of each latency scope, from the end of every ok request."""

    def __init__(self, scopes: list[Scope]) -> None:
        self.scopes = scopes
        self.values: list[list[float]] = [[] for _ in scopes]

    def on_end(self, req, status: int, now: float) -> None:
        if status != OK:
            return
        kind = req.info.kind
        latency = now - req.info.arrival_s
        for scope, values in zip(self.scopes, self.values):
            if scope.kinds and kind not in scope.kinds:
                continue
            value = scope.value(latency, req.ttft_s)
            if value is not None:
                values.append(value)

    def columns(self) -> dict[str, float | None]:
        """Each scope's percentile over the window (None: no response in scope); resets."""
        out = {}
        for i, scope in enumerate(self.scopes):
            values = self.values[i]
            out[scope.column] = (float(np.percentile(values, scope.percentile))
                                 if values else None)
            self.values[i] = []
        return out


class Alerting:
    """Feeds every metrics row to the evaluator; it runs after the other components' metric
    sources, so rules may watch any column they add (cache hit rate, database p95, …). Its
    columns: each scope's percentile (simscale.outputs.columns.scoped_latency), then
    alerts_firing."""

    def __init__(self, cluster: Cluster, hooks: Hooks, spec: AlertsSpec,
                 network: bool = False) -> None:
        self.cluster = cluster
        rules = rules_from_spec(spec, network)
        self.evaluator = AlertEvaluator(rules)
        scopes = list(dict.fromkeys(r.scope for r in rules if r.scope is not None
                                    and r.scope.column not in MODEL_COLUMNS))
        self.scoped = ScopedLatencies(scopes) if scopes else None
        self._scoped_names = list(dict.fromkeys(scope.column for scope in scopes))
        self.columns = ColumnGroup(ALERTS.owner, ALERTS.when, tuple(
            scoped_latency(name) for name in self._scoped_names) + ALERTS.columns)
        if self.scoped is not None:
            hooks.end.append(self.scoped.on_end)
        hooks.metrics.append(self)
        hooks.summary.append(self.summary)

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """The scopes' percentiles over the window, then the rules firing once the row (with
        them) is evaluated; transitions go to events.parquet at their own times."""
        scoped = self.scoped.columns() if self.scoped is not None else {}
        for transition in self.evaluator.observe({**row, **scoped}):
            self.cluster.event_at(transition.t_s, *transition.as_event())
        return (*(scoped[name] for name in self._scoped_names), len(self.evaluator.firing()))

    def summary(self, out: dict) -> None:
        totals = self.evaluator.summary(self.cluster.now)
        out["alerts_fired"] = totals["fired"]
        out["alerts"] = totals


def attach(cluster: Cluster, hooks: Hooks, spec: AlertsSpec,
           network: bool = False) -> Alerting | None:
    """Build the alerting component when `[alerts]` is enabled (None: off); network: the run
    has a network bandwidth (the defaults then include HighNetwork)."""
    return Alerting(cluster, hooks, spec, network) if spec.enabled else None
