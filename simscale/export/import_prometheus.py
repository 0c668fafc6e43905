"""Import Prometheus alerting rules (a rules file or a PrometheusRule) as [alerts].

The part simscale reads is a pydantic model (strict: a string is never a number): groups of
rules, each a recording rule or an alert with `expr`, `for` and `labels.severity`. An alert
whose expression is `RECORD{…} OP THRESHOLD`, with RECORD one of the series the prometheus
target records (simscale.export.prometheus.metric_of_record), becomes one level of a simscale
rule: alerts of one name with severity warning and critical are the two thresholds of one
rule. Any other alert is left out with a warning naming it. The fragment sets
`use_defaults = false` and lists every rule, so exporting it again writes the same rules.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import Field, StrictStr

from simscale.errors import InputError
from simscale.export.fragment import check_fragment
from simscale.export.import_kubernetes import _Read, validate_object
from simscale.export.prometheus import SEVERITIES, metric_of_record, parse_duration

MAX_RULES = 10_000
_EXPR = re.compile(r"\s*(?P<record>[A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{[^{}]*\})?\s*"
                   r"(?P<op>>=|<=|>|<)\s*(?P<value>[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*")


class RuleIn(_Read):
    alert: StrictStr | None = None
    record: StrictStr | None = None
    expr: StrictStr
    for_: StrictStr | None = Field(None, alias="for")
    labels: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class GroupIn(_Read):
    name: StrictStr
    rules: Annotated[list[RuleIn], Field(max_length=MAX_RULES)] = Field(default_factory=list)


class RulesIn(_Read):
    groups: Annotated[list[GroupIn], Field(max_length=MAX_RULES)]


def rules_document(docs: list[Any], source: str) -> tuple[Any, str]:
    """(the groups mapping, the field path prefix) of a rules file or a PrometheusRule."""
    for n, doc in enumerate(docs):
        at = f"document {n + 1}: " if len(docs) > 1 else ""
        if isinstance(doc, dict) and doc.get("kind") == "PrometheusRule":
            return doc.get("spec"), f"{source}: {at}spec."
        if isinstance(doc, dict) and "groups" in doc:
            return doc, f"{source}: {at}"
    raise InputError(f"{source}: no Prometheus rule groups")


def _level(rule: RuleIn, where: str) -> tuple[str, str, float, str]:
    """(metric, comparison, threshold, severity) of one alert; InputError naming it."""
    match = _EXPR.fullmatch(rule.expr)
    metric = metric_of_record(match["record"]) if match else None
    if metric is None:
        raise ValueError(f"expr {rule.expr[:80]!r} is not RECORD OP THRESHOLD over a series "
                         "the prometheus target records")
    threshold = float(match["value"])
    if not math.isfinite(threshold):
        raise InputError(f"{where}.expr: {match['value']!r} is not a finite threshold")
    severity = rule.labels.get("severity")
    if severity not in SEVERITIES:
        raise InputError(f"{where}.labels.severity: {severity!r} must be warning or critical")
    return metric, match["op"], threshold, severity


def import_rules(text: str, source: str) -> tuple[dict, list[str]]:
    """([alerts] fragment, warnings) of a Prometheus rules file or PrometheusRule."""
    from simscale.export.yamlio import load_yaml_documents

    document, prefix = rules_document(load_yaml_documents(text, source), source)
    parsed = validate_object(RulesIn, document, prefix)
    rules: dict[str, dict] = {}
    warnings = []
    for g, group in enumerate(parsed.groups):
        for r, rule in enumerate(group.rules):
            if rule.alert is None:
                continue
            where = f"{prefix}groups[{g}].rules[{r}]"
            try:
                metric, op, threshold, severity = _level(rule, where)
            except ValueError as exc:
                warnings.append(f"{where} ({rule.alert}): {exc}; left out")
                continue
            try:
                for_s = parse_duration(rule.for_) if rule.for_ else 0.0
            except ValueError as exc:
                raise InputError(f"{where}.for: {exc}") from None
            entry = rules.setdefault(rule.alert, {"name": rule.alert, "metric": metric,
                                                  "comparison": op, "for_s": for_s})
            if (entry["metric"], entry["comparison"], entry["for_s"]) != (metric, op, for_s):
                raise InputError(f"{where} ({rule.alert}): its levels differ in metric, "
                                 "comparison or for; simscale gives one rule one of each")
            if severity in entry:
                raise InputError(f"{where} ({rule.alert}): a second {severity} level")
            entry[severity] = threshold
    fragment = {"alerts": {"use_defaults": False, "rules": [
        {k: rule[k] for k in ("name", "metric", "warning", "critical", "for_s", "comparison")
         if k in rule} for rule in rules.values()]}}
    check_fragment(fragment, source)
    return fragment, warnings
