"""--target prometheus: rules that promtool accepts, unit tests that pin every alert to its
threshold, the metric mapping, and `simscale import` reading the rules back into [alerts]."""

from __future__ import annotations

import shutil

import pytest

from simscale.export import prometheus as prom
from simscale.export.import_prometheus import import_rules
from simscale.export.targets import write_export
from simscale.export.validate import FAILED, OK, promtool, validate_files
from simscale.export.yamlio import load_yaml_documents
from simscale.spec import spec_from_dict
from tests.export.helpers import export, loss_fields, make_spec, spec_data

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None,
                                    reason="promtool not installed (Debian package prometheus)")

CUSTOM = {"use_defaults": True, "rules": [
    {"name": "LowCacheHitRate", "metric": "cache_hit_rate", "warning": 0.9, "critical": 0.5,
     "for_s": 45, "comparison": "<"},
    {"name": "TooFewInstances", "metric": "instances_ready", "critical": 2, "comparison": "<="},
    {"name": "SlowTail", "metric": "latency_p99_s", "warning": 1.5, "for_s": 0,
     "comparison": ">="},
    {"name": "Busy", "metric": "in_flight", "warning": 100, "for_s": 30},
    {"name": "HighCPU", "metric": "cpu_util_frac", "warning": 0.7, "critical": 0.85,
     "for_s": 120},
    {"name": "Ttft", "metric": "ttft_p95_s", "warning": 2, "for_s": 60},
    {"name": "ApiSlow", "metric": "api_latency_p95_s", "critical": 5, "for_s": 60},
    {"name": "Arrivals", "metric": "arrivals_rps", "warning": 500},
    {"name": "Throughput", "metric": "throughput_rps", "warning": 1, "comparison": "<"},
]}


def _rules(exported) -> list[dict]:
    doc = load_yaml_documents(exported.files[prom.RULES_FILE], "rules")[0]
    return doc["groups"][1]["rules"]


def test_default_rules_become_warning_and_critical_alerts_with_for():
    # Before: no prometheus target at all ("unknown target").
    alerts = _rules(export(make_spec(), "prometheus"))
    assert [(a["alert"], a["labels"]["severity"]) for a in alerts[:2]] == [
        ("HighResponseTime", "warning"), ("HighResponseTime", "critical")]
    assert alerts[1]["expr"] == 'job:http_request_duration_seconds:api_p95{job="chat"} > 5.0'
    assert alerts[1]["for"] == "1m"
    assert {a["alert"] for a in alerts} == {"HighResponseTime", "HighTimeToFirstToken",
                                            "HighErrorRate", "HighCPU", "HighMemory"}


@pytest.mark.parametrize(("metric", "record", "needle"), [
    ("latency_p95_s", "job:http_request_duration_seconds:p95",
     "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"),
    ("latency_p99.9_s", "job:http_request_duration_seconds:p99_9", "histogram_quantile(0.999,"),
    ("api_latency_p95_s", "job:http_request_duration_seconds:api_p95", 'streamed="false"'),
    ("ttft_p95_s", "job:gen_ai_server_time_to_first_token_seconds:p95",
     "gen_ai_server_time_to_first_token_seconds_bucket"),
    ("error_rate", "job:http_requests:error_ratio", 'status=~"5..|429"'),
    ("cpu_util_frac", "job:process_cpu_seconds:utilization", "process_cpu_seconds_total"),
    ("memory_frac", "job:process_resident_memory_bytes:utilization",
     "process_resident_memory_bytes"),
    ("cache_hit_rate", "job:redis_keyspace:hit_ratio", "redis_keyspace_misses_total"),
])
def test_the_mapping_and_its_inverse(metric, record, needle):
    series = prom.series_for(metric)
    assert series.record == record and needle in series.expr
    assert prom.metric_of_record(record) == metric


