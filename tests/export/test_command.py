"""The export and import commands as a user meets them: files, warnings, exit codes."""

from __future__ import annotations

import tomllib

import pytest
import typer
from typer.testing import CliRunner

from simscale.commands.export import register
from tests.export.helpers import EXAMPLES, needs_nginx

app = typer.Typer()
register(app)
runner = CliRunner()
AFFINITY = EXAMPLES / "affinity_hpa.toml"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_export_writes_files_and_names_what_is_lost(tmp_path):
    res = invoke("export", AFFINITY, "--target", "nginx", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "nginx.conf").is_file()
    assert "warning: nginx: resilience.slow_start: slow start is NGINX Plus only" in res.output
    assert not list(tmp_path.glob(".*partial"))


def test_strict_turns_warnings_into_exit_2_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    res = invoke("export", AFFINITY, "--target", "nginx", "--out", out, "--strict")
    assert res.exit_code == 2
    assert "error: nginx: resilience.slow_start:" in res.output
    assert "(--strict)" in res.output
    assert not out.exists()


def test_strict_passes_when_nothing_is_lost(tmp_path):
    res = invoke("export", AFFINITY, "--target", "kubernetes", "--out", tmp_path, "--strict")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deployment.yaml", "hpa.yaml",
                                                           "pdb.yaml", "service.yaml"]


def test_an_unknown_target_lists_the_known_ones(tmp_path):
    res = invoke("export", AFFINITY, "--target", "envoy", "--out", tmp_path)
    assert res.exit_code == 2
    assert ("error: --target: unknown target 'envoy' (known: compose, env, grafana, haproxy, "
            "kubernetes, nginx, prometheus, redis)") in res.output


def test_a_name_that_would_inject_configuration_exits_2(tmp_path):
    res = invoke("export", AFFINITY, "--target", "haproxy", "--out", tmp_path,
                 "--set", 'name="x; rm -rf ."')
    assert res.exit_code == 2
    assert "error: name: the spec name 'x; rm -rf .' is not usable" in res.output
    res = invoke("export", AFFINITY, "--target", "haproxy", "--out", tmp_path,
                 "--name", "app{")
    assert res.exit_code == 2 and "error: --name: 'app{' is not a DNS-1123 label" in res.output
    assert not list(tmp_path.iterdir())


def test_a_bad_spec_exits_2_naming_the_field(tmp_path):
    res = invoke("export", AFFINITY, "--target", "nginx", "--out", tmp_path,
                 "--set", "balancer.policy=fastest")
    assert res.exit_code == 2 and "balancer.policy: unknown balancer policy" in res.output


def test_redis_without_a_cache_exits_2(tmp_path):
    res = invoke("export", AFFINITY, "--target", "redis", "--out", tmp_path)
    assert res.exit_code == 2 and "error: cache: the spec configures no cache" in res.output


@needs_nginx
def test_validate_runs_the_real_tool(tmp_path):
    res = invoke("export", AFFINITY, "--target", "nginx", "--out", tmp_path, "--validate")
    assert res.exit_code == 0, res.output
    assert "ok: nginx -t nginx.conf" in res.output


def test_export_from_a_run_directory(tmp_path):
    from simscale.model.runner import run
    from simscale.spec import load_spec

    spec = load_spec(AFFINITY).model_copy(update={"duration_s": 5.0})
    run(spec, tmp_path / "run")
    res = invoke("export", tmp_path / "run", "--target", "kubernetes", "--out", tmp_path / "k")
    assert res.exit_code == 0, res.output
    direct = invoke("export", AFFINITY, "--target", "kubernetes", "--out", tmp_path / "d")
    assert direct.exit_code == 0
    for name in ("deployment.yaml", "hpa.yaml"):
        assert (tmp_path / "k" / name).read_text() == (tmp_path / "d" / name).read_text()
    res = invoke("export", tmp_path, "--target", "env", "--out", tmp_path / "e")
    assert res.exit_code == 2 and "not a run directory" in res.output


