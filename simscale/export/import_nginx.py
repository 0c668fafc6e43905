"""Import an nginx upstream (and the location that proxies to it) as a spec fragment.

Read: the upstream's balancing method and servers (weight, max_fails, fail_timeout) →
[balancer] and [instances] count, [resilience.outlier_detection]; the location's
proxy_read_timeout → [timeouts], proxy_next_upstream(_tries, _timeout) → [resilience.retry],
limit_req → [resilience.rate_limit]. The configuration is tokenized by one regular
expression and parsed with an explicit stack, both in time linear in the text; blocks nest at
most MAX_BLOCK_DEPTH deep. Numbers are read as nginx reads them (`ngx_atoi`, `ngx_parse_time`:
ASCII digits, at most 2^63 - 1, times in milliseconds); every problem names the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from simscale.errors import InputError
from simscale.export.balancing import KEY_HEADERS
from simscale.export.fragment import check_fragment
from simscale.export.limits import INT64_MAX
from simscale.export.nginx import NEXT_UPSTREAM, header_variable

HEADER_KEYS = {header_variable(h): key for key, h in KEY_HEADERS.items()}
MAX_BLOCK_DEPTH = 32

# One token per match: whitespace, a comment, ';', '{', '}', a quoted string (escapes kept
# for the caller; possessive, so an unterminated quote cannot backtrack), a bare word, or a
# lone quote (an unterminated string).
_TOKEN = re.compile(r"""(?P<space>\s++)|(?P<comment>\#[^\n]*+)|(?P<punct>[;{}])"""
                    r"""|"(?P<dq>(?:[^"\\]++|\\.)*+)"|'(?P<sq>(?:[^'\\]++|\\.)*+)'"""
                    r"""|(?P<word>[^\s;{}"'\#]++)|(?P<open>["'])""", re.S)
_ESCAPE = re.compile(r"\\(.)", re.S)


class Directive:
    """One nginx directive: its name, arguments, line, and children when it is a block."""

    __slots__ = ("name", "args", "children", "line")

    def __init__(self, name: str, args: list[str], line: int) -> None:
        self.name, self.args, self.line = name, args, line
        self.children: list[Directive] | None = None


def tokens(text: str, source: str) -> Iterator[tuple[str, bool, int]]:
    """(token, is_punctuation, line) for each token of an nginx configuration."""
    line = 1
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "space":
            line += match.group().count("\n")
        elif kind == "punct":
            yield match.group(), True, line
        elif kind in ("dq", "sq"):
            yield _ESCAPE.sub(r"\1", match.group(kind)), False, line
            line += match.group().count("\n")
        elif kind == "word":
            yield match.group(), False, line
        elif kind == "open":
            raise InputError(f"{source}:{line}: unterminated quoted string")


def parse_nginx(text: str, source: str) -> list[Directive]:
    """nginx configuration as a tree of directives; InputError with the line on bad syntax."""
    root: list[Directive] = []
    stack = [root]
    words: list[tuple[str, int]] = []
    for tok, punct, line in tokens(text, source):
        if not punct:
            words.append((tok, line))
        elif tok == ";":
            if not words:
                raise InputError(f"{source}:{line}: unexpected ';'")
            stack[-1].append(Directive(words[0][0], [w for w, _ in words[1:]], words[0][1]))
            words = []
        elif tok == "{":
            if not words:
                raise InputError(f"{source}:{line}: unexpected '{{'")
            if len(stack) > MAX_BLOCK_DEPTH:
                raise InputError(f"{source}:{line}: blocks nested deeper than "
                                 f"{MAX_BLOCK_DEPTH}")
            block = Directive(words[0][0], [w for w, _ in words[1:]], words[0][1])
            block.children = []
            stack[-1].append(block)
            stack.append(block.children)
            words = []
        else:
            if words or len(stack) == 1:
                raise InputError(f"{source}:{line}: unexpected '}}'")
            stack.pop()
    if words or len(stack) != 1:
        raise InputError(f"{source}: unexpected end of file (a ';' or '}}' is missing)")
    return root


