"""Import an autoscaling/v2 HorizontalPodAutoscaler or a KEDA ScaledObject as [autoscaling].

The part of each object that simscale reads is a pydantic model below: strict types (a
string is never a number, a bool never an int), the API's bounds (int32 counts, windows
0..3600 s, policy periods 1..1800 s), fields simscale does not read ignored. Every problem
is an InputError naming the file, the document when there are several, and the field path
(`spec.metrics[0].resource.target.averageUtilization`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from simscale.errors import InputError
from simscale.export.fragment import check_fragment
from simscale.export.kubernetes import POD_METRICS, RESOURCE_METRICS
from simscale.export.limits import INT32_MAX, show
from simscale.export.quantity import parse_quantity

METRIC_BY_SERIES = {series: metric for metric, series in POD_METRICS.items()}
METRIC_BY_RESOURCE = {name: metric for metric, name in RESOURCE_METRICS.items()}
KINDS = ("HorizontalPodAutoscaler", "ScaledObject")

Count = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]
Positive = Annotated[StrictInt, Field(ge=1, le=INT32_MAX)]
Quantity = StrictStr | StrictInt | StrictFloat


class _Read(BaseModel):
    """A part of a manifest simscale reads: values are not coerced; other fields are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class ScalingPolicyIn(_Read):
    type: Literal["Pods", "Percent"]
    value: Positive
    periodSeconds: Annotated[StrictInt, Field(ge=1, le=1800)]


class ScalingRulesIn(_Read):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    stabilizationWindowSeconds: Annotated[StrictInt, Field(ge=0, le=3600)] | None = None
    selectPolicy: Literal["Max", "Min", "Disabled"] = "Max"
    policies: Annotated[list[ScalingPolicyIn], Field(min_length=1)] | None = None
    tolerance: Quantity | None = None


class BehaviorIn(_Read):
    scaleUp: ScalingRulesIn | None = None
    scaleDown: ScalingRulesIn | None = None


class MetricTargetIn(_Read):
    type: StrictStr
    averageUtilization: Positive | None = None
    averageValue: Quantity | None = None


class ResourceMetricIn(_Read):
    name: StrictStr
    target: MetricTargetIn


class MetricIdentifierIn(_Read):
    name: StrictStr


class PodsMetricIn(_Read):
    metric: MetricIdentifierIn
    target: MetricTargetIn


class MetricIn(_Read):
    type: StrictStr
    resource: ResourceMetricIn | None = None
    pods: PodsMetricIn | None = None


class HpaSpecIn(_Read):
    minReplicas: Positive = 1
    maxReplicas: Positive
    metrics: list[MetricIn] | None = None
    behavior: BehaviorIn | None = None


class HpaIn(_Read):
    apiVersion: Literal["autoscaling/v2"]
    kind: Literal["HorizontalPodAutoscaler"]
    spec: HpaSpecIn


class TriggerIn(_Read):
    type: StrictStr
    metadata: dict[StrictStr, StrictStr] = Field(default_factory=dict)


class HpaConfigIn(_Read):
    behavior: BehaviorIn | None = None


class AdvancedIn(_Read):
    horizontalPodAutoscalerConfig: HpaConfigIn | None = None


class ScaledObjectSpecIn(_Read):
    minReplicaCount: Count = 0
    maxReplicaCount: Positive = 100
    cooldownPeriod: Annotated[StrictInt, Field(ge=0, le=3600)] | None = None
    pollingInterval: Annotated[StrictInt, Field(ge=1, le=1800)] | None = None
    advanced: AdvancedIn | None = None
    triggers: list[TriggerIn] = Field(min_length=1)


class ScaledObjectIn(_Read):
    kind: Literal["ScaledObject"]
    spec: ScaledObjectSpecIn


# ---------------------------------------------------------------- reading


