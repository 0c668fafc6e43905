"""The prometheus target: the spec's alert rules as Prometheus recording and alerting rules, a
PrometheusRule manifest, and promtool unit tests that pin each rule to its threshold.

Metric names follow Prometheus's naming practices (base units, `_total` counters, `_seconds`
histograms), as `simscale serve` names its own series (`simscale_serve_requests_total{status}`,
`simscale_serve_request_seconds_bucket`) and as common client libraries and exporters name
theirs: the app exposes `http_requests_total{status}`, `http_request_duration_seconds`
(a histogram; `streamed="true"` on answers streamed from the LLM), `http_requests_in_flight`
and the process collector's `process_cpu_seconds_total` and `process_resident_memory_bytes`
(prom-client and prometheus_client both export these); the time to first token is
OpenTelemetry's `gen_ai.server.time_to_first_token` histogram as Prometheus names it; the
cache is read through redis_exporter (`redis_keyspace_hits_total`, `..._misses_total`) in the
scrape job NAME-redis. Each simscale metric becomes one recording rule (`job:…`, labelled
job=NAME) over a rate window of RATE_WINDOW; an alert compares the recorded series with the
rule's threshold for the rule's `for`. SERIES below is the mapping; a rule on a metric it
does not hold is left out (a Loss).

A rule with a warning and a critical threshold becomes two alerting rules of the same name
with `severity: warning` and `severity: critical`. alerts.test.yml holds, for every alert,
a promtool unit test fed the smallest breaching value (the threshold itself for >= and <=,
the next float beyond it for > and <) and the largest value that does not breach: the alert
fires after exactly `for` at the first and never at the second, so Prometheus and the
simulator's evaluator agree at the boundary.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from simscale.errors import InputError
from simscale.export.base import Losses, token
from simscale.export.limits import finite
from simscale.export.plan import Plan
from simscale.export.yamlio import dump_yaml

RULES_FILE = "alerts.rules.yml"
TESTS_FILE = "alerts.test.yml"
MANIFEST_FILE = "prometheusrule.yaml"
RATE_WINDOW_S = 60          # 4 scrapes at Prometheus's common 15 s interval
SEVERITIES = ("warning", "critical")
_QUANTILE = re.compile(r"(latency|api_latency|ttft)_p(\d+(?:\.\d+)?)_s")


@dataclass(frozen=True)
class Series:
    """A simscale metric as Prometheus computes it: the recorded series and its expression
    (`{job}` the service, `{w}` the rate window, `{cores}`/`{memory_bytes}` per instance)."""

    record: str
    expr: str


SERIES = {
    "error_rate": Series(
        "job:http_requests:error_ratio",
        'sum(rate(http_requests_total{{job="{job}",status=~"5..|429"}}[{w}])) / '
        'sum(rate(http_requests_total{{job="{job}"}}[{w}]))'),
    "arrivals_rps": Series("job:http_requests:rate",
                           'sum(rate(http_requests_total{{job="{job}"}}[{w}]))'),
    "throughput_rps": Series("job:http_requests:ok_rate",
                             'sum(rate(http_requests_total{{job="{job}",status=~"2.."}}[{w}]))'),
    "cpu_util_frac": Series("job:process_cpu_seconds:utilization",
                            'avg(rate(process_cpu_seconds_total{{job="{job}"}}[{w}])) / {cores}'),
    "memory_frac": Series("job:process_resident_memory_bytes:utilization",
                          'avg(process_resident_memory_bytes{{job="{job}"}}) / {memory_bytes}'),
    "in_flight": Series("job:http_requests_in_flight:sum",
                        'sum(http_requests_in_flight{{job="{job}"}})'),
    "instances_ready": Series("job:up:sum", 'sum(up{{job="{job}"}})'),
    "cache_hit_rate": Series(
        "job:redis_keyspace:hit_ratio",
        'sum(rate(redis_keyspace_hits_total{{job="{job}-redis"}}[{w}])) / '
        '(sum(rate(redis_keyspace_hits_total{{job="{job}-redis"}}[{w}])) + '
        'sum(rate(redis_keyspace_misses_total{{job="{job}-redis"}}[{w}])))'),
}
_HISTOGRAMS = {
    "latency": ("http_request_duration_seconds", "", ""),
    "api_latency": ("http_request_duration_seconds", ',streamed="false"', "api_"),
    "ttft": ("gen_ai_server_time_to_first_token_seconds", "", ""),
}


def series_for(metric: str) -> Series | None:
    """The Prometheus form of a metrics.parquet column (None: not expressible)."""
    if metric in SERIES:
        return SERIES[metric]
    match = _QUANTILE.fullmatch(metric)
    if match is None:
        return None
    kind, percent = match.groups()
    base, selector, prefix = _HISTOGRAMS[kind]
    quantile = Decimal(percent) / 100
    if not 0 < quantile < 1:
        return None
    return Series(f"job:{base}:{prefix}p{percent.replace('.', '_')}",
                  f"histogram_quantile({quantile}, sum by (le) (rate({base}_bucket"
                  f'{{{{job="{{job}}"{selector}}}}}[{{w}}])))')


def metric_of_record(record: str) -> str | None:
    """The simscale metric a recorded series stands for (the inverse of series_for)."""
    for metric, series in SERIES.items():
        if series.record == record:
            return metric
    match = re.fullmatch(r"job:(\w+?):(api_)?p(\d+(?:_\d+)?)", record)
    if match is None:
        return None
    base, api, percent = match.groups()
    kind = {"http_request_duration_seconds": "api_latency" if api else "latency",
            "gen_ai_server_time_to_first_token_seconds": "ttft"}.get(base)
    if kind is None or (api and kind == "ttft"):
        return None
    return f"{kind}_p{percent.replace('_', '.')}_s"


def duration(value_s: float) -> str:
    """A Prometheus duration in whole milliseconds: "1m", "90s", "1500ms", "0s"."""
    ms = round(value_s * 1000)
    if ms % 60_000 == 0 and ms:
        return f"{ms // 60_000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration such as "1m30s" (ValueError otherwise)."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a Prometheus duration")
    return sum(int(n) * units[u] for n, u in parts)


def _threshold(value: float, field: str) -> str:
    if not finite(value):
        raise InputError(f"{field}: {value!r} is not a finite threshold")
    return repr(float(value))


def _recording(plan: Plan, metrics: list[str]) -> list[dict]:
    values = {"job": plan.name, "w": duration(RATE_WINDOW_S), "cores": plan.cores,
              "memory_bytes": int(math.ceil(plan.memory_limit_mb * (1 << 20)))}
    out = []
    for metric in metrics:
        series = series_for(metric)
        out.append({"record": series.record, "expr": series.expr.format(**values),
                    "labels": {"job": plan.name}})
    return out


def alerting_rules(plan: Plan, losses: Losses) -> tuple[list[dict], list[str]]:
    """(alerting rules, the metrics they read), rules in spec order, warning then critical."""
    alerts, metrics = [], []
    for n, rule in enumerate(plan.alert_rules):
        series = series_for(rule.metric)
        if series is None:
            losses.lose(f"alerts.rules.{rule.name}",
                        f"no Prometheus series for the metric {rule.metric!r} (see the "
                        "prometheus target's mapping); the rule is left out")
            continue
        if rule.metric not in metrics:
            metrics.append(rule.metric)
        for severity in SEVERITIES:
            value = rule.threshold(severity)
            if value is None:
                continue
            threshold = _threshold(value, f"alerts.rules.{n}.{severity}")
            alert = {"alert": rule.name,
                     "expr": f'{series.record}{{job="{plan.name}"}} {rule.comparison} '
                             f"{threshold}"}
            if rule.for_s > 0:
                alert["for"] = duration(rule.for_s)
                if abs(parse_duration(alert["for"]) - rule.for_s) > 1e-9:
                    losses.lose(f"alerts.rules.{rule.name}.for_s",
                                f"{rule.for_s:g} s is written as {alert['for']} (whole ms)")
            alert["labels"] = {"severity": severity}
            alert["annotations"] = {
                "summary": f"{rule.name} ({severity}): {rule.metric} {rule.comparison} "
                           f"{value:g}",
                "simscale_metric": rule.metric}
            alerts.append(alert)
    return alerts, metrics


def rules_document(plan: Plan, losses: Losses) -> dict:
    """The rules file: a recording group and an alerting group, evaluated every metrics
    interval."""
    name = token(plan.name, "name")
    alerts, metrics = alerting_rules(plan, losses)
    interval = duration(max(1.0, plan.metrics_interval_s))
    if plan.metrics_interval_s != RATE_WINDOW_S and metrics:
        losses.lose("metrics.interval_s",
                    f"the simulator judges each {plan.metrics_interval_s:g} s window; "
                    f"Prometheus computes rates over {duration(RATE_WINDOW_S)} (four 15 s "
                    f"scrapes), evaluated every {interval}")
    return {"groups": [
        {"name": f"{name}.recording", "interval": interval,
         "rules": _recording(plan, metrics)},
        {"name": f"{name}.alerts", "interval": interval, "rules": alerts},
    ]}


def render(plan: Plan, losses: Losses) -> dict[str, str]:
    """{"alerts.rules.yml", "alerts.test.yml", "prometheusrule.yaml"}."""
    from simscale.export.promtests import unit_tests

    document = rules_document(plan, losses)
    manifest = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
                "metadata": {"name": plan.name, "labels": {"app": plan.name}},
                "spec": document}
    header = (f"# Prometheus rules of {plan.name}, exported by simscale. Check them with:\n"
              f"#   promtool check rules {RULES_FILE}; promtool test rules {TESTS_FILE}\n")
    return {RULES_FILE: header + dump_yaml(document),
            TESTS_FILE: dump_yaml(unit_tests(plan, document)),
            MANIFEST_FILE: dump_yaml(manifest)}
