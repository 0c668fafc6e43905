"""The nginx target: an upstream for the balancer inside a minimal complete nginx.conf.

Open-source nginx syntax (ngx_http_upstream_module, ngx_http_proxy_module, checked with
Debian's nginx 1.22 `nginx -t`): round robin is the default; `least_conn`; `random` and
`random two least_conn` (power of two choices); `hash $http_x_session_id consistent` (ketama)
for session affinity; `server … weight=N max_fails=N fail_timeout=T down`. NGINX Plus-only
features (active `health_check`, `slow_start=`, `least_time`, `sticky`) are Losses. The
proxy listens with TLS on 443 and redirects port 80 to it; the management routes take a
bearer token (simscale.export.edge).
"""

from __future__ import annotations

from simscale.export import edge
from simscale.export.balancing import (
    has_retry_budget,
    integer_weights,
    key_header,
    passive_health,
    raw_weights,
)
from simscale.export.base import Losses, token
from simscale.export.limits import INT64_MAX, NGINX_SECONDS, NGINX_TIME, at_most, proxy_time, whole
from simscale.export.plan import Plan

MAX_WEIGHT = 1000
# What counts as a failed attempt (and, with retries, what is retried): connection errors,
# timeouts and the 5xx answers the simulator records as errors.
NEXT_UPSTREAM = ("error", "timeout", "http_500", "http_502", "http_503", "http_504")
KEEPALIVE_CONNECTIONS = 32
DEFAULT_READ_TIMEOUT_S = 60.0   # nginx's proxy_read_timeout default
LIMIT_ZONE_SIZE = "10m"
# limit_req keeps a rate and a burst in thousandths in a 64-bit integer.
MAX_RATE = INT64_MAX // 1000


def header_variable(header: str) -> str:
    """nginx's variable for a request header: lower case, '-' as '_' ($http_x_session_id)."""
    return "$http_" + header.lower().replace("-", "_")


def balancing_method(plan: Plan, losses: Losses) -> str | None:
    """The upstream's balancing directive (None: round robin, nginx's default)."""
    policy, cfg = plan.balancer_policy, plan.balancer
    if policy in ("round_robin", "weighted_round_robin"):
        return None
    if policy == "least_connections":
        return "least_conn"
    if policy == "random":
        return "random"
    if policy == "power_of_two_choices":
        if cfg.choice_count == 1:
            return "random"
        if cfg.choice_count > 2:
            losses.lose("balancer.params.choice_count",
                        f"nginx compares two random servers (random two least_conn), not "
                        f"{cfg.choice_count}")
        return "random two least_conn"
    if policy == "consistent_hash":
        if cfg.epsilon is not None:
            losses.lose("balancer.params.epsilon",
                        "bounded-load consistent hashing is not in nginx (HAProxy: "
                        "hash-balance-factor); keys stay on their server however loaded")
        if cfg.vnodes != 160:
            losses.lose("balancer.params.vnodes",
                        f"nginx places 160 points per weight unit on its ring, not {cfg.vnodes}")
        return f"hash {header_variable(key_header(cfg.key))} consistent"
    if policy == "sticky":
        losses.lose("balancer",
                    "sticky sessions (a session table) are NGINX Plus only (sticky); exported "
                    f"as a consistent hash on {key_header(cfg.key)}: a session's server follows "
                    f"its hash, not assign={cfg.assign}, and max_sessions does not apply")
        return f"hash {header_variable(key_header(cfg.key))} consistent"
    if policy == "least_response_time":
        if cfg.choice_count == 0:
            method = "least_conn"
        else:
            method = "random" if cfg.choice_count == 1 else "random two least_conn"
        losses.lose("balancer",
                    "least_response_time needs latency-aware balancing (NGINX Plus least_time, "
                    f"Envoy); exported as {method}, which ignores latency")
        return method
    losses.lose("balancer", f"balancer {policy!r} has no nginx equivalent; round robin is used")
    return None


def _servers(plan: Plan, losses: Losses, addresses: list[str]) -> list[str]:
    weights = integer_weights(raw_weights(plan, losses), MAX_WEIGHT, losses)
    health = passive_health(plan, losses, active_checks=False)
    lines = []
    for i, address in enumerate(addresses):
        parts = ["server", token(address, "server address")]
        if weights[i] > 1:
            parts.append(f"weight={weights[i]}")
        if health is None:
            parts.append("max_fails=0")
        else:
            failures = whole(health.failures, health.failures_field, 0, INT64_MAX,
                             "nginx max_fails")
            down = proxy_time(health.down_s, health.down_field, NGINX_SECONDS, losses)
            parts += [f"max_fails={failures}", f"fail_timeout={down}"]
        if weights[i] == 0:
            parts.append("down")
        lines.append(" ".join(parts) + ";")
    return lines


def _rate_limits(plan: Plan, losses: Losses) -> tuple[list[str], list[str]]:
    """(http-level limit_req_zone lines, location-level limit_req lines)."""
    zones, uses = [], []
    for n, (policy, cfg) in enumerate(plan.rate_limits):
        field = f"resilience.rate_limit.{n}"
        if scoped_kinds(plan, n):
            losses.lose(f"{field}.kinds", f"limits only the kinds {scoped_kinds(plan, n)}: "
                        "nginx limits by location, not by request kind; not exported (put "
                        "its limit_req in the location of those routes)")
            continue
        if policy == "token_bucket":
            key, name = "$server_name", f"global{n}"
        elif policy == "per_user_token_bucket":
            key, name = header_variable("X-User-Id"), f"per_user{n}"
        else:
            losses.lose(field, f"rate limiter {policy!r} has no nginx equivalent")
            continue
        zones.append(f"limit_req_zone {key} zone={name}:{LIMIT_ZONE_SIZE} "
                     f"rate={_rate(cfg.rate_per_s, f'{field}.params.rate_per_s', losses)};")
        at_most(cfg.burst, f"{field}.params.burst", MAX_RATE, "nginx's limit_req burst")
        if not float(cfg.burst).is_integer():
            losses.lose(f"{field}.params.burst",
                        f"nginx takes a whole burst; {cfg.burst:g} is rounded")
        burst = max(0, round(cfg.burst) - 1)  # nginx refuses burst=0: it is the default
        uses.append(f"limit_req zone={name}" + (f" burst={burst}" if burst else "") + " nodelay;")
    if uses:
        uses.append("limit_req_status 429;")
    return zones, uses