def walk(nodes: list[Directive]) -> Iterator[Directive]:
    """Every directive, depth first, in file order."""
    stack = [iter(nodes)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        yield node
        if node.children:
            stack.append(iter(node.children))


# ---------------------------------------------------------------- numbers as nginx reads them

_TIME_PART = re.compile(r"([0-9]{1,19})(?![0-9])(ms|y|M|w|d|h|m|s)?")
_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
       "M": 2_592_000_000, "y": 31_536_000_000, None: 1000}


def nginx_seconds(text: str, where: str, whole_seconds: bool = False) -> float:
    """An nginx time ("30s", "1500ms", "1m30s", "10") in seconds. nginx counts milliseconds
    in 64 bits; `whole_seconds` directives (fail_timeout) take no "ms"."""
    total_ms, pos = 0, 0
    for match in _TIME_PART.finditer(text):
        if match.start() != pos or (whole_seconds and match.group(2) == "ms"):
            break
        total_ms += int(match.group(1)) * _MS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        unit = "whole seconds, " if whole_seconds else ""
        raise InputError(f"{where}: {text[:40]!r} is not an nginx time ({unit}like 30s, "
                         "1500ms or 1m30s)")
    if total_ms > INT64_MAX:
        raise InputError(f"{where}: {text[:40]!r} exceeds nginx's largest time, 2^63 - 1 ms")
    return total_ms / 1000


def nginx_int(text: str, where: str, low: int = 0) -> int:
    """A whole number as nginx's ngx_atoi reads it: ASCII digits, at most 2^63 - 1."""
    if not re.fullmatch(r"[0-9]{1,19}", text) or not low <= int(text) <= INT64_MAX:
        raise InputError(f"{where}: {text[:40]!r}: a whole number {low}..2^63 - 1 is needed")
    return int(text)


# ---------------------------------------------------------------- the fragment


def _upstream(tree: list[Directive], source: str) -> tuple[Directive, Directive | None]:
    """The upstream a location proxies to (and that location), else the first upstream."""
    upstreams = [d for d in walk(tree) if d.name == "upstream" and d.children is not None]
    if not upstreams:
        raise InputError(f"{source}: no upstream block")
    locations = [d for d in walk(tree) if d.name == "location" and d.children is not None]
    proxied: dict[str, Directive] = {}
    for location in locations:
        for d in location.children or []:
            if d.name == "proxy_pass" and d.args:
                target = d.args[0].rstrip("/")
                for scheme in ("http://", "https://"):
                    if target.startswith(scheme):
                        proxied.setdefault(target[len(scheme):], location)
    for upstream in upstreams:
        name = upstream.args[0] if upstream.args else ""
        if name in proxied:
            return upstream, proxied[name]
    return upstreams[0], (locations[0] if locations else None)


def _method(directives: list[Directive], source: str, warnings: list[str]) -> tuple[str, dict]:
    """(balancer policy, params) from the upstream's balancing directive."""
    methods = [d for d in directives if d.name in ("least_conn", "random", "hash", "ip_hash",
                                                  "least_time", "sticky")]
    if not methods:
        return "round_robin", {}
    if len(methods) > 1:
        warnings.append(f"{source}:{methods[-1].line}: more than one balancing method; nginx "
                        "uses the last")
    d = methods[-1]
    where = f"{source}:{d.line}: {d.name}"
    if d.name == "least_conn":
        return "least_connections", {}
    if d.name == "random":
        if not d.args:
            return "random", {}
        if d.args[0] == "two" and d.args[1:] in ([], ["least_conn"]):
            return "power_of_two_choices", {"choice_count": 2}
        raise InputError(f"{where}: {' '.join(d.args)[:60]!r} (known: random, random two "
                         "least_conn)")
    if d.name == "hash":
        if not d.args or d.args[0] not in HEADER_KEYS:
            raise InputError(f"{where}: key {(d.args[0] if d.args else '')[:40]!r} is not a "
                             f"simscale hash key (known: {', '.join(HEADER_KEYS)})")
        if d.args[1:] != ["consistent"]:
            warnings.append(f"{where}: without 'consistent' nginx hashes modulo the server "
                            "count; imported as consistent hashing")
        return "consistent_hash", {"key": HEADER_KEYS[d.args[0]]}
    if d.name == "least_time":
        warnings.append(f"{where}: NGINX Plus least_time imported as least_response_time")
        return "least_response_time", {}
    raise InputError(f"{where}: not supported ({d.name} balances on the client address or a "
                     "cookie, which simscale requests do not carry)")


