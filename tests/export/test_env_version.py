"""APP_VERSION and the monitoring flags in the env, compose and kubernetes targets."""

from __future__ import annotations

import pytest

from simscale import __version__
from simscale.errors import InputError
from simscale.export.env import parse_dotenv
from simscale.export.yamlio import load_yaml_documents
from tests.export.helpers import export, make_spec

QUIET = {"enabled": False}


def _env(spec) -> dict[str, str]:
    values, problems = parse_dotenv(export(spec, "env").files["instance-1.env"])
    assert not problems
    return values


def _pod_env(spec) -> dict[str, str]:
    files = export(spec, "kubernetes").files
    deployment = load_yaml_documents(files["deployment.yaml"], "deployment.yaml")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_app_version_comes_from_the_spec_else_the_simscale_version():
    # Before: APP_VERSION was never written.
    assert _env(make_spec())["APP_VERSION"] == __version__
    assert _env(make_spec(app_version="1.4.2"))["APP_VERSION"] == "1.4.2"
    assert _pod_env(make_spec(app_version="1.4.2"))["APP_VERSION"] == "1.4.2"


def test_an_app_version_that_is_not_a_token_is_refused_naming_the_field():
    with pytest.raises(InputError, match="app_version"):
        export(make_spec(app_version="1.0; rm -rf /"), "env")


@pytest.mark.parametrize(("alerts", "autoscaling", "monitoring", "real_time"), [
    (None, None, "true", "true"),              # default rules
    (QUIET, None, "false", "false"),            # no rules, nothing reads live metrics
    (QUIET, {"enabled": True, "policy": "threshold"}, "false", "true"),
    ({"use_defaults": False}, None, "false", "false"),
])
def test_monitoring_flags_follow_the_alert_and_autoscaling_settings(alerts, autoscaling,
                                                                    monitoring, real_time):
    # Before: both flags were "true" whatever the spec said.
    sections = {}
    if alerts is not None:
        sections["alerts"] = alerts
    if autoscaling is not None:
        sections["autoscaling"] = autoscaling
    spec = make_spec(**sections)
    for env in (_env(spec), _pod_env(spec)):
        assert env["ENABLE_PERFORMANCE_MONITORING"] == monitoring
        assert env["ENABLE_REAL_TIME_METRICS"] == real_time
