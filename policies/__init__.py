"""simscale's production policies: balancers, autoscalers, caches and limiters.

This package is production code. It imports only the standard library and numpy, never the
simulator. Policies receive frozen views, take time as `now_s` and randomness as an injected
numpy Generator, and return decisions that carry a reason.
"""

from policies.registry import PolicyEntry, build, entries, get, names
from policies.views import ClusterView, InstanceView, PodMetrics, RequestInfo, ScaleDecision

__all__ = [
    "ClusterView",
    "InstanceView",
    "PodMetrics",
    "PolicyEntry",
    "RequestInfo",
    "ScaleDecision",
    "build",
    "entries",
    "get",
    "names",
]
