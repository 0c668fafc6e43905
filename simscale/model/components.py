"""Optional parts of the model. Each is built from its spec section and hooks itself into the
model through the model's extension points (admission, retry, end/metric/summary hooks,
candidate selection, lifecycle methods); a part that is not configured is not built."""

from __future__ import annotations

from simscale.model import alerting, autoscaling, cache, resilience, workload


def attach_all(model) -> list:
    """Build every configured component, in a fixed order, and return them."""
    spec = model.spec
    parts = [
        resilience.attach(model, spec.resilience),
        cache.attach(model, spec.cache, spec.database),
        autoscaling.attach(model, spec.autoscaling),
        workload.attach(model, spec.workload, spec.upstream),
        alerting.attach(model, spec.alerts),  # last: its rules may watch any column
    ]
    return [p for p in parts if p is not None]
