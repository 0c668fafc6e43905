"""The env target: the service's own environment variables, one dotenv file per instance.

The service reads AUTO_SCALING_ENABLED, MIN_INSTANCES and MAX_INSTANCES (its built-in
auto-scaler), INSTANCE_n_URL (the instances its load balancer knows), INSTANCE_ID, and the
monitoring flags ENABLE_PERFORMANCE_MONITORING and ENABLE_REAL_TIME_METRICS. Run locally,
instance n listens on port 3000 + n - 1 (`npm run dev -- --port 3000`, …).
"""

from __future__ import annotations

import dataclasses

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
    env["ENABLE_PERFORMANCE_MONITORING"] = "true"
    env["ENABLE_REAL_TIME_METRICS"] = "true"
    if plan.autoscaler is not None:
        _autoscaler_losses(plan, losses)
    return env


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


def dotenv(variables: dict[str, str], header: str) -> str:
    """KEY=value lines; every key and value is checked to be a safe bare token."""
    lines = [f"# {header}"]
    for key, value in variables.items():
        lines.append(f"{token(key, 'environment variable')}={token(value, key)}")
    return "\n".join(lines) + "\n"


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
