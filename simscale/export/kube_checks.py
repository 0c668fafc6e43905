"""simscale's own checks on exported Kubernetes objects: the rules the real validators do not
enforce.

kubernetes-validate checks types and field names but not the API server's cross-field rules
(minReplicas <= maxReplicas, stabilization windows 0..3600 s, policy periods 1..1800 s) nor
an integer's width; KEDA's ScaledObject has no bundled schema at all. Each check returns one
line per problem, naming the file and the field.
"""

from __future__ import annotations

from typing import Any

from simscale.export.checks import is_int
from simscale.export.limits import MAX_PERIOD_S, MAX_WINDOW_S
from simscale.export.quantity import parse_quantity
from simscale.export.references import check_references
from simscale.export.yamlio import load_yaml_documents

SELECT_POLICIES = ("Max", "Min", "Disabled")
POLICY_TYPES = ("Pods", "Percent")
# Integer fields of the objects simscale writes, by the width the API gives them
# (kubernetes-validate does not check an integer's format).
INT32_FIELDS = frozenset({
    "replicas", "containerPort", "port", "periodSeconds", "timeoutSeconds", "successThreshold",
    "failureThreshold", "minReplicas", "maxReplicas", "averageUtilization", "value",
    "stabilizationWindowSeconds", "pollingInterval", "cooldownPeriod", "minReplicaCount",
    "maxReplicaCount"})
INT64_FIELDS = frozenset({"terminationGracePeriodSeconds"})

def _scaling_rules(rules: Any, where: str) -> list[str]:
    problems = []
    if rules is None:
        return problems
    if not isinstance(rules, dict):
        return [f"{where}: must be a mapping"]
    window = rules.get("stabilizationWindowSeconds")
    if window is not None and not (is_int(window) and 0 <= window <= MAX_WINDOW_S):
        problems.append(f"{where}.stabilizationWindowSeconds: {window!r} must be a whole number "
                        f"of seconds in 0..{MAX_WINDOW_S}")
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        problems.append(f"{where}.selectPolicy: {select!r} is not one of "
                        f"{', '.join(SELECT_POLICIES)}")
    policies = rules.get("policies")
    if policies is not None:
        if not policies:
            problems.append(f"{where}.policies: must hold at least one policy when given")
        for n, policy in enumerate(policies):
            at = f"{where}.policies[{n}]"
            if policy.get("type") not in POLICY_TYPES:
                problems.append(f"{at}.type: {policy.get('type')!r} is not Pods or Percent")
            value = policy.get("value")
            if not (is_int(value) and value >= 1):
                problems.append(f"{at}.value: {value!r} must be a whole number >= 1")
            period = policy.get("periodSeconds")
            if not (is_int(period) and 1 <= period <= MAX_PERIOD_S):
                problems.append(f"{at}.periodSeconds: {period!r} must be a whole number of "
                                f"seconds in 1..{MAX_PERIOD_S}")
    return problems


def _bounds(low: Any, high: Any, where: str, names: tuple[str, str], lowest: int) -> list[str]:
    problems = []
    if not (is_int(low) and low >= lowest):
        problems.append(f"{where}.{names[0]}: {low!r} must be a whole number >= {lowest}")
    if not (is_int(high) and high >= 1):
        problems.append(f"{where}.{names[1]}: {high!r} must be a whole number >= 1")
    if is_int(low) and is_int(high) and low > high:
        problems.append(f"{where}: {names[0]} ({low}) must not exceed {names[1]} ({high})")
    return problems


def check_hpa(obj: dict, source: str = "hpa") -> list[str]:
    """An autoscaling/v2 HorizontalPodAutoscaler: bounds, metrics, behavior."""
    spec = obj.get("spec") or {}
    where = f"{source}: spec"
    problems = _bounds(spec.get("minReplicas", 1), spec.get("maxReplicas"), where,
                       ("minReplicas", "maxReplicas"), 1)
    metrics = spec.get("metrics") or []
    if not metrics:
        problems.append(f"{where}.metrics: at least one metric is needed")
    for n, metric in enumerate(metrics):
        target = ((metric.get(metric.get("type", "").lower()) or {}).get("target") or {})
        average = target.get("averageValue")
        if target.get("type") == "AverageValue":
            try:
                positive = parse_quantity(average) > 0
            except ValueError:
                positive = False
            if not positive:
                problems.append(f"{where}.metrics[{n}].target.averageValue: {average!r} must "
                                "be a positive quantity")
        utilization = target.get("averageUtilization")
        if target.get("type") == "Utilization" and not (is_int(utilization) and utilization >= 1):
            problems.append(f"{where}.metrics[{n}].target.averageUtilization: {utilization!r} "
                            "must be a whole percent >= 1")
    behavior = spec.get("behavior") or {}
    for direction in ("scaleUp", "scaleDown"):
        problems += _scaling_rules(behavior.get(direction), f"{where}.behavior.{direction}")
    return problems


