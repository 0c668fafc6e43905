"""Alert rules evaluated on each metrics row as the run produces it.

Firing and resolved transitions go to events.parquet (kind "alert", subject the rule, reason
e.g. "Firing:critical ttft_p95_s=5.3>5"); summary.json counts alerts and seconds firing.
A rule with a latency scope (kinds, latency, percentile) watches a column computed here from
the window's ok responses, unless the model already writes that column (latency_p95_s, …).
"""

from __future__ import annotations

import numpy as np

from simscale.alerts import AlertEvaluator, AlertsSpec, Scope, rules_from_spec
from simscale.model.request import OK

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
    """Feeds every metrics row to the evaluator; it runs after the other components' hooks,
    so rules may watch any column they add (cache hit rate, database p95, …)."""

    def __init__(self, model, spec: AlertsSpec) -> None:
        self.model = model
        rules = rules_from_spec(spec)
        self.evaluator = AlertEvaluator(rules)
        scopes = list(dict.fromkeys(r.scope for r in rules if r.scope is not None
                                    and r.scope.column not in MODEL_COLUMNS))
        self.scoped = ScopedLatencies(scopes) if scopes else None
        if self.scoped is not None:
            model.end_hooks.append(self.scoped.on_end)
        model.metric_hooks.append(self.observe)
        model.summary_hooks.append(self.summary)

    def observe(self, row: dict, now: float, span: float) -> None:
        if self.scoped is not None:
            row.update(self.scoped.columns())
        for transition in self.evaluator.observe(row):
            self.model.events.append((transition.t_s, *transition.as_event()))
        row["alerts_firing"] = len(self.evaluator.firing())

    def summary(self, out: dict) -> None:
        totals = self.evaluator.summary(self.model.now)
        out["alerts_fired"] = totals["fired"]
        out["alerts"] = totals


def attach(model, spec: AlertsSpec) -> Alerting | None:
    return Alerting(model, spec) if spec.enabled else None