def test_a_rule_on_a_metric_without_a_series_is_left_out_with_a_warning():
    spec = make_spec(alerts={"rules": [{"name": "Queue", "metric": "queued", "warning": 5}]})
    exported = export(spec, "prometheus")
    assert "alerts.rules.Queue" in loss_fields(exported)
    assert "Queue" not in {a["alert"] for a in _rules(exported)}


@needs_promtool
@pytest.mark.parametrize("alerts", [None, CUSTOM, {"enabled": False}],
                         ids=["defaults", "custom", "disabled"])
def test_promtool_accepts_the_rules_and_every_unit_test_passes(alerts, tmp_path):
    spec = make_spec(**({"alerts": alerts} if alerts else {}),
                     metrics={"interval_s": 15.0})
    exported = export(spec, "prometheus")
    write_export(exported, tmp_path)
    results = {r.tool: r for r in validate_files("prometheus", tmp_path, list(exported.files))}
    assert results["promtool check rules"].status == OK, results["promtool check rules"]
    assert results["promtool test rules"].status == OK, results["promtool test rules"]
    tests = load_yaml_documents(exported.files[prom.TESTS_FILE], "t")[0]["tests"]
    alerts_written = _rules(exported)
    # two tests per alert (at the boundary, just inside), one per recording rule
    records = load_yaml_documents(exported.files[prom.RULES_FILE], "r")[0]["groups"][0]["rules"]
    assert len(tests) == 2 * len(alerts_written) + len(records)


@needs_promtool
@pytest.mark.parametrize(("old", "new"), [
    ('> 2.0', '>= 2.0'),                     # fires at the threshold: the quiet test fails
    ('for: 1m', 'for: 50s'),                 # fires too early
    ('/ 2147483648', '/ 2147483647'),        # a recording rule off by one byte
])
def test_the_unit_tests_catch_a_rule_that_drifts(old, new, tmp_path):
    exported = export(make_spec(), "prometheus")
    write_export(exported, tmp_path)
    rules = tmp_path / prom.RULES_FILE
    text = rules.read_text()
    assert old in text
    rules.write_text(text.replace(old, new, 1))
    assert promtool(["test", "rules"], tmp_path / prom.TESTS_FILE).status == FAILED


@pytest.mark.parametrize("alerts", [None, CUSTOM], ids=["defaults", "custom"])
def test_import_reads_the_rules_back_and_exporting_again_gives_the_same_files(alerts,
                                                                             tmp_path):
    data = spec_data(**({"alerts": alerts} if alerts else {}))
    first = export(spec_from_dict(data), "prometheus")
    for name in (prom.RULES_FILE, prom.MANIFEST_FILE):
        fragment, warnings = import_rules(first.files[name], name)
        assert warnings == [] and fragment["alerts"]["use_defaults"] is False
        again = export(spec_from_dict({**data, **fragment}), "prometheus")
        assert again.files == first.files


def test_import_leaves_out_foreign_alerts_and_names_bad_fields():
    text = ('groups:\n- name: g\n  rules:\n  - alert: Other\n    expr: up == 0\n'
            '  - alert: Mine\n    expr: job:http_requests:error_ratio{job="x"} > 0.2\n'
            '    for: 2m\n    labels: {severity: critical}\n')
    fragment, warnings = import_rules(text, "r.yml")
    assert fragment["alerts"]["rules"] == [{"name": "Mine", "metric": "error_rate",
                                            "critical": 0.2, "for_s": 120, "comparison": ">"}]
    assert len(warnings) == 1 and "groups[0].rules[0] (Other)" in warnings[0]
    from simscale.errors import InputError

    with pytest.raises(InputError, match=r"r\.yml: groups\[0\]\.rules\[0\]\.labels\.severity"):
        import_rules(text.replace("alert: Other\n    expr: up == 0", "alert: X\n    expr: "
                                  "job:up:sum > 1\n    labels: {severity: page}"), "r.yml")
    with pytest.raises(InputError, match=r"groups\[0\]\.rules\[1\]\.for"):
        import_rules(text.replace("for: 2m", "for: soon"), "r.yml")
