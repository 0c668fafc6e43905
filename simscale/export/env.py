"""The env target: the service's own environment variables, one dotenv file per instance.

The service reads AUTO_SCALING_ENABLED, MIN_INSTANCES and MAX_INSTANCES (its built-in
auto-scaler), INSTANCE_n_URL (the instances its load balancer knows), INSTANCE_ID, APP_VERSION
(the spec's `app_version`, else the simscale version) and the monitoring flags
ENABLE_PERFORMANCE_MONITORING (true when the spec has alert rules) and ENABLE_REAL_TIME_METRICS
(true when an alert rule or the autoscaler reads live metrics). Run locally,
instance n listens on port 3000 + n - 1 (`npm run dev -- --port 3000`, …).

A file is read the same way by a shell (`set -a; . ./instance-1.env`), by dotenv libraries and
by Docker Compose: every line is a comment or KEY=VALUE, where VALUE is a bare token of
characters no shell treats specially, or else single-quoted (a shell takes single-quoted text
literally). A value with a single quote, a backslash or a control character (a newline) is
refused, naming the variable. `parse_dotenv` reads exactly this grammar back and names the
line of anything else, so `--validate` never passes a line a shell would run as a command.
"""

from __future__ import annotations

import dataclasses
import re

from simscale.errors import InputError
from simscale.export.base import Losses, token
from simscale.export.plan import Plan

# The service's built-in auto-scaler is the threshold rule with these settings; the
# environment sets only its bounds.
SERVICE_AUTOSCALER = "threshold"


def service_env(plan: Plan, losses: Losses, urls: list[str]) -> dict[str, str]:
    """The variables every instance shares (all but INSTANCE_ID), in a stable order."""
    env = {
        "AUTO_SCALING_ENABLED": "true" if plan.autoscaling_enabled else "false",
        "MIN_INSTANCES": str(plan.min_replicas),
        "MAX_INSTANCES": str(plan.max_replicas),
    }
    for n, url in enumerate(urls, start=1):
        env[f"INSTANCE_{n}_URL"] = url
    env.update(monitoring_env(plan))
    if plan.autoscaler is not None:
        _autoscaler_losses(plan, losses)
    return env


def monitoring_env(plan: Plan) -> dict[str, str]:
    """APP_VERSION and the monitoring flags: performance monitoring when the spec has alert
    rules, real-time metrics when an alert rule or the autoscaler reads live metrics."""
    return {
        "APP_VERSION": plan.app_version,
        "ENABLE_PERFORMANCE_MONITORING": _flag(plan.performance_monitoring),
        "ENABLE_REAL_TIME_METRICS": _flag(plan.real_time_metrics),
    }


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _autoscaler_losses(plan: Plan, losses: Losses) -> None:
    from policies.autoscalers import ThresholdConfig

    if plan.autoscaler_policy != SERVICE_AUTOSCALER:
        losses.lose("autoscaling.policy",
                    f"the service's built-in auto-scaler is a threshold rule configured only by "
                    f"MIN_INSTANCES/MAX_INSTANCES; {plan.autoscaler_policy!r} and its "
                    "parameters are lost (export --target kubernetes for an HPA)")
        return
    defaults = ThresholdConfig()
    changed = [f"{f.name}={getattr(plan.autoscaler, f.name)!r}"
               for f in dataclasses.fields(ThresholdConfig)
               if f.name not in ("min_replicas", "max_replicas")
               and getattr(plan.autoscaler, f.name) != getattr(defaults, f.name)]
    if changed:
        losses.lose("autoscaling.params",
                    "the service's auto-scaler takes only MIN_INSTANCES/MAX_INSTANCES from the "
                    f"environment; {', '.join(changed)} differ from its built-in settings and "
                    "are lost")


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A bare value: no character a shell expands or splits on in an assignment (no '~', '$',
# quotes, spaces, ';', '&', '|', '<', '>', '(', ')', '`', '\\', '*', '?', '[', '#', '{').
_BARE = re.compile(r"[A-Za-z0-9_.:/@+=,%-]*")
# Inside single quotes a shell expands nothing; only the quote itself cannot appear. A
# backslash is refused too, since some dotenv readers unescape inside quotes.
_QUOTABLE = re.compile(r"[ -&(-\[\]-~]*")
_LINE = re.compile(f"({_KEY.pattern})=(?:({_BARE.pattern})|'({_QUOTABLE.pattern})')")
_COMMENT = re.compile(r"(?:#[^\x00-\x1f\x7f]*)?")


def dotenv_value(value: str, key: str) -> str:
    """`value` as the right-hand side of KEY=…: bare when safe, else single-quoted.
    InputError naming `key` if it holds a single quote, a backslash or a control character."""
    if _BARE.fullmatch(value):
        return value
    if _QUOTABLE.fullmatch(value):
        return f"'{value}'"
    raise InputError(f"{key}: {value!r} cannot be written into an environment file (a single "
                     "quote, a backslash, a newline or another control character)")


def dotenv(variables: dict[str, str], header: str) -> str:
    """A comment line per header line, then KEY=value lines (keys and values checked)."""
    lines = []
    for line in header.splitlines():
        if not _COMMENT.fullmatch(f"# {line}"):
            raise InputError(f"name: {line!r} cannot be written into a comment")
        lines.append(f"# {line}")
    for key, value in variables.items():
        if not _KEY.fullmatch(key):
            raise InputError(f"environment variable: {key!r} is not a variable name")
        lines.append(f"{key}={dotenv_value(value, key)}")
    return "\n".join(lines) + "\n"


def parse_dotenv(text: str, source: str = "env") -> tuple[dict[str, str], list[str]]:
    """(variables, problems) of a file in the grammar `dotenv` writes: each line blank, a
    comment, or KEY=VALUE with VALUE bare or single-quoted. Any other line — which a shell
    could run as a command — is a problem naming `source` and the line number."""
    values: dict[str, str] = {}
    problems = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if _COMMENT.fullmatch(line):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            problems.append(f"{source}:{number}: not KEY=value (a bare value of letters, "
                            "digits and _.:/@+=,%- or a single-quoted one): "
                            f"{line[:60]!r}")
            continue
        key, bare, quoted = match.groups()
        values[key] = bare if bare is not None else quoted
    return values, problems


def render(plan: Plan, losses: Losses) -> dict[str, str]:
    """{"instance-n.env": text} for every instance at t = 0."""
    urls = [f"http://localhost:{plan.port + i}" for i in range(plan.replicas)]
    shared = service_env(plan, losses, urls)
    files = {}
    for n, server in enumerate(plan.server_names(), start=1):
        variables = dict(shared, INSTANCE_ID=server)
        header = (f"Environment of {server} of {token(plan.name, 'name')} (exported by "
                  f"simscale); start it with --port {plan.port + n - 1}")
        files[f"{server}.env"] = dotenv(variables, header)
    return files
