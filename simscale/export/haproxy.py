"""The HAProxy target: a frontend and a backend for the balancer, health checks and slow start.

HAProxy 2.6 syntax (configuration manual; checked with Debian's `haproxy -c`): `balance
roundrobin | leastconn | random(<draws>) | hdr(<name>)` with `hash-type consistent` and
`hash-balance-factor` (bounded loads); active checks `check inter rise fall` with `option
httpchk`; passive `observe layer7 error-limit N on-error mark-down`; `slowstart`, which only
acts with dynamic algorithms; `stick-table` + `stick on` for sticky sessions; `retries` and
`retry-on` for retries. The frontend binds TLS on 443 and redirects port 80 to it; the
management routes take a bearer token (simscale.export.edge).
"""

from __future__ import annotations

import math

from simscale.export import edge
from simscale.export.balancing import (
    has_retry_budget,
    integer_weights,
    key_header,
    passive_health,
    raw_weights,
)
from simscale.export.base import Losses, token
from simscale.export.limits import HAPROXY_TIME, INT32_MAX, UINT32_MAX, at_most, proxy_time, whole
from simscale.export.plan import HEALTH_PATH, Plan

MAX_WEIGHT = 256
# Algorithms whose weights HAProxy can change at run time, the only ones `slowstart` affects;
# a hash algorithm (hdr, source, uri…) is dynamic with `hash-type consistent`.
DYNAMIC = ("roundrobin", "leastconn", "random")
NO_TIMEOUT_S = 3600.0


def balance(plan: Plan, losses: Losses) -> list[str]:
    """The backend's balancing lines (balance, hash-type, stick table)."""
    policy, cfg = plan.balancer_policy, plan.balancer
    if policy in ("round_robin", "weighted_round_robin"):
        return ["balance roundrobin"]
    if policy == "least_connections":
        return ["balance leastconn"]
    if policy == "random":
        return ["balance random(1)"]
    if policy == "power_of_two_choices":
        return [f"balance random({cfg.choice_count})"]
    if policy == "consistent_hash":
        lines = [f"balance hdr({key_header(cfg.key)})", "hash-type consistent"]
        if cfg.epsilon is not None:
            at_most(cfg.epsilon, "balancer.params.epsilon", (UINT32_MAX - 101) / 100,
                    "HAProxy's hash-balance-factor / 100 - 1")
            factor = 100 + math.ceil(round(cfg.epsilon * 100, 6))
            if factor <= 100:
                losses.lose("balancer.params.epsilon",
                            "HAProxy's hash-balance-factor must exceed 100; epsilon 0 becomes "
                            "101 (1 % slack)")
                factor = 101
            lines.append(f"hash-balance-factor {factor}")
        if cfg.vnodes != 160:
            losses.lose("balancer.params.vnodes",
                        f"HAProxy sizes its consistent-hash tree by server weight; vnodes="
                        f"{cfg.vnodes} is not expressible")
        return lines
    if policy == "sticky":
        assign = {"least_connections": "balance leastconn", "round_robin": "balance roundrobin",
                  "random": "balance random(1)"}[cfg.assign]
        header = key_header(cfg.key)
        size = whole(cfg.max_sessions, "balancer.params.max_sessions", 1, UINT32_MAX,
                     "HAProxy's stick-table size")
        return [assign, f"stick-table type string len 128 size {size}",
                f"stick on hdr({header})"]
    if policy == "least_response_time":
        line = "balance leastconn" if cfg.choice_count == 0 else (
            f"balance random({cfg.choice_count})")
        losses.lose("balancer",
                    "least_response_time needs latency-aware balancing (Envoy); exported as "
                    f"{line.removeprefix('balance ')}, which compares connections, not latency")
        return [line]
    losses.lose("balancer", f"balancer {policy!r} has no HAProxy equivalent; roundrobin is used")
    return ["balance roundrobin"]


def _algorithm(lines: list[str]) -> str:
    """The algorithm's name, or "consistent-hash" for a hash with hash-type consistent."""
    if "hash-type consistent" in lines:
        return "consistent-hash"
    return lines[0].removeprefix("balance ").split("(")[0]


def render(plan: Plan, losses: Losses, addresses: list[str] | None = None) -> dict[str, str]:
    """{"haproxy.cfg": text}. `addresses`: one host:port per instance (default
    127.0.0.1:3000+i)."""
    if addresses is None:
        addresses = [f"127.0.0.1:{plan.port + i}" for i in range(plan.replicas)]
    files = {"haproxy.cfg": haproxy_cfg(plan, losses, addresses)}
    if edge.guarded(plan):
        files[edge.HAPROXY_TOKENS_FILE] = edge.haproxy_tokens()
    return files


def _time(value_s: float, field_path: str, losses: Losses) -> str:
    return proxy_time(value_s, field_path, HAPROXY_TIME, losses)


def _timeouts(plan: Plan, losses: Losses) -> list[str]:
    server_s, field = plan.request_timeout_s, "timeouts.request_s"
    if plan.retry is not None and plan.retry.per_try_timeout_s is not None:
        server_s, field = plan.retry.per_try_timeout_s, "resilience.retry.per_try_timeout_s"
    if server_s is None:
        losses.lose("timeouts.request_s",
                    f"HAProxy needs a server timeout; {NO_TIMEOUT_S:g} s is written")
        server_s = NO_TIMEOUT_S
    server = _time(server_s, field, losses)
    client_s = plan.request_timeout_s if plan.request_timeout_s is not None else NO_TIMEOUT_S
    client = _time(client_s, "timeouts.request_s", losses)
    lines = ["timeout connect 5s", f"timeout client {client}", f"timeout server {server}",
             "timeout queue 30s"]
    if plan.health_check is not None:
        check = _time(plan.health_check.timeout_s, "resilience.health_check.timeout_s", losses)
        lines.append(f"timeout check {check}")
    return lines