def _server(server: Directive, source: str, warnings: list[str]) -> tuple[int, int, float]:
    """(weight, max_fails, fail_timeout_s) of one `server` line."""
    where = f"{source}:{server.line}: server"
    values = {}
    for arg in server.args[1:]:
        key, sep, value = arg.partition("=")
        values[key] = value if sep else ""
    weight = nginx_int(values["weight"], f"{where}: weight", 1) if "weight" in values else 1
    for flag, message in (("down", "down is not modelled (drain the instance instead); "
                                   "counted as an instance"),
                          ("backup", "backup servers are not modelled; counted as an instance"),
                          ("slow_start", "slow_start (NGINX Plus) is not imported")):
        if flag in values:
            warnings.append(f"{where}: {message}")
    max_fails = nginx_int(values.get("max_fails", "1"), f"{where}: max_fails")
    fail_timeout_s = nginx_seconds(values.get("fail_timeout", "10s"), f"{where}: fail_timeout",
                                   whole_seconds=True)
    return weight, max_fails, fail_timeout_s


def import_nginx(text: str, source: str) -> tuple[dict, list[str]]:
    """An nginx upstream (and the location that proxies to it) → (a spec fragment, warnings)."""
    tree = parse_nginx(text, source)
    upstream, location = _upstream(tree, source)
    warnings: list[str] = []
    directives = upstream.children or []
    servers = [_server(d, source, warnings) for d in directives if d.name == "server"]
    if not servers:
        raise InputError(f"{source}:{upstream.line}: upstream has no server")
    policy, params = _method(directives, source, warnings)
    weights = {str(n): weight for n, (weight, _, _) in enumerate(servers) if weight != 1}
    if weights:
        if policy == "round_robin":
            policy, params = "weighted_round_robin", {"weights": weights}
        else:
            warnings.append(f"{source}:{upstream.line}: server weights are only modelled by "
                            f"round robin; ignored for {policy}")
    fragment: dict[str, Any] = {"instances": {"count": len(servers)},
                                "balancer": {"policy": policy, "params": params}}
    health = {(max_fails, timeout_s) for _, max_fails, timeout_s in servers}
    if len(health) > 1:
        warnings.append(f"{source}:{upstream.line}: servers differ in max_fails/fail_timeout; "
                        "the first server's are used")
    _, max_fails, fail_timeout_s = servers[0]
    resilience: dict[str, Any] = {}
    if max_fails > 0:
        resilience["outlier_detection"] = {
            "consecutive_5xx": max_fails, "base_ejection_time_s": fail_timeout_s,
            "max_ejection_time_s": fail_timeout_s, "max_ejection_percent": 100.0}
    if location is not None:
        _location(location.children or [], source, fragment, resilience,
                  _limit_zones(tree, source), len(servers))
    if resilience:
        fragment["resilience"] = resilience
    check_fragment(fragment, source)
    return fragment, warnings


