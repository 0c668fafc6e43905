"""What the proxy targets (nginx, HAProxy) share: server weights, hash headers, passive health.

Both proxies take integer weights, hash on a request header, and mark a server failed after
some errors; these helpers decide those values once, from the Plan, and record what is lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simscale.errors import InputError
from simscale.export.base import Losses
from simscale.export.plan import Plan

# The request header carrying each hash key (the service's session and user ids).
KEY_HEADERS = {"session_id": "X-Session-Id", "user_id": "X-User-Id"}


def key_header(key: str) -> str:
    return KEY_HEADERS[key]


def raw_weights(plan: Plan, losses: Losses) -> list[float]:
    """The weight of each exported server (1.0 unless the balancer's `weights` says otherwise)."""
    weights = [1.0] * plan.replicas
    configured = getattr(plan.balancer, "weights", None) or {}
    for instance_id, weight in configured.items():
        if not (math.isfinite(weight) and weight >= 0):
            raise InputError(f"balancer.params.weights.{instance_id}: {weight!r} is not a "
                             "finite weight >= 0")
    outside = sorted(i for i in configured if not 0 <= int(i) < plan.replicas)
    if outside:
        losses.lose("balancer.params.weights",
                    f"instance ids {outside} are not in the exported fleet of {plan.replicas} "
                    f"instances (ids 0..{plan.replicas - 1}); their weights are not exported")
    for instance_id, weight in configured.items():
        if 0 <= int(instance_id) < plan.replicas:
            weights[int(instance_id)] = float(weight)
    return weights


def integer_weights(weights: list[float], max_weight: int, losses: Losses) -> list[int]:
    """Whole-number weights in 0..max_weight keeping the ratios (0 stays 0: a drained server).

    Weights that are already whole numbers within range are kept. Otherwise the smallest
    multiplier up to 1000 that makes them whole is used; failing that they are scaled so the
    largest is max_weight and rounded (at least 1 for a positive weight), a Loss.
    """
    positive = [w for w in weights if w > 0]
    if not positive:  # every weight 0: the policy falls back to plain round robin
        return [1] * len(weights)
    for multiplier in range(1, 1001):
        scaled = [w * multiplier for w in weights]
        if all(abs(s - round(s)) < 1e-6 for s in scaled) and max(scaled) <= max_weight + 1e-6:
            return [round(s) for s in scaled]
    top = max(positive)
    result = [0 if w == 0 else max(1, round(w / top * max_weight)) for w in weights]
    losses.lose("balancer.params.weights",
                f"weights {_short(weights)} are rounded to whole numbers up to {max_weight}: "
                f"{result}")
    return result


def _short(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


@dataclass(frozen=True)
class PassiveHealth:
    """A proxy's passive failure accounting: `failures` errors mark a server failed for
    `down_s` seconds (nginx max_fails / fail_timeout; HAProxy observe error-limit)."""

    failures: int
    down_s: float
    source: str          # the spec section it came from
    failures_field: str  # the spec fields of each number
    down_field: str


def passive_health(plan: Plan, losses: Losses, *, active_checks: bool) -> PassiveHealth | None:
    """Pick the spec's passive failure rule: outlier detection, else a circuit breaker's
    consecutive failures, else (for a proxy without active checks) the active health check's
    fall threshold. Records what each choice loses."""
    outlier, breaker, check = plan.outlier, plan.circuit_breaker, plan.health_check
    chosen: PassiveHealth | None = None
    if outlier is not None:
        where = "resilience.outlier_detection"
        chosen = PassiveHealth(outlier.consecutive_5xx, outlier.base_ejection_time_s, where,
                               f"{where}.consecutive_5xx", f"{where}.base_ejection_time_s")
        if outlier.max_ejection_time_s > outlier.base_ejection_time_s:
            losses.lose("resilience.outlier_detection.max_ejection_time_s",
                        "the ejection time grows with repeated ejections (up to "
                        f"{outlier.max_ejection_time_s:g} s); the proxy takes a failed server "
                        f"out for a fixed {outlier.base_ejection_time_s:g} s")
        if outlier.max_ejection_percent < 100:
            losses.lose("resilience.outlier_detection.max_ejection_percent",
                        f"at most {outlier.max_ejection_percent:g} % of instances ejected at "
                        "once; the proxy may take every server out")
    if breaker is not None:
        consecutive = getattr(breaker, "consecutive_failures", None)
        if chosen is None and consecutive is not None:
            where = "resilience.circuit_breaker"
            chosen = PassiveHealth(consecutive, breaker.open_duration_s, where,
                                   f"{where}.consecutive_failures", f"{where}.open_duration_s")
            lost = ["the half-open probes (half_open_probes)"]
            if getattr(breaker, "error_rate_threshold", None) is not None:
                lost.insert(0, "the error-rate rule (error_rate_threshold)")
            losses.lose("resilience.circuit_breaker",
                        f"exported as passive failure accounting ({consecutive} failures, "
                        f"{breaker.open_duration_s:g} s out); lost: {', '.join(lost)}")
        else:
            losses.lose("resilience.circuit_breaker",
                        "a per-instance circuit breaker has no equivalent here"
                        + (" beside outlier detection" if chosen is not None else ""))
    if check is not None and not active_checks:
        if chosen is None:
            down_s = check.interval_s * check.healthy_threshold
            where = "resilience.health_check"
            chosen = PassiveHealth(check.unhealthy_threshold, down_s, where,
                                   f"{where}.unhealthy_threshold",
                                   f"{where}.interval_s × healthy_threshold")
            losses.lose("resilience.health_check",
                        "active probes are NGINX Plus only (health_check); exported as passive "
                        f"accounting: {check.unhealthy_threshold} failed requests (fall) take a "
                        f"server out for interval_s × healthy_threshold = {down_s:g} s")
        else:
            losses.lose("resilience.health_check",
                        "active probes are NGINX Plus only (health_check); only the passive "
                        f"rule from {chosen.source} is exported")
    return chosen


def has_retry_budget(retry) -> bool:
    """Whether a retry config limits retries with a budget (the spec's budget_ratio "none"
    becomes an unlimited reserve: min_retries_per_s = inf)."""
    return not math.isinf(getattr(retry, "min_retries_per_s", math.inf))
