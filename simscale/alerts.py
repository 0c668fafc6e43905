"""Kept only so that simscale/model/alerting.py still imports: the alert rules now live in
simscale.monitoring.alerts and the [alerts] section in simscale.sections.alerts. Remove this
module once the model imports them from there."""

from simscale.monitoring.alerts import AlertEvaluator, Scope, rules_from_spec
from simscale.sections.alerts import AlertsSpec

__all__ = ["AlertEvaluator", "AlertsSpec", "Scope", "rules_from_spec"]