def _retry(by_name: dict[str, Directive], source: str, servers: int) -> dict | None:
    """[resilience.retry] from proxy_next_upstream, _tries and _timeout (None: no retries)."""
    tries = 0
    if "proxy_next_upstream_tries" in by_name:
        d = by_name["proxy_next_upstream_tries"]
        tries = nginx_int(d.args[0] if d.args else "",
                          f"{source}:{d.line}: proxy_next_upstream_tries")
    conditions = set(by_name["proxy_next_upstream"].args) if "proxy_next_upstream" in by_name \
        else {"error", "timeout"}
    if tries == 1 or "off" in conditions:
        return None
    retry: dict[str, Any] = {"max_attempts": tries if tries > 1 else max(2, servers),
                             "budget_ratio": "none"}
    retry_on = []
    if conditions & (set(NEXT_UPSTREAM) - {"timeout"}):
        retry_on.append("error")
    if "timeout" in conditions:
        retry_on.append("timeout")
    retry["retry_on"] = retry_on or ["error"]
    if "proxy_next_upstream_timeout" in by_name:
        d = by_name["proxy_next_upstream_timeout"]
        seconds = nginx_seconds(d.args[0] if d.args else "",
                                f"{source}:{d.line}: proxy_next_upstream_timeout")
        if seconds > 0:
            retry["overall_timeout_s"] = seconds
    return retry


def _location(directives: list[Directive], source: str, fragment: dict, resilience: dict,
              zones: dict[str, tuple[str, float]], servers: int) -> None:
    by_name = {d.name: d for d in directives}
    if "proxy_read_timeout" in by_name:
        d = by_name["proxy_read_timeout"]
        fragment["timeouts"] = {"request_s": nginx_seconds(
            d.args[0] if d.args else "", f"{source}:{d.line}: proxy_read_timeout")}
    retry = _retry(by_name, source, servers)
    if retry is not None:
        resilience["retry"] = retry
    limits = [_limit(d, source, zones) for d in directives if d.name == "limit_req"]
    if limits:
        resilience["rate_limit"] = limits


def _limit(d: Directive, source: str, zones: dict[str, tuple[str, float]]) -> dict:
    """One limit_req → a token bucket (one for the server, or one per user)."""
    args = dict(a.partition("=")[::2] for a in d.args)
    zone = args.get("zone", "")
    if zone not in zones:
        raise InputError(f"{source}:{d.line}: limit_req zone={zone[:40]}: no such "
                         "limit_req_zone")
    key, rate = zones[zone]
    burst = float(nginx_int(args.get("burst") or "0", f"{source}:{d.line}: limit_req burst")
                  + 1)
    if key == "$server_name":
        return {"policy": "token_bucket", "params": {"rate_per_s": rate, "burst": burst}}
    if key == header_variable(KEY_HEADERS["user_id"]):
        return {"policy": "per_user_token_bucket",
                "params": {"rate_per_s": rate, "burst": burst}}
    raise InputError(f"{source}:{d.line}: limit_req zone={zone[:40]}: key {key[:40]} is not "
                     "$server_name (one bucket) or $http_x_user_id (one per user)")


def _limit_zones(tree: list[Directive], source: str) -> dict[str, tuple[str, float]]:
    """limit_req_zone name → (key, requests per second)."""
    zones = {}
    for d in walk(tree):
        if d.name != "limit_req_zone":
            continue
        args = dict(a.partition("=")[::2] for a in d.args[1:])
        name = args.get("zone", "").split(":")[0]
        match = re.fullmatch(r"([0-9]{1,19})r/(s|m)", args.get("rate", ""))
        if not d.args or not name or not match or not 1 <= int(match.group(1)) <= INT64_MAX:
            raise InputError(f"{source}:{d.line}: limit_req_zone: expected KEY "
                             "zone=NAME:SIZE rate=Nr/s (or Nr/m, N >= 1)")
        rate = int(match.group(1)) / (1 if match.group(2) == "s" else 60)
        zones[name] = (d.args[0], rate)
    return zones
