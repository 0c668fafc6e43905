"""Shared by the autoscaler tests: a CPU-loaded cluster, and decision logs on a fake clock."""

from __future__ import annotations

from policies.views import ClusterView, PodMetrics


def cpu_cluster(replicas, cpu):
    """`replicas` ready instances at `cpu` (one value for all, or a list with one per instance)."""
    cpus = cpu if isinstance(cpu, list) else [cpu] * replicas
    return ClusterView(replicas, replicas, tuple(PodMetrics(i, cpu_util_frac=c)
                                                 for i, c in enumerate(cpus)))


def decision_log(policy, make_view, loads, start, period_s):
    """Decide at t = k × period_s on make_view(replicas, loads[k]) and apply each decision.

    Returns [(t, replicas, reason)], starting from `start` replicas.
    """
    replicas, log = start, []
    for k, load in enumerate(loads):
        now_s = k * period_s
        decision = policy.decide(make_view(replicas, load), now_s)
        replicas = decision.desired_replicas
        log.append((now_s, replicas, decision.reason))
    return log