def scoped_kinds(plan: Plan, n: int) -> str:
    """The kinds limiter n is scoped to, as text ("": every kind)."""
    kinds = plan.rate_limit_kinds[n] if n < len(plan.rate_limit_kinds) else None
    return ", ".join(kinds) if kinds else ""


def _rate(rate_per_s: float, field_path: str, losses: Losses) -> str:
    """limit_req_zone's rate: whole requests per second, else per minute (rounded, a Loss)."""
    at_most(rate_per_s, field_path, MAX_RATE, "nginx's limit_req rate (r/s)")
    if rate_per_s >= 1 and float(rate_per_s).is_integer():
        return f"{int(rate_per_s)}r/s"
    per_minute = max(1, round(rate_per_s * 60))
    if abs(rate_per_s * 60 - per_minute) > 1e-6:
        losses.lose(field_path, f"nginx takes whole requests per second or minute; "
                                f"{rate_per_s:g}/s is rounded to {per_minute}r/m")
    return f"{per_minute}r/m"


def _location(plan: Plan, losses: Losses) -> list[str]:
    retry = plan.retry
    lines = [
        f"proxy_pass http://{plan.name};",
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_set_header Host $host;",
        "proxy_buffering off;",
    ]
    read_timeout, field = plan.request_timeout_s, "timeouts.request_s"
    if retry is not None and retry.per_try_timeout_s is not None:
        read_timeout, field = retry.per_try_timeout_s, "resilience.retry.per_try_timeout_s"
    if read_timeout is None:
        losses.lose("timeouts.request_s",
                    f"nginx always has a read timeout; its default {DEFAULT_READ_TIMEOUT_S:g} s "
                    "is written")
        read_timeout = DEFAULT_READ_TIMEOUT_S
    lines.append(f"proxy_read_timeout {proxy_time(read_timeout, field, NGINX_TIME, losses)};")
    next_upstream = list(NEXT_UPSTREAM)
    tries = 1
    if retry is not None and retry.max_attempts > 1:
        tries = whole(retry.max_attempts, "resilience.retry.max_attempts", 1, INT64_MAX,
                      "nginx proxy_next_upstream_tries")
        retry_on = set(getattr(retry, "retry_on", ("error", "timeout")))
        if "timeout" not in retry_on:
            next_upstream.remove("timeout")
        if "error" not in retry_on:
            next_upstream = [n for n in next_upstream if n == "timeout"]
        if not next_upstream:
            next_upstream = ["off"]
        if has_retry_budget(retry):
            losses.lose("resilience.retry.budget_ratio",
                        "nginx has no retry budget: every failed attempt may be retried")
        if retry.overall_timeout_s is not None:
            timeout = proxy_time(retry.overall_timeout_s, "resilience.retry.overall_timeout_s",
                                 NGINX_TIME, losses)
            lines.append(f"proxy_next_upstream_timeout {timeout};")
    lines.append(f"proxy_next_upstream {' '.join(next_upstream)};")
    lines.append(f"proxy_next_upstream_tries {tries};")
    return lines


def render(plan: Plan, losses: Losses, addresses: list[str] | None = None) -> dict[str, str]:
    """{"nginx.conf": text}. `addresses`: one host:port per instance (default 127.0.0.1:3000+i,
    the service's local multi-instance ports)."""
    if addresses is None:
        addresses = [f"127.0.0.1:{plan.port + i}" for i in range(plan.replicas)]
    files = {"nginx.conf": nginx_conf(plan, losses, addresses)}
    if edge.guarded(plan):
        files[edge.NGINX_TOKENS_FILE] = edge.nginx_tokens()
    return files


def nginx_conf(plan: Plan, losses: Losses, addresses: list[str]) -> str:
    """The whole nginx.conf for the balancer and its upstream servers."""
    name = token(plan.name, "name")
    method = balancing_method(plan, losses)
    servers = _servers(plan, losses, addresses)
    if plan.slow_start is not None:
        losses.lose(plan.slow_start_field,
                    "slow start is NGINX Plus only (server slow_start=); new servers get their "
                    "full weight at once")
    zones, limits = _rate_limits(plan, losses)
    location = _location(plan, losses)

    upstream = ([method + ";"] if method else []) + servers
    upstream.append(f"keepalive {KEEPALIVE_CONNECTIONS};")
    out = [
        f"# nginx configuration for {name}, exported by simscale (open-source nginx >= 1.15.1).",
        "# Check it with: nginx -t -c /absolute/path/nginx.conf",
        "worker_processes auto;",
        "",
        "events {",
        "    worker_connections 1024;",
        "}",
        "",
        "http {",
    ]
    out += [f"    {z}" for z in zones]
    out += [f"    {line}" for line in edge.nginx_http_lines(plan)]
    out.append(f"    upstream {name} {{")
    out += [f"        {line}" for line in upstream]
    out += ["    }", ""]
    out += [f"    {line}" for line in edge.nginx_servers(plan, limits + location)]
    out += ["}", ""]
    return "\n".join(out)