def check_scaled_object(obj: dict, source: str = "scaledobject") -> list[str]:
    """A KEDA ScaledObject (no schema is bundled for it): the fields KEDA requires."""
    spec = obj.get("spec") or {}
    where = f"{source}: spec"
    problems = []
    if not (spec.get("scaleTargetRef") or {}).get("name"):
        problems.append(f"{where}.scaleTargetRef.name: required")
    problems += _bounds(spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100),
                        where, ("minReplicaCount", "maxReplicaCount"), 0)
    for field in ("pollingInterval", "cooldownPeriod"):
        value = spec.get(field)
        if value is not None and not (is_int(value) and value >= (1 if field[0] == "p" else 0)):
            problems.append(f"{where}.{field}: {value!r} must be a whole number of seconds")
    triggers = spec.get("triggers") or []
    if not triggers:
        problems.append(f"{where}.triggers: at least one trigger is needed")
    for n, trigger in enumerate(triggers):
        if not isinstance(trigger.get("type"), str):
            problems.append(f"{where}.triggers[{n}].type: required")
        metadata = trigger.get("metadata")
        if not isinstance(metadata, dict) or not all(isinstance(v, str)
                                                      for v in metadata.values()):
            problems.append(f"{where}.triggers[{n}].metadata: must map names to strings")
    hpa_config = (spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
    behavior = hpa_config.get("behavior") or {}
    for direction in ("scaleUp", "scaleDown"):
        problems += _scaling_rules(behavior.get(direction),
                                   f"{where}.advanced.horizontalPodAutoscalerConfig.behavior."
                                   f"{direction}")
    return problems


def integer_widths(doc: Any, source: str) -> list[str]:
    """Every integer of INT32_FIELDS within int32 and of INT64_FIELDS within int64, each
    problem naming the file and the field's path."""
    problems = []
    stack: list[tuple[str, Any]] = [("", doc)]
    while stack:
        path, node = stack.pop()
        items = node.items() if isinstance(node, dict) else (
            ((f"[{n}]", v) for n, v in enumerate(node)) if isinstance(node, list) else ())
        for key, value in items:
            at = f"{path}{key}" if str(key).startswith("[") else f"{path}.{key}".lstrip(".")
            bits = 32 if key in INT32_FIELDS else 64 if key in INT64_FIELDS else 0
            if bits and is_int(value) and not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
                shown = value if value.bit_length() <= 128 else f"a {value.bit_length()}-bit number"
                problems.append(f"{source}: {at}: {shown} does not fit the field's int{bits}")
            stack.append((at, value))
    return problems


def check_kubernetes(files: dict[str, str]) -> list[str]:
    """Every manifest: integers within their widths, the HPA's and ScaledObject's rules,
    replicas within their bounds, and every name referred to present (check_references)."""
    problems: list[str] = []
    bounds = None
    replicas = None
    every: list[dict] = []
    for name, text in files.items():
        for doc in load_yaml_documents(text, name):
            every.append(doc)
            problems += integer_widths(doc, name)
            kind = doc.get("kind")
            if kind == "HorizontalPodAutoscaler":
                problems += check_hpa(doc, name)
                spec = doc.get("spec", {})
                bounds = (spec.get("minReplicas", 1), spec.get("maxReplicas"))
            elif kind == "ScaledObject":
                problems += check_scaled_object(doc, name)
                spec = doc.get("spec", {})
                bounds = (spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100))
            elif kind == "Deployment":
                replicas = (doc.get("spec") or {}).get("replicas")
    if bounds and is_int(replicas) and all(is_int(b) for b in bounds):
        if not max(bounds[0], 1) <= replicas <= bounds[1]:
            problems.append(f"deployment.yaml: spec.replicas ({replicas}) is outside the "
                            f"autoscaler's bounds {bounds[0]}..{bounds[1]}")
    return problems + check_references(every)
