"""Memory as a limit: what a request holds on an instance, and OOM kills with their restarts.

An instance's memory is `instances.memory_base_mb` plus what the requests on it hold, queued
or served: `memory_per_request_mb` each (or the kind's `memory_mb_by_kind`), plus
`memory_per_token_bytes` for each of its prompt and output tokens. `MemoryPlan` says what a
request holds and, when every request holds the same, how many fit, so the instance's check
on the hot path is one comparison of its in-flight count (simscale.model.instance).

Taking a request past the limit kills the instance as the kernel's OOM killer kills a
container at its cgroup limit: everything it held fails (reason `OOMKilled`, retried when
the retry policy allows), and it restarts after a back-off as Kubernetes restarts a
container (CrashLoopBackOff): 10 s, doubling with each kill up to 300 s, back to 10 s once
the container has run 10 minutes (kubernetes.io, Pod Lifecycle, "Container restarts").
So memory never exceeds the limit and `memory_frac` is at most 1. With `max_memory_frac` an
instance refuses (503, reason `MemoryShed`) a request that would take it above that fraction
of its limit, before the killer acts. Events: `OOMKilled`, `BackOff:<s>s`, `Restarted`.
The killer is simscale.model.oom; the maths is here.
"""

from __future__ import annotations

import math
import sys

from simscale.limits import MAX_QUEUE, MAX_SLOTS
from simscale.spec import InstancesSpec

MB = float(1 << 20)  # simscale's MB is a mebibyte, as Kubernetes' Mi and Docker's m are
NEVER = sys.maxsize  # an in-flight count no instance reaches
MOST_HELD = MAX_SLOTS + MAX_QUEUE  # the most requests one instance can hold at once


def fits(base_mb: float, per_request_mb: float, ceiling_mb: float) -> int:
    """The most requests of `per_request_mb` each that fit beside `base_mb` under
    `ceiling_mb` (NEVER when more fit than an instance can hold: a request that holds
    nothing, or so little that the float sum would stop growing)."""
    if per_request_mb <= 0.0 or (ceiling_mb - base_mb) / per_request_mb > MOST_HELD:
        return NEVER
    n = max(0, math.floor((ceiling_mb - base_mb) / per_request_mb))
    while base_mb + per_request_mb * (n + 1) <= ceiling_mb:  # floating-point edges
        n += 1
    while n > 0 and base_mb + per_request_mb * n > ceiling_mb:
        n -= 1
    return n


class MemoryPlan:
    """What requests hold on an instance, and the limits an instance checks on submit.

    uniform: every request holds `per_request_mb` (no kind of its own, no per-token memory);
    then `oom_at` and `shed_at` are the in-flight counts beyond which an instance is killed
    or refuses, and `check_at` the lower of the two. Otherwise an instance adds up what each
    request holds (`request_mb`) and checks every submit (`check_at` 0).
    """

    def __init__(self, spec: InstancesSpec, kind_names: list[str]) -> None:
        self.base_mb = spec.memory_base_mb
        self.limit_mb = spec.memory_limit_mb
        self.per_request_mb = spec.memory_per_request_mb
        self.shed_mb = (spec.max_memory_frac * spec.memory_limit_mb
                        if spec.max_memory_frac is not None else None)
        by_kind = spec.memory_mb_by_kind
        self.kind_mb = [by_kind.get(name, self.per_request_mb) for name in kind_names]
        self.per_token_mb = spec.memory_per_token_bytes / MB
        self.uniform = self.per_token_mb == 0.0 and all(
            m == self.per_request_mb for m in self.kind_mb)
        self.oom_at = fits(self.base_mb, self.per_request_mb, self.limit_mb)
        self.shed_at = (fits(self.base_mb, self.per_request_mb, self.shed_mb)
                        if self.shed_mb is not None else NEVER)
        self.check_at = min(self.oom_at, self.shed_at) if self.uniform else 0

    def request_mb(self, req) -> float:
        """What `req` holds while it is on an instance, MB (a health probe: per_request_mb)."""
        profile = req.data
        held = self.kind_mb[profile.code] if profile is not None else self.per_request_mb
        if self.per_token_mb:
            info = req.info
            held += (info.prompt_tokens + info.output_tokens) * self.per_token_mb
        return held


def restart_backoff_s(previous_s: float | None, ran_s: float, first_s: float, cap_s: float,
                      reset_s: float) -> float:
    """The wait before restarting a killed container (Kubernetes CrashLoopBackOff).

    previous_s: the last back-off (None: never killed); ran_s: how long it ran since its last
    (re)start. The first kill, or one after at least reset_s of running, waits first_s;
    each further kill doubles the last wait, up to cap_s.
    """
    if previous_s is None or ran_s >= reset_s:
        return min(first_s, cap_s)
    return min(2.0 * previous_s, cap_s)
