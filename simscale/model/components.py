"""The optional parts of the model, built from their spec sections and plugged into a run.

Each part receives the model as a Cluster and the run's Hooks (simscale.model.seam), never
the model itself; a part that is not configured is not built. The order is fixed: it is the
order of their metrics columns and of their hooks.
"""

from __future__ import annotations

from policies.views import READY
from simscale.model import affinity, alerting, autoscaling, cache, resilience
from simscale.model.network import Network
from simscale.model.oom import OomKiller
from simscale.model.seam import Cluster, Hooks
from simscale.model.stress import StressProbe
from simscale.model.upstream import Upstream
from simscale.spec import Spec
from simscale.workload.chunks import Workload
from simscale.workload.sources import Sources
from simscale.workload.users import RequestPort, Users


def attach_all(cluster: Cluster, hooks: Hooks, spec: Spec, workload: Workload, balancer,
               port: RequestPort) -> list:
    """Build every configured component, in a fixed order, and return them."""
    seed = spec.seed
    parts = [
        OomKiller(cluster, hooks, spec.instances),
        resilience.attach(cluster, hooks, spec.resilience, seed, balancer),
        cache.attach(cluster, hooks, spec.cache, spec.database, seed),
        autoscaling.attach(cluster, hooks, spec.autoscaling, seed, spec.instances),
        *_workload_parts(cluster, hooks, spec, workload, port),
        affinity.attach(hooks, spec.context_cache, workload.profiles),
        # last: its rules may watch any column
        alerting.attach(cluster, hooks, spec.alerts,
                        network=spec.network.bandwidth_bps is not None),
    ]
    return [p for p in parts if p is not None]


def _workload_parts(cluster: Cluster, hooks: Hooks, spec: Spec, workload: Workload,
                    port: RequestPort) -> list:
    """What the workload adds besides arrivals: the LLM upstream (when a kind calls it),
    closed-loop users, the API sources (dashboard, metric pushes, load tests), the stress
    breaking point, the trace's totals, and the bytes its requests move (with [network])."""
    parts: list = []
    if any(p.llm for p in workload.profiles):
        upstream = Upstream(cluster, spec.upstream, spec.seed, hooks)
        hooks.upstream = upstream
        hooks.metrics.append(upstream)
        hooks.summary.append(upstream.summary)
        parts.append(upstream)
    if workload.closed_loop:
        users = Users(cluster.env, port, spec.workload.arrivals, workload.kinds, spec.seed,
                      cluster.arrivals_end_s)
        hooks.end.append(users.on_end)
        hooks.metrics.append(users)
        hooks.summary.append(users.summary)
        parts.append(users)
    wl = spec.workload
    if wl.sources():
        instances = cluster.instances  # by instance_id
        sources = Sources(cluster.env, port, wl, workload.kinds, spec.seed,
                          cluster.arrivals_end_s,
                          lambda: [i.instance_id for i in instances if i.state == READY],
                          lambda iid: instances[iid].state == READY)
        hooks.summary.append(sources.summary)
        parts.append(sources)
    if workload.stairs is not None:
        probe = StressProbe(workload.stairs, cluster.arrivals_end_s)
        hooks.end.append(probe.on_end)
        hooks.summary.append(probe.summary)
        parts.append(probe)
    if workload.trace is not None:
        hooks.summary.append(workload.trace_totals)
    if spec.network.enabled:
        network = Network(cluster, spec.network, spec.cache, workload.profiles)
        hooks.network = network
        hooks.metrics.append(network)
        hooks.summary.append(network.summary)
        parts.append(network)
    return parts
