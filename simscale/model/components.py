"""Optional parts of the model. Each is built from its spec section and hooks itself into the
model through the model's extension points (admission, retry, end/metric/summary hooks,
candidate selection, lifecycle methods); a part that is not configured is not built."""

from __future__ import annotations

from simscale.model import alerting, autoscaling, cache, resilience
from simscale.model.stress import StressProbe
from simscale.model.upstream import Upstream
from simscale.workload.users import Users


def attach_all(model) -> list:
    """Build every configured component, in a fixed order, and return them."""
    spec = model.spec
    parts = [
        resilience.attach(model, spec.resilience),
        cache.attach(model, spec.cache, spec.database),
        autoscaling.attach(model, spec.autoscaling),
        *_workload_parts(model),
        alerting.attach(model, spec.alerts),  # last: its rules may watch any column
    ]
    return [p for p in parts if p is not None]


def _workload_parts(model) -> list:
    """What the workload adds besides arrivals: the LLM upstream (when a kind calls it),
    closed-loop users, the stress breaking point, and the trace's totals."""
    workload = model.workload
    spec = model.spec
    parts: list = []
    if any(p.llm for p in workload.profiles):
        model.upstream = Upstream(model, spec.upstream)
        parts.append(model.upstream)
    if workload.closed_loop:
        users = Users(model.env, model, spec.workload.arrivals, workload.kinds, spec.seed,
                      model.arrivals_end_s)
        model.end_hooks.append(lambda req, status, now: users.on_end(req.info, status, now))
        model.metric_hooks.append(lambda row, now, span: row.update(
            zip(users.columns.names, users.metric_values(row, now, span))))
        model.summary_hooks.append(users.summary)
        parts.append(users)
    if workload.stairs is not None:
        probe = StressProbe(workload.stairs, model.arrivals_end_s)
        model.end_hooks.append(probe.on_end)
        model.summary_hooks.append(probe.summary)
        parts.append(probe)
    if workload.trace is not None:
        model.summary_hooks.append(workload.trace_totals)
    return parts