def _where(loc: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


_MESSAGES = {"model_type": "must be a mapping", "dict_type": "must be a mapping",
             "list_type": "must be a list", "int_type": "must be a whole number",
             "string_type": "must be a string", "missing": "required",
             "extra_forbidden": "unknown field"}


def _problem(error: dict, where: str) -> str:
    message = _MESSAGES.get(error["type"], error["msg"])
    value = error.get("input")
    if error["type"] != "missing" and isinstance(value, str | int | float | bool | None):
        shown = repr(value[:40]) if isinstance(value, str) else show(value)
        message = f"{shown}: {message}"
    return f"{where}{_where(error['loc'])}: {message}"


def validate_object(model: type[_Read], doc: Any, where: str) -> Any:
    """`doc` as `model`; InputError with one line per problem, each `where` + field path."""
    from pydantic import ValidationError

    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise InputError([_problem(e, where) for e in exc.errors()]) from None


def import_manifest(text: str, source: str) -> tuple[dict, list[str]]:
    """The autoscaler of a manifest file (the first HPA or ScaledObject in it, possibly inside
    a List)."""
    from simscale.export.yamlio import load_yaml_documents

    docs = load_yaml_documents(text, source)
    for n, doc in enumerate(docs):
        at = f"document {n + 1}: " if len(docs) > 1 else ""
        candidates = [("", doc)]
        if isinstance(doc, dict) and doc.get("kind") == "List":
            items = doc.get("items")
            if not isinstance(items, list):
                raise InputError(f"{source}: {at}items: must be a list")
            candidates = [(f"items[{i}].", item) for i, item in enumerate(items)]
        for prefix, item in candidates:
            kind = item.get("kind") if isinstance(item, dict) else None
            if kind == "HorizontalPodAutoscaler":
                return import_hpa(item, source, at + prefix)
            if kind == "ScaledObject":
                return import_scaled_object(item, source, at + prefix)
    raise InputError(f"{source}: no HorizontalPodAutoscaler or ScaledObject, and no nginx "
                     "upstream block (import reads an HPA manifest or an nginx upstream)")


def _quantity(value: Any, where: str) -> float:
    try:
        return parse_quantity(value)
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def _rules(rules: ScalingRulesIn | None) -> dict | None:
    """HPAScalingRules → simscale ScalingRules fields (None: the direction's defaults)."""
    if rules is None:
        return None
    out: dict[str, Any] = {}
    if rules.stabilizationWindowSeconds is not None:
        out["stabilization_window_s"] = rules.stabilizationWindowSeconds
    out["select_policy"] = rules.selectPolicy
    if rules.policies is not None:
        out["policies"] = [{"type": p.type, "value": p.value, "period_s": p.periodSeconds}
                           for p in rules.policies]
    return out


def _behavior(behavior: BehaviorIn | None, where: str, params: dict) -> None:
    tolerances = set()
    for direction, key in (("scaleUp", "scale_up"), ("scaleDown", "scale_down")):
        raw = getattr(behavior, direction) if behavior is not None else None
        rules = _rules(raw)
        if rules is not None and rules != {"select_policy": "Max"}:
            params[key] = rules
        if raw is not None and raw.tolerance is not None:
            tolerances.add(_quantity(raw.tolerance, f"{where}.{direction}.tolerance"))
    if len(tolerances) > 1:
        raise InputError(f"{where}: scaleUp and scaleDown tolerances differ; simscale has one "
                         "tolerance")
    if tolerances:
        params["tolerance"] = tolerances.pop()


def _metric(metric: MetricIn, where: str) -> dict:
    if metric.type == "Resource":
        if metric.resource is None:
            raise InputError(f"{where}.resource: required for a Resource metric")
        name, target = metric.resource.name, metric.resource.target
        if name not in METRIC_BY_RESOURCE:
            raise InputError(f"{where}.resource.name: {name[:40]!r} (known: cpu, memory)")
        if target.type != "Utilization" or target.averageUtilization is None:
            raise InputError(f"{where}.resource.target: simscale targets a utilization (type "
                             "Utilization with averageUtilization, a percent of the request)")
        return {"metric": METRIC_BY_RESOURCE[name], "target": target.averageUtilization / 100}
    if metric.type == "Pods":
        if metric.pods is None:
            raise InputError(f"{where}.pods: required for a Pods metric")
        name, target = metric.pods.metric.name, metric.pods.target
        if name not in METRIC_BY_SERIES:
            raise InputError(f"{where}.pods.metric.name: {name[:40]!r} is not a simscale "
                             f"metric (known: {', '.join(METRIC_BY_SERIES)})")
        if target.type != "AverageValue" or target.averageValue is None:
            raise InputError(f"{where}.pods.target: must be AverageValue with averageValue")
        value = _quantity(target.averageValue, f"{where}.pods.target.averageValue")
        return {"metric": METRIC_BY_SERIES[name], "target": value}
    raise InputError(f"{where}.type: {metric.type[:40]!r} metrics are not supported (Resource "
                     "cpu/memory Utilization, or Pods metrics named like simscale's)")


def import_hpa(doc: Any, source: str, at: str = "") -> tuple[dict, list[str]]:
    """An autoscaling/v2 HPA → [autoscaling] target_tracking. Problems name `source` and,
    after `at` (the document or List item, if any), the field path."""
    where = f"{source}: {at}"
    hpa = validate_object(HpaIn, doc, where).spec
    params: dict[str, Any] = {"min_replicas": hpa.minReplicas, "max_replicas": hpa.maxReplicas}
    if hpa.minReplicas > hpa.maxReplicas:
        raise InputError(f"{where}spec: minReplicas ({hpa.minReplicas}) exceeds maxReplicas "
                         f"({hpa.maxReplicas})")
    if hpa.metrics:
        params["metrics"] = [_metric(m, f"{where}spec.metrics[{n}]")
                             for n, m in enumerate(hpa.metrics)]
    else:  # the API's default: 80 % average CPU utilization
        params["metrics"] = [{"metric": "cpu_util_frac", "target": 0.8}]
    _behavior(hpa.behavior, f"{where}spec.behavior", params)
    fragment = {"autoscaling": {"enabled": True, "policy": "target_tracking",
                                "params": params}}
    check_fragment(fragment, source)
    return fragment, []


# A decimal number of bounded length (float() also takes "nan", "inf", "1_0" and spaces).
_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})"
                     r"(?:[eE][+-]?[0-9]{1,3})?")


