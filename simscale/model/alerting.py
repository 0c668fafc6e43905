"""Alert rules evaluated on each metrics row as the run produces it.

Firing and resolved transitions go to events.parquet (kind "alert", subject the rule, reason
e.g. "Firing:critical latency_p95_s=5.3>5"); summary.json counts alerts and seconds firing.
"""

from __future__ import annotations

from simscale.alerts import AlertEvaluator, AlertsSpec, rules_from_spec


class Alerting:
    """Feeds every metrics row to the evaluator; it runs after the other components' hooks,
    so rules may watch any column they add (cache hit rate, database p95, …)."""

    def __init__(self, model, spec: AlertsSpec) -> None:
        self.model = model
        self.evaluator = AlertEvaluator(rules_from_spec(spec))
        model.metric_hooks.append(self.observe)
        model.summary_hooks.append(self.summary)

    def observe(self, row: dict, now: float, span: float) -> None:
        for transition in self.evaluator.observe(row):
            self.model.events.append((transition.t_s, *transition.as_event()))
        row["alerts_firing"] = len(self.evaluator.firing())

    def summary(self, out: dict) -> None:
        totals = self.evaluator.summary(self.model.now)
        out["alerts_fired"] = totals["fired"]
        out["alerts"] = totals


def attach(model, spec: AlertsSpec) -> Alerting | None:
    return Alerting(model, spec) if spec.enabled else None
