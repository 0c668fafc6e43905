"""`simscale import`: read production configuration back into a spec fragment.

Two inputs are understood:

- a Kubernetes HorizontalPodAutoscaler (autoscaling/v2, YAML or JSON, possibly among other
  documents) → [autoscaling] with policy "target_tracking"; a KEDA ScaledObject with one
  in-flight Prometheus trigger → policy "concurrency";
- an nginx configuration with an `upstream` block → [balancer], [instances] count,
  [resilience.outlier_detection] (max_fails / fail_timeout), [resilience.retry]
  (proxy_next_upstream_tries), [resilience.rate_limit] (limit_req) and [timeouts].

The fragment holds exactly what the file expresses (for example outlier detection with a
fixed ejection time), so exporting it again writes the same file. Problems are InputErrors
naming the file and the directive or field.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from simscale.errors import InputError
from simscale.export.balancing import KEY_HEADERS
from simscale.export.kubernetes import POD_METRICS, RESOURCE_METRICS
from simscale.export.nginx import NEXT_UPSTREAM, header_variable
from simscale.export.quantity import parse_quantity

HEADER_KEYS = {header_variable(h): key for key, h in KEY_HEADERS.items()}
METRIC_BY_SERIES = {series: metric for metric, series in POD_METRICS.items()}
METRIC_BY_RESOURCE = {name: metric for metric, name in RESOURCE_METRICS.items()}


def import_file(path: Path) -> tuple[dict, list[str]]:
    """(spec fragment, warnings) read from an HPA/ScaledObject manifest or an nginx config."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    if re.search(r"^\s*upstream\s+\S+\s*\{", text, flags=re.M):
        return import_nginx(text, str(path))
    return import_manifest(text, str(path))


# ---------------------------------------------------------------- kubernetes


def import_manifest(text: str, source: str) -> tuple[dict, list[str]]:
    """The autoscaler of a manifest file (the first HPA or ScaledObject in it)."""
    from simscale.export.yamlio import load_yaml_documents

    docs = load_yaml_documents(text, source)
    items = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List":
            items += doc.get("items") or []
        else:
            items.append(doc)
    for doc in items:
        if isinstance(doc, dict) and doc.get("kind") == "HorizontalPodAutoscaler":
            return import_hpa(doc, source)
        if isinstance(doc, dict) and doc.get("kind") == "ScaledObject":
            return import_scaled_object(doc, source)
    raise InputError(f"{source}: no HorizontalPodAutoscaler or ScaledObject, and no nginx "
                     "upstream block (import reads an HPA manifest or an nginx upstream)")


def _whole(value: Any, where: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise InputError(f"{where}: {value!r} must be a whole number {bound}")
    return value


def _rules(rules: Any, where: str) -> dict | None:
    """HPAScalingRules → simscale ScalingRules fields (None: the direction's defaults)."""
    if rules is None:
        return None
    if not isinstance(rules, dict):
        raise InputError(f"{where}: must be a mapping")
    unknown = set(rules) - {"stabilizationWindowSeconds", "selectPolicy", "policies",
                            "tolerance"}
    if unknown:
        raise InputError(f"{where}.{sorted(unknown)[0]}: unknown field")
    out: dict[str, Any] = {}
    if rules.get("stabilizationWindowSeconds") is not None:
        out["stabilization_window_s"] = _whole(rules["stabilizationWindowSeconds"],
                                               f"{where}.stabilizationWindowSeconds", 0, 3600)
    select = rules.get("selectPolicy", "Max")
    if select not in ("Max", "Min", "Disabled"):
        raise InputError(f"{where}.selectPolicy: {select!r} is not Max, Min or Disabled")
    out["select_policy"] = select
    if rules.get("policies") is not None:
        policies = []
        for n, policy in enumerate(rules["policies"]):
            at = f"{where}.policies[{n}]"
            if policy.get("type") not in ("Pods", "Percent"):
                raise InputError(f"{at}.type: {policy.get('type')!r} is not Pods or Percent")
            policies.append({"type": policy["type"],
                             "value": _whole(policy.get("value"), f"{at}.value", 1),
                             "period_s": _whole(policy.get("periodSeconds"),
                                                f"{at}.periodSeconds", 1, 1800)})
        if not policies:
            raise InputError(f"{where}.policies: empty (omit it for the defaults)")
        out["policies"] = policies
    return out


def _behavior(behavior: Any, where: str, params: dict) -> None:
    behavior = behavior or {}
    tolerances = set()
    for direction, key in (("scaleUp", "scale_up"), ("scaleDown", "scale_down")):
        raw = behavior.get(direction)
        rules = _rules(raw, f"{where}.{direction}")
        if rules is not None and rules != {"select_policy": "Max"}:
            params[key] = rules
        if isinstance(raw, dict) and raw.get("tolerance") is not None:
            tolerances.add(parse_quantity(raw["tolerance"]))
    if len(tolerances) > 1:
        raise InputError(f"{where}: scaleUp and scaleDown tolerances differ; simscale has one "
                         "tolerance")
    if tolerances:
        params["tolerance"] = tolerances.pop()


def _metric(metric: dict, where: str) -> dict:
    kind = metric.get("type")
    if kind == "Resource":
        resource = metric.get("resource") or {}
        name, target = resource.get("name"), resource.get("target") or {}
        if name not in METRIC_BY_RESOURCE:
            raise InputError(f"{where}.resource.name: {name!r} (known: cpu, memory)")
        if target.get("type") != "Utilization":
            raise InputError(f"{where}.resource.target.type: {target.get('type')!r}: simscale "
                             "targets a utilization (a fraction of the request)")
        percent = _whole(target.get("averageUtilization"),
                         f"{where}.resource.target.averageUtilization", 1)
        return {"metric": METRIC_BY_RESOURCE[name], "target": percent / 100}
    if kind == "Pods":
        pods = metric.get("pods") or {}
        name = (pods.get("metric") or {}).get("name")
        target = pods.get("target") or {}
        if name not in METRIC_BY_SERIES:
            raise InputError(f"{where}.pods.metric.name: {name!r} is not a simscale metric "
                             f"(known: {', '.join(METRIC_BY_SERIES)})")
        if target.get("type") != "AverageValue":
            raise InputError(f"{where}.pods.target.type: must be AverageValue")
        try:
            value = parse_quantity(target.get("averageValue"))
        except ValueError as exc:
            raise InputError(f"{where}.pods.target.averageValue: {exc}") from None
        return {"metric": METRIC_BY_SERIES[name], "target": value}
    raise InputError(f"{where}.type: {kind!r} metrics are not supported (Resource cpu/memory "
                     "Utilization, or Pods metrics named like simscale's)")


def import_hpa(doc: dict, source: str) -> tuple[dict, list[str]]:
    """An autoscaling/v2 HPA → [autoscaling] target_tracking."""
    api = doc.get("apiVersion")
    if api != "autoscaling/v2":
        raise InputError(f"{source}: apiVersion {api!r}: only autoscaling/v2 is read")
    spec = doc.get("spec") or {}
    where = f"{source}: spec"
    params: dict[str, Any] = {
        "min_replicas": _whole(spec.get("minReplicas", 1), f"{where}.minReplicas", 1),
        "max_replicas": _whole(spec.get("maxReplicas"), f"{where}.maxReplicas", 1),
    }
    if params["min_replicas"] > params["max_replicas"]:
        raise InputError(f"{where}: minReplicas ({params['min_replicas']}) exceeds "
                         f"maxReplicas ({params['max_replicas']})")
    metrics = spec.get("metrics")
    if metrics:
        params["metrics"] = [_metric(m, f"{where}.metrics[{n}]") for n, m in enumerate(metrics)]
    else:  # the API's default: 80 % average CPU utilization
        params["metrics"] = [{"metric": "cpu_util_frac", "target": 0.8}]
    _behavior(spec.get("behavior"), f"{where}.behavior", params)
    fragment = {"autoscaling": {"enabled": True, "policy": "target_tracking",
                                "params": params}}
    _check_fragment(fragment, source)
    return fragment, []


def import_scaled_object(doc: dict, source: str) -> tuple[dict, list[str]]:
    """A KEDA ScaledObject with one in-flight Prometheus trigger → [autoscaling] concurrency."""
    spec = doc.get("spec") or {}
    where = f"{source}: spec"
    triggers = spec.get("triggers") or []
    series = POD_METRICS["in_flight"]
    if len(triggers) != 1 or triggers[0].get("type") != "prometheus" or series not in str(
            (triggers[0].get("metadata") or {}).get("query", "")):
        raise InputError(f"{where}.triggers: only a single Prometheus trigger on {series} "
                         "(simscale's concurrency policy) can be imported")
    metadata = triggers[0]["metadata"]
    params: dict[str, Any] = {
        "min_replicas": _whole(spec.get("minReplicaCount", 0), f"{where}.minReplicaCount", 0),
        "max_replicas": _whole(spec.get("maxReplicaCount", 100), f"{where}.maxReplicaCount", 1),
    }
    try:
        params["target_in_flight_per_instance"] = float(metadata["threshold"])
        if "activationThreshold" in metadata:
            params["activation_in_flight"] = float(metadata["activationThreshold"])
    except (KeyError, ValueError):
        raise InputError(f"{where}.triggers[0].metadata.threshold: a number is needed") from None
    if "cooldownPeriod" in spec:
        params["cooldown_period_s"] = _whole(spec["cooldownPeriod"], f"{where}.cooldownPeriod",
                                             0, 3600)
    if "pollingInterval" in spec:
        params["sync_period_s"] = _whole(spec["pollingInterval"], f"{where}.pollingInterval",
                                         1, 1800)
    advanced = (spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
    _behavior(advanced.get("behavior"),
              f"{where}.advanced.horizontalPodAutoscalerConfig.behavior", params)
    fragment = {"autoscaling": {"enabled": True, "policy": "concurrency", "params": params}}
    _check_fragment(fragment, source)
    return fragment, []


# ---------------------------------------------------------------- nginx


class _Directive:
    __slots__ = ("name", "args", "children", "line")

    def __init__(self, name: str, args: list[str], line: int) -> None:
        self.name, self.args, self.line = name, args, line
        self.children: list[_Directive] | None = None


def _tokens(text: str, source: str):
    """(token, line) pairs of an nginx config: words, quoted strings, ';', '{', '}'."""
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in ";{}":
            yield c, line
            i += 1
        elif c in "\"'":
            j, buf = i + 1, []
            while j < n and text[j] != c:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                if text[j] == "\n":
                    line += 1
                buf.append(text[j])
                j += 1
            if j >= n:
                raise InputError(f"{source}:{line}: unterminated quoted string")
            yield "".join(buf), line
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in ";{}\"'#":
                j += 1
            yield text[i:j], line
            i = j


def parse_nginx(text: str, source: str) -> list[_Directive]:
    """nginx configuration as a tree of directives; InputError with the line on bad syntax."""
    root: list[_Directive] = []
    stack = [root]
    words: list[tuple[str, int]] = []
    for tok, line in _tokens(text, source):
        if tok == ";":
            if not words:
                raise InputError(f"{source}:{line}: unexpected ';'")
            stack[-1].append(_Directive(words[0][0], [w for w, _ in words[1:]], words[0][1]))
            words = []
        elif tok == "{":
            if not words:
                raise InputError(f"{source}:{line}: unexpected '{{'")
            block = _Directive(words[0][0], [w for w, _ in words[1:]], words[0][1])
            block.children = []
            stack[-1].append(block)
            stack.append(block.children)
            words = []
        elif tok == "}":
            if words or len(stack) == 1:
                raise InputError(f"{source}:{line}: unexpected '}}'")
            stack.pop()
        else:
            words.append((tok, line))
    if words or len(stack) != 1:
        raise InputError(f"{source}: unexpected end of file (a ';' or '}}' is missing)")
    return root


def _walk(nodes: list[_Directive]):
    for node in nodes:
        yield node
        if node.children:
            yield from _walk(node.children)


_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|M|y)?")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000,
          "y": 31536000, None: 1}


def nginx_seconds(text: str, where: str) -> float:
    """An nginx time ("30s", "1500ms", "1m30s", "10") in seconds."""
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise InputError(f"{where}: {text!r} is not an nginx time")
    return total


def _upstream(tree: list[_Directive], source: str) -> tuple[_Directive, _Directive | None]:
    upstreams = [d for d in _walk(tree) if d.name == "upstream" and d.children is not None]
    if not upstreams:
        raise InputError(f"{source}: no upstream block")
    locations = [d for d in _walk(tree) if d.name == "location" and d.children is not None]
    for upstream in upstreams:
        name = upstream.args[0] if upstream.args else ""
        for location in locations:
            for d in location.children:
                if d.name == "proxy_pass" and d.args and d.args[0].rstrip("/") in (
                        f"http://{name}", f"https://{name}"):
                    return upstream, location
    return upstreams[0], (locations[0] if locations else None)


def _method(directives: list[_Directive], source: str, warnings: list[str]) -> tuple[str, dict]:
    """(balancer policy, params) from the upstream's balancing directive."""
    methods = [d for d in directives if d.name in ("least_conn", "random", "hash", "ip_hash",
                                                  "least_time", "sticky")]
    if not methods:
        return "round_robin", {}
    if len(methods) > 1:
        warnings.append(f"{source}:{methods[-1].line}: more than one balancing method; nginx "
                        "uses the last")
    d = methods[-1]
    where = f"{source}:{d.line}: {d.name}"
    if d.name == "least_conn":
        return "least_connections", {}
    if d.name == "random":
        if not d.args:
            return "random", {}
        if d.args[0] == "two" and d.args[1:] in ([], ["least_conn"]):
            return "power_of_two_choices", {"choice_count": 2}
        raise InputError(f"{where}: {' '.join(d.args)!r} (known: random, random two "
                         "least_conn)")
    if d.name == "hash":
        if not d.args or d.args[0] not in HEADER_KEYS:
            known = ", ".join(HEADER_KEYS)
            raise InputError(f"{where}: key {d.args[0] if d.args else ''!r} is not a simscale "
                             f"hash key (known: {known})")
        if d.args[1:] != ["consistent"]:
            warnings.append(f"{where}: without 'consistent' nginx hashes modulo the server "
                            "count; imported as consistent hashing")
        return "consistent_hash", {"key": HEADER_KEYS[d.args[0]]}
    if d.name == "least_time":
        warnings.append(f"{where}: NGINX Plus least_time imported as least_response_time")
        return "least_response_time", {}
    raise InputError(f"{where}: not supported ({d.name} balances on the client address or a "
                     "cookie, which simscale requests do not carry)")


def _server_params(server: _Directive) -> dict[str, str]:
    params = {}
    for arg in server.args[1:]:
        key, sep, value = arg.partition("=")
        params[key] = value if sep else ""
    return params


def import_nginx(text: str, source: str) -> tuple[dict, list[str]]:
    """An nginx upstream (and the location that proxies to it) → a spec fragment."""
    tree = parse_nginx(text, source)
    upstream, location = _upstream(tree, source)
    warnings: list[str] = []
    directives = upstream.children or []
    servers = [d for d in directives if d.name == "server"]
    if not servers:
        raise InputError(f"{source}:{upstream.line}: upstream has no server")
    policy, params = _method(directives, source, warnings)
    weights: dict[str, float] = {}
    health: list[tuple[int, float]] = []
    for n, server in enumerate(servers):
        where = f"{source}:{server.line}: server"
        values = _server_params(server)
        if "weight" in values:
            if not values["weight"].isdigit() or int(values["weight"]) < 1:
                raise InputError(f"{where}: weight={values['weight']}: a whole number >= 1")
            if int(values["weight"]) != 1:
                weights[str(n)] = int(values["weight"])
        if "down" in values:
            warnings.append(f"{where}: down is not modelled (drain the instance instead); "
                            "counted as an instance")
        if "backup" in values:
            warnings.append(f"{where}: backup servers are not modelled; counted as an instance")
        if "slow_start" in values:
            warnings.append(f"{where}: slow_start (NGINX Plus) is not imported")
        max_fails = values.get("max_fails", "1")
        fail_timeout = values.get("fail_timeout", "10s")
        if not max_fails.isdigit():
            raise InputError(f"{where}: max_fails={max_fails}: a whole number is needed")
        health.append((int(max_fails), nginx_seconds(fail_timeout, f"{where}: fail_timeout")))
    if weights:
        if policy == "round_robin":
            policy = "weighted_round_robin"
            params = {"weights": weights}
        else:
            warnings.append(f"{source}:{upstream.line}: server weights are only modelled by "
                            f"round robin; ignored for {policy}")
    fragment: dict[str, Any] = {"instances": {"count": len(servers)},
                                "balancer": {"policy": policy, "params": params}}
    first_health = health[0]
    if len(set(health)) > 1:
        warnings.append(f"{source}:{upstream.line}: servers differ in max_fails/fail_timeout; "
                        "the first server's are used")
    max_fails, fail_timeout = first_health
    resilience: dict[str, Any] = {}
    if max_fails > 0:
        resilience["outlier_detection"] = {
            "consecutive_5xx": max_fails, "base_ejection_time_s": fail_timeout,
            "max_ejection_time_s": fail_timeout, "max_ejection_percent": 100.0}
    if location is not None:
        _location(location.children or [], source, fragment, resilience,
                  _limit_zones(tree, source), len(servers))
    if resilience:
        fragment["resilience"] = resilience
    _check_fragment(fragment, source)
    return fragment, warnings


def _location(directives: list[_Directive], source: str, fragment: dict, resilience: dict,
              zones: dict[str, tuple[str, float]], servers: int) -> None:
    by_name = {d.name: d for d in directives}
    if "proxy_read_timeout" in by_name:
        d = by_name["proxy_read_timeout"]
        fragment["timeouts"] = {"request_s": nginx_seconds(
            d.args[0] if d.args else "", f"{source}:{d.line}: proxy_read_timeout")}
    tries = 0
    if "proxy_next_upstream_tries" in by_name:
        d = by_name["proxy_next_upstream_tries"]
        if not d.args or not d.args[0].isdigit():
            raise InputError(f"{source}:{d.line}: proxy_next_upstream_tries: a whole number "
                             "is needed")
        tries = int(d.args[0])
    conditions = set(by_name["proxy_next_upstream"].args) if "proxy_next_upstream" in by_name \
        else {"error", "timeout"}
    if tries != 1 and "off" not in conditions:
        retry: dict[str, Any] = {"max_attempts": tries if tries > 1 else max(2, servers),
                                 "budget_ratio": "none"}
        retry_on = []
        if conditions & (set(NEXT_UPSTREAM) - {"timeout"}):
            retry_on.append("error")
        if "timeout" in conditions:
            retry_on.append("timeout")
        retry["retry_on"] = retry_on or ["error"]
        if "proxy_next_upstream_timeout" in by_name:
            d = by_name["proxy_next_upstream_timeout"]
            seconds = nginx_seconds(d.args[0] if d.args else "",
                                    f"{source}:{d.line}: proxy_next_upstream_timeout")
            if seconds > 0:
                retry["overall_timeout_s"] = seconds
        resilience["retry"] = retry
    limits = []
    for d in directives:
        if d.name != "limit_req":
            continue
        args = dict(a.partition("=")[::2] for a in d.args)
        zone = args.get("zone", "")
        if zone not in zones:
            raise InputError(f"{source}:{d.line}: limit_req zone={zone}: no such "
                             "limit_req_zone")
        key, rate = zones[zone]
        if not (args.get("burst") or "0").isdigit():
            raise InputError(f"{source}:{d.line}: limit_req burst={args.get('burst')}: a whole "
                             "number is needed")
        burst = float(int(args.get("burst") or 0) + 1)
        if key == "$server_name":
            limits.append({"policy": "token_bucket",
                           "params": {"rate_per_s": rate, "burst": burst}})
        elif key == header_variable(KEY_HEADERS["user_id"]):
            limits.append({"policy": "per_user_token_bucket",
                           "params": {"rate_per_s": rate, "burst": burst}})
        else:
            raise InputError(f"{source}:{d.line}: limit_req zone={zone}: key {key} is not "
                             "$server_name (one bucket) or $http_x_user_id (one per user)")
    if limits:
        resilience["rate_limit"] = limits


def _limit_zones(tree: list[_Directive], source: str) -> dict[str, tuple[str, float]]:
    """limit_req_zone name → (key, requests per second)."""
    zones = {}
    for d in _walk(tree):
        if d.name != "limit_req_zone":
            continue
        args = dict(a.partition("=")[::2] for a in d.args[1:])
        name = args.get("zone", "").split(":")[0]
        match = re.fullmatch(r"(\d+)r/(s|m)", args.get("rate", ""))
        if not d.args or not name or not match:
            raise InputError(f"{source}:{d.line}: limit_req_zone: expected KEY "
                             "zone=NAME:SIZE rate=Nr/s (or Nr/m)")
        rate = int(match.group(1)) / (1 if match.group(2) == "s" else 60)
        zones[name] = (d.args[0], rate)
    return zones


def _check_fragment(fragment: dict, source: str) -> None:
    """Validate the fragment's sections against the spec model (errors name the field)."""
    from pydantic import ValidationError

    from simscale.spec import Spec

    for section, data in fragment.items():
        if section == "instances":  # only the count is known; slots come from the spec
            continue
        field = Spec.model_fields[section]
        try:
            field.annotation.model_validate(data)  # type: ignore[union-attr]
        except ValidationError as exc:
            lines = []
            for error in exc.errors():
                loc = ".".join(str(p) for p in (section, *error["loc"]))
                lines.append(f"{source}: {loc}: {error['msg'].removeprefix('Value error, ')}")
            raise InputError(lines) from None


# ---------------------------------------------------------------- TOML out


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def fragment_toml(fragment: dict, header: str = "") -> str:
    """A fragment as TOML: [section] and [section.sub] tables, deeper values inline."""
    lines = [f"# {line}" for line in header.splitlines()] if header else []

    def table(path: list[str], data: dict, depth: int) -> None:
        scalars = {k: v for k, v in data.items() if not (isinstance(v, dict) and depth < 2)}
        if scalars or len(scalars) == len(data):  # a table of sub-tables needs no header
            if lines:
                lines.append("")
            lines.append(f"[{'.'.join(_key(p) for p in path)}]")
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
        for k, v in data.items():
            if isinstance(v, dict) and depth < 2:
                table([*path, k], v, depth + 1)

    for section, data in fragment.items():
        table([section], data, 1)
    return "\n".join(lines) + "\n"