def _number(text: str, where: str, allow_zero: bool = False) -> float:
    """A KEDA metadata number (a string) as a finite float > 0 (>= 0 with allow_zero)."""
    value = float(text) if _NUMBER.fullmatch(text.strip()) else math.nan
    if not (0 <= value < math.inf and (allow_zero or value > 0)):
        raise InputError(f"{where}: {text[:40]!r}: a positive number is needed")
    return value


def import_scaled_object(doc: Any, source: str, at: str = "") -> tuple[dict, list[str]]:
    """A KEDA ScaledObject with one in-flight Prometheus trigger → [autoscaling] concurrency."""
    where = f"{source}: {at}"
    spec = validate_object(ScaledObjectIn, doc, where).spec
    series = POD_METRICS["in_flight"]
    trigger = spec.triggers[0]
    if len(spec.triggers) != 1 or trigger.type != "prometheus" or series not in (
            trigger.metadata.get("query", "")):
        raise InputError(f"{where}spec.triggers: only a single Prometheus trigger on {series} "
                         "(simscale's concurrency policy) can be imported")
    at = f"{where}spec.triggers[0].metadata"
    if "threshold" not in trigger.metadata:
        raise InputError(f"{at}.threshold: required")
    params: dict[str, Any] = {
        "min_replicas": spec.minReplicaCount, "max_replicas": spec.maxReplicaCount,
        "target_in_flight_per_instance": _number(trigger.metadata["threshold"],
                                                 f"{at}.threshold")}
    if "activationThreshold" in trigger.metadata:
        params["activation_in_flight"] = _number(trigger.metadata["activationThreshold"],
                                                 f"{at}.activationThreshold", allow_zero=True)
    if spec.cooldownPeriod is not None:
        params["cooldown_period_s"] = spec.cooldownPeriod
    if spec.pollingInterval is not None:
        params["sync_period_s"] = spec.pollingInterval
    config = spec.advanced.horizontalPodAutoscalerConfig if spec.advanced else None
    _behavior(config.behavior if config else None,
              f"{where}spec.advanced.horizontalPodAutoscalerConfig.behavior", params)
    fragment = {"autoscaling": {"enabled": True, "policy": "concurrency", "params": params}}
    check_fragment(fragment, source)
    return fragment, []