def _retries(plan: Plan, losses: Losses) -> list[str]:
    retry = plan.retry
    if retry is None or retry.max_attempts < 2:
        return ["retries 0"]
    retry_on = ["conn-failure", "empty-response"]
    kinds = set(getattr(retry, "retry_on", ("error", "timeout")))
    if "timeout" in kinds:
        retry_on.append("response-timeout")
    if "error" in kinds:
        retry_on += ["500", "502", "503", "504"]
    retries = whole(retry.max_attempts - 1, "resilience.retry.max_attempts", 0, INT32_MAX,
                    "HAProxy's retries (max_attempts - 1)")
    lines = [f"retries {retries}", "option redispatch 1",
             f"retry-on {' '.join(retry_on)}"]
    if has_retry_budget(retry):
        losses.lose("resilience.retry.budget_ratio",
                    "HAProxy has no retry budget: every failed attempt may be retried")
    if retry.overall_timeout_s is not None:
        losses.lose("resilience.retry.overall_timeout_s",
                    "HAProxy bounds each attempt (timeout server), not the time retries may "
                    "start after the request arrived")
    return lines


def _server_options(plan: Plan, losses: Losses, algorithm: str) -> tuple[list[str], list[str]]:
    """(backend lines for checks, default-server options)."""
    check, backend, options = plan.health_check, [], []
    health = passive_health(plan, losses, active_checks=True)
    if health is not None:
        losses.lose(health.source,
                    "HAProxy returns a server marked down by errors when its health checks "
                    f"pass again, not after {health.down_s:g} s"
                    + ("; default checks (inter 2s rise 2 fall 3) are added"
                       if check is None else ""))
    if check is not None or health is not None:
        backend += ["option httpchk", f"http-check send meth GET uri {HEALTH_PATH}",
                    "http-check expect status 200"]
        if check is None:
            options += ["check", "inter 2s", "rise 2", "fall 3"]
        else:
            options += _check_options(check, losses)
    if health is not None:
        limit = whole(health.failures, health.failures_field, 1, INT32_MAX,
                      "HAProxy's error-limit")
        options += ["observe layer7", f"error-limit {limit}", "on-error mark-down"]
    slow = plan.slow_start
    if slow is not None:
        if algorithm in DYNAMIC or algorithm == "consistent-hash":
            window = _time(slow.window_s, f"{plan.slow_start_field}.window_s", losses)
            options.append(f"slowstart {window}")
            if slow.aggression != 1.0:
                losses.lose(f"{plan.slow_start_field}.aggression",
                            "HAProxy ramps the weight linearly; aggression "
                            f"{slow.aggression:g} is not expressible")
        else:
            losses.lose(plan.slow_start_field,
                        f"HAProxy's slowstart only acts with dynamic algorithms; 'balance "
                        f"{algorithm}' is static, so slow start is left out")
    return backend, options


def _check_options(check, losses: Losses) -> list[str]:
    """default-server options of an active health check: check inter rise fall [downinter]."""
    where = "resilience.health_check"
    inter = _time(check.interval_s, f"{where}.interval_s", losses)
    rise = whole(check.healthy_threshold, f"{where}.healthy_threshold", 1, INT32_MAX,
                 "HAProxy's rise")
    fall = whole(check.unhealthy_threshold, f"{where}.unhealthy_threshold", 1, INT32_MAX,
                 "HAProxy's fall")
    options = ["check", f"inter {inter}", f"rise {rise}", f"fall {fall}"]
    if check.unhealthy_interval_s is not None:
        field = f"{where}.unhealthy_interval_s"
        options.append(f"downinter {_time(check.unhealthy_interval_s, field, losses)}")
    return options


def haproxy_cfg(plan: Plan, losses: Losses, addresses: list[str]) -> str:
    """The whole haproxy.cfg: defaults, one frontend, one backend."""
    name = token(plan.name, "name")
    balance_lines = balance(plan, losses)
    algorithm = _algorithm(balance_lines)
    weights = integer_weights(raw_weights(plan, losses), MAX_WEIGHT, losses)
    check_lines, options = _server_options(plan, losses, algorithm)
    for n, (policy, _cfg) in enumerate(plan.rate_limits):
        losses.lose(f"resilience.rate_limit.{n}",
                    f"{policy}: HAProxy counts request rates over sliding windows "
                    "(stick-table http_req_rate), not token buckets; not exported")
    out = [
        f"# HAProxy configuration for {name}, exported by simscale (HAProxy >= 2.2).",
        "# Check it with: haproxy -c -f haproxy.cfg",
        "global",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    option http-keep-alive",
    ]
    out += [f"    {line}" for line in _timeouts(plan, losses) + _retries(plan, losses)]
    out += ["", f"frontend {name}"]
    out += [f"    {line}" for line in edge.haproxy_frontend(plan)]
    out += [f"    default_backend {name}", "", f"backend {name}"]
    out += [f"    {line}" for line in balance_lines + check_lines]
    if options:
        out.append(f"    default-server {' '.join(options)}")
    for server, address, weight in zip(plan.server_names(), addresses, weights):
        line = f"    server {token(server, 'server')} {token(address, 'server address')}"
        if weight != 1:
            line += f" weight {weight}"
        out.append(line)
    out.append("")
    return "\n".join(out)
