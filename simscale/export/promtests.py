"""promtool unit tests for the exported rules (`promtool test rules alerts.test.yml`).

Two kinds of test. For every recording rule, raw series of the app and its exporters (the
metrics named in simscale.export.prometheus) go in and the recorded value must come out:
an error ratio of 0.25, a p95 interpolated in its bucket, a CPU utilization of 0.5… For every
alert and severity, the recorded series is held at the smallest value that breaches the
threshold (the threshold itself for >= and <=, the next float beyond it for > and <): the
alert must not fire one evaluation before `for` has passed and must fire when it has, with
exactly the severities the simulator's evaluator
(simscale.monitoring.alerts.AlertRule.breaches) gives that value; held at the largest value
that does not breach, that severity never fires.
"""

from __future__ import annotations

import math

from simscale.export.plan import Plan
from simscale.export.prometheus import RULES_FILE, duration, parse_duration, series_for

EXPR_EVAL_S = 180   # when a recording rule is read: its rate window is full of samples


def _values(value: float, count: int) -> str:
    return " ".join([repr(float(value))] * count)


def _counter(step: float, count: int) -> str:
    return " ".join(repr(float(step * i)) for i in range(count))


def _boundary(op: str, threshold: float) -> tuple[float, float]:
    """(the smallest breaching value, the largest value that does not breach)."""
    up, down = math.nextafter(threshold, math.inf), math.nextafter(threshold, -math.inf)
    return {">": (up, threshold), ">=": (threshold, down),
            "<": (down, threshold), "<=": (threshold, up)}[op]


def _alert_case(plan: Plan, rule, severity: str, alerts: list[dict], interval_s: float,
                record: str) -> list[dict]:
    """Two test groups for one severity of one rule: at the boundary, and just inside."""
    fire, quiet = _boundary(rule.comparison, rule.threshold(severity))
    firing_at = math.ceil(rule.for_s / interval_s - 1e-9) * interval_s
    count = int(firing_at / interval_s) + 4
    series = f'{record}{{job="{plan.name}"}}'

    def expected(value: float) -> list[dict]:
        return [{"exp_labels": {"job": plan.name, "severity": a["labels"]["severity"]},
                 "exp_annotations": a["annotations"]}
                for a in alerts if a["alert"] == rule.name
                and rule.breaches(value, rule.threshold(a["labels"]["severity"]))]

    checks = [{"eval_time": duration(firing_at), "alertname": rule.name,
               "exp_alerts": expected(fire)}]
    if firing_at > 0:
        checks.insert(0, {"eval_time": duration(firing_at - interval_s),
                          "alertname": rule.name, "exp_alerts": []})
    quiet_checks = [{"eval_time": duration(firing_at + interval_s), "alertname": rule.name,
                     "exp_alerts": expected(quiet)}]
    interval = duration(interval_s)
    return [
        {"name": f"{rule.name} {severity} fires at {fire!r}", "interval": interval,
         "input_series": [{"series": series, "values": _values(fire, count)}],
         "alert_rule_test": checks},
        {"name": f"{rule.name} {severity} stays quiet at {quiet!r}", "interval": interval,
         "input_series": [{"series": series, "values": _values(quiet, count)}],
         "alert_rule_test": quiet_checks},
    ]


def _raw_inputs(plan: Plan, metric: str, step_s: float) -> tuple[list[dict], float] | None:
    """Input series for a recording rule and the value it must record (None: no test)."""
    job = plan.name
    total = f'http_requests_total{{job="{job}",status='
    samples = int(EXPR_EVAL_S / step_s) + 3
    if metric == "error_rate":
        return [{"series": total + '"200"}', "values": _counter(3 * step_s, samples)},
                {"series": total + '"503"}', "values": _counter(step_s, samples)}], 0.25
    if metric in ("arrivals_rps", "throughput_rps"):
        return [{"series": total + '"200"}', "values": _counter(2 * step_s, samples)},
                {"series": total + '"500"}', "values": _counter(step_s, samples)}], (
            3.0 if metric == "arrivals_rps" else 2.0)
    if metric == "cpu_util_frac":
        return [{"series": f'process_cpu_seconds_total{{job="{job}",instance="{i}"}}',
                 "values": _counter(plan.cores * step_s / 2, samples)} for i in "ab"], 0.5
    if metric == "memory_frac":
        memory = int(math.ceil(plan.memory_limit_mb * (1 << 20)))
        return [{"series": f'process_resident_memory_bytes{{job="{job}",instance="{i}"}}',
                 "values": _values(memory * share, samples)}
                for i, share in (("a", 0.25), ("b", 0.75))], 0.5
    if metric in ("in_flight", "instances_ready"):
        name = "http_requests_in_flight" if metric == "in_flight" else "up"
        return [{"series": f'{name}{{job="{job}",instance="{i}"}}', "values": _values(v, samples)}
                for i, v in (("a", 1), ("b", 2))], 3.0
    if metric == "cache_hit_rate":
        return [{"series": f'redis_keyspace_{kind}_total{{job="{job}-redis"}}',
                 "values": _counter(n * step_s, samples)}
                for kind, n in (("hits", 3), ("misses", 1))], 0.75
    return _histogram_inputs(plan, metric, step_s, samples)


def _histogram_inputs(plan: Plan, metric: str, step_s: float, samples: int):
    """Every observation in the (0.25, 0.5] bucket at one per second: the quantile q is
    interpolated as 0.25 + 0.25 × q (histogram_quantile's linear interpolation)."""
    series = series_for(metric)
    if series is None or "histogram_quantile" not in series.expr:
        return None
    quantile = float(series.expr.split("(", 2)[1].split(",")[0])
    base = series.expr.split("rate(", 1)[1].split("{", 1)[0]
    extra = ',streamed="false"' if 'streamed="false"' in series.expr else ""
    inputs = []
    for le, per_s in (("0.25", 0), ("0.5", 1), ("1", 1), ("+Inf", 1)):
        inputs.append({"series": f'{base}{{job="{plan.name}"{extra},le="{le}"}}',
                       "values": _counter(per_s * step_s, samples)})
    rank, count = quantile * 1.0, 1.0
    return inputs, 0.25 + (0.5 - 0.25) * (rank / count)


def unit_tests(plan: Plan, document: dict) -> dict:
    """The promtool test file for the rules `document` of `plan`."""
    recording, alerting = document["groups"]
    interval_s = parse_duration(recording["interval"])
    tests = []
    for rule in recording["rules"]:
        metric = next(r.metric for r in plan.alert_rules
                      if (series_for(r.metric) or None) and
                      series_for(r.metric).record == rule["record"])
        raw = _raw_inputs(plan, metric, interval_s)
        if raw is None:
            continue
        inputs, value = raw
        tests.append({"name": f"{rule['record']} from the raw series",
                      "interval": duration(interval_s), "input_series": inputs,
                      "promql_expr_test": [{
                          "expr": rule["record"], "eval_time": duration(EXPR_EVAL_S),
                          "exp_samples": [{"labels": f'{rule["record"]}{{job="{plan.name}"}}',
                                           "value": value}]}]})
    by_name = {r.name: r for r in plan.alert_rules}
    for alert in alerting["rules"]:
        rule = by_name[alert["alert"]]
        record = series_for(rule.metric).record
        tests += _alert_case(plan, rule, alert["labels"]["severity"], alerting["rules"],
                             interval_s, record)
    return {"rule_files": [RULES_FILE], "evaluation_interval": duration(interval_s),
            "tests": tests}