def test_import_prints_a_fragment_that_matches_the_export(tmp_path):
    assert invoke("export", AFFINITY, "--target", "kubernetes", "--out", tmp_path).exit_code == 0
    res = invoke("import", tmp_path / "hpa.yaml")
    assert res.exit_code == 0, res.output
    fragment = tomllib.loads(res.output)
    params = fragment["autoscaling"]["params"]
    assert fragment["autoscaling"]["policy"] == "target_tracking"
    assert (params["min_replicas"], params["max_replicas"]) == (2, 10)
    assert params["metrics"] == [{"metric": "cpu_util_frac", "target": 0.7},
                                 {"metric": "in_flight", "target": 6.0}]
    assert params["scale_down"] == {"stabilization_window_s": 300, "select_policy": "Min",
                                    "policies": [{"type": "Pods", "value": 1, "period_s": 60}]}


def test_import_nginx_to_a_file(tmp_path):
    assert invoke("export", AFFINITY, "--target", "nginx", "--out", tmp_path).exit_code == 0
    res = invoke("import", tmp_path / "nginx.conf", "--out", tmp_path / "fragment.toml")
    assert res.exit_code == 0, res.output
    fragment = tomllib.loads((tmp_path / "fragment.toml").read_text())
    assert fragment["balancer"] == {"policy": "consistent_hash",
                                    "params": {"key": "session_id"}}
    assert fragment["instances"] == {"count": 3}
    assert fragment["resilience"]["outlier_detection"]["consecutive_5xx"] == 5


@pytest.mark.parametrize(("text", "words"), [
    ("upstream app {\n  server a:1\n}\n", "nginx.conf:3: unexpected '}'"),
    ("upstream app {\n  ip_hash;\n  server a:1;\n}\n", "nginx.conf:2: ip_hash: not supported"),
    ("upstream app {\n  hash $remote_addr consistent;\n  server a:1;\n}\n",
     "key '$remote_addr' is not a simscale hash key"),
    ("upstream app {\n  server a:1 fail_timeout=10q;\n}\n", "'10q' is not an nginx time"),
    ("kind: Deployment\n", "no HorizontalPodAutoscaler or ScaledObject"),
    ("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nspec:\n  minReplicas: 5\n"
     "  maxReplicas: 2\n", "minReplicas (5) exceeds maxReplicas (2)"),
    ("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nspec:\n  maxReplicas: 4\n"
     "  behavior:\n    scaleUp:\n      policies:\n      - {type: Pods, value: 1, "
     "periodSeconds: 4000}\n", "spec.behavior.scaleUp.policies[0].periodSeconds: 4000"),
    ("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nspec:\n  maxReplicas: 4\n"
     "  metrics:\n  - type: External\n", "spec.metrics[0].type: 'External'"),
    ("key: [unclosed\n", "YAML syntax error"),
])
def test_import_rejects_what_it_cannot_read_naming_the_place(text, words, tmp_path):
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    res = invoke("import", path)
    assert res.exit_code == 2
    assert words in res.output, res.output


def test_import_of_a_missing_file_exits_2(tmp_path):
    res = invoke("import", tmp_path / "nope.yaml")
    assert res.exit_code == 2 and "no such file" in res.output


def test_prometheus_export_validates_and_imports_back(tmp_path):
    import shutil

    if shutil.which("promtool") is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    res = invoke("export", AFFINITY, "--target", "prometheus", "--out", tmp_path, "--validate")
    assert res.exit_code == 0, res.output
    assert "ok: promtool test rules alerts.test.yml" in res.output
    back = invoke("import", tmp_path / "alerts.rules.yml")
    assert back.exit_code == 0, back.output
    assert "[alerts]" in back.output and 'metric = "api_latency_p95_s"' in back.output
    assert 'metric = "ttft_p95_s"' in back.output


def test_a_second_export_keeps_the_secret_and_says_so(tmp_path):
    first = invoke("export", AFFINITY, "--target", "nginx", "--out", tmp_path)
    assert first.exit_code == 0 and "management-tokens.map" in first.output
    again = invoke("export", AFFINITY, "--target", "nginx", "--out", tmp_path)
    assert "kept " in again.output and "(an existing secret)" in again.output
