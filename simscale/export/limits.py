"""The number ranges each export target accepts, and the checks that hold written numbers to them.

A number outside what the target accepts is refused with an InputError naming the spec field
and the target's limit (exit 2), never written. A duration finer than the target's resolution
is rounded to it, which is a Loss (a warning; an error with --strict) when it changes the
value. Where the limits come from (checked on this project's machine with Debian's
nginx 1.22 `nginx -t` and HAProxy 2.6 `haproxy -c`, and read from the APIs' definitions):

- nginx parses a time into a 64-bit count of milliseconds (`ngx_parse_time`: at most
  2^63 - 1 ms; "9223372036854775808ms" is rejected); `fail_timeout` takes whole seconds only
  ("1ms" is rejected); counts (`max_fails`, `proxy_next_upstream_tries`) are 64-bit
  (`ngx_atoi`); `limit_req` keeps rate and burst in thousandths in a 64-bit integer.
- HAProxy keeps times as 32-bit milliseconds: "timer overflow … maximum value is
  2147483647 ms or ~24.8 days"; `inter 0` is rejected; `rise`, `fall` and `error-limit` must
  be 1..2^31 - 1 (2147483648 wraps and is rejected); a stick-table size is 32-bit unsigned.
- Kubernetes: replicas, probe and HPA fields are int32; stabilization windows 0..3600 s and
  policy periods 1..1800 s (API validation); a resource quantity is at most 2^63 - 1;
  terminationGracePeriodSeconds is int64. KEDA reads thresholds as milli-quantities (int64).
- Docker Compose durations are Go durations (int64 nanoseconds); Docker takes a health
  check interval and timeout of at least 1 ms.
- Redis keeps maxmemory as an unsigned 64-bit number (a larger value is silently capped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simscale.errors import InputError

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
MAX_WINDOW_S = 3600  # an HPA's stabilization window, s (API validation)
MAX_PERIOD_S = 1800  # an HPA scaling policy's period, s


@dataclass(frozen=True)
class TimeLimits:
    """How a target writes a duration: in whole `unit_s` (0.001: milliseconds, 1: seconds),
    from 1 to `max_units` units."""

    target: str
    unit_s: float
    max_units: int

    def describe(self, units: int) -> str:
        unit = "ms" if self.unit_s < 1 else "s"
        return f"{units} {unit}"


NGINX_TIME = TimeLimits("nginx", 0.001, INT64_MAX)
NGINX_SECONDS = TimeLimits("nginx", 1.0, INT64_MAX)       # fail_timeout (time_t seconds)
HAPROXY_TIME = TimeLimits("HAProxy", 0.001, INT32_MAX)
KUBERNETES_SECONDS = TimeLimits("Kubernetes", 1.0, INT32_MAX)
COMPOSE_TIME = TimeLimits("Docker Compose", 0.001, INT64_MAX // 10**6)


def show(value: object) -> str:
    """A number for a message: floats the short way, huge ints by their size (str() of an int
    over 4300 digits raises)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"a {value.bit_length()}-bit number"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


def finite(value: object) -> bool:
    """Whether `value` is a finite number (an int of any size is; a bool is not a number)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def whole_units(value_s: float, field_path: str, limits: TimeLimits, losses) -> int:
    """A positive duration in whole units of `limits`: rounded to the nearest millisecond, or
    up to whole seconds (at least 1); a change is a Loss on `field_path`. InputError when it
    is not a positive finite number, rounds to 0, or exceeds the target's largest time."""
    if not (finite(value_s) and value_s > 0):
        raise InputError(f"{field_path}: {show(value_s)} is not a positive duration")
    if value_s > limits.max_units * limits.unit_s * 2 or (
            value_s / limits.unit_s > limits.max_units + 0.5):
        raise InputError(f"{field_path}: {show(value_s)} s exceeds the largest time "
                         f"{limits.target} takes, {limits.describe(limits.max_units)}")
    exact = value_s / limits.unit_s
    if limits.unit_s < 1:
        units = round(exact)
        if units < 1:
            raise InputError(f"{field_path}: {show(value_s)} s is below the smallest time "
                             f"{limits.target} takes, 1 ms")
    else:
        units = max(1, math.ceil(exact - 1e-9))
    units = min(units, limits.max_units)
    if abs(units - exact) > 1e-6 * max(1.0, exact):
        kind = "milliseconds" if limits.unit_s < 1 else "seconds"
        losses.lose(field_path, f"{value_s:g} s is written as {limits.describe(units)} "
                                f"({limits.target} takes whole {kind})")
    return units


def proxy_time(value_s: float, field_path: str, limits: TimeLimits, losses) -> str:
    """A duration for nginx or HAProxy: "30s" when whole seconds, else "1500ms"."""
    units = whole_units(value_s, field_path, limits, losses)
    if limits.unit_s >= 1:
        return f"{units}s"
    return f"{units // 1000}s" if units % 1000 == 0 else f"{units}ms"


def whole(value: float, field_path: str, low: int, high: int, what: str) -> int:
    """`value` as an int in low..high; InputError naming the field and `what` (the target
    field, like "HAProxy rise") with its range otherwise."""
    if not (finite(value) and low <= value <= high and value == int(value)):
        raise InputError(f"{field_path}: {show(value)} is outside the range of {what}, "
                         f"{low}..{high}")
    return int(value)


def at_most(value: float, field_path: str, high: float, what: str) -> float:
    """`value` itself when it is finite and at most `high`; InputError otherwise."""
    if not (finite(value) and value <= high):
        raise InputError(f"{field_path}: {show(value)} exceeds the largest value of {what}, "
                         f"{show(high)}")
    return value
