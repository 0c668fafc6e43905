"""Load-balancing strategies: each picks one candidate instance per request."""

from policies.balancers.consistent_hash import ConsistentHash, ConsistentHashConfig
from policies.balancers.least_connections import LeastConnections, LeastConnectionsConfig
from policies.balancers.least_response_time import LeastResponseTime, LeastResponseTimeConfig
from policies.balancers.power_of_two import PowerOfTwoChoices, PowerOfTwoConfig
from policies.balancers.random_choice import RandomChoice, RandomConfig
from policies.balancers.round_robin import RoundRobin, RoundRobinConfig
from policies.balancers.sticky import Sticky, StickyConfig
from policies.balancers.weighted_round_robin import WeightedRoundRobin, WeightedRoundRobinConfig
from policies.registry import PolicyEntry, deterministic

ENTRIES = (
    PolicyEntry("round_robin", "balancer", RoundRobinConfig, deterministic(RoundRobin),
                "cycle through instances in order"),
    PolicyEntry("random", "balancer", RandomConfig, RandomChoice,
                "uniformly random instance"),
    PolicyEntry("least_connections", "balancer", LeastConnectionsConfig,
                deterministic(LeastConnections), "fewest in-flight requests"),
    PolicyEntry("power_of_two_choices", "balancer", PowerOfTwoConfig, PowerOfTwoChoices,
                "best of k random choices by in-flight (Envoy least_request)"),
    PolicyEntry("weighted_round_robin", "balancer", WeightedRoundRobinConfig,
                deterministic(WeightedRoundRobin),
                "nginx smooth weighted round robin, optional slow start"),
    PolicyEntry("least_response_time", "balancer", LeastResponseTimeConfig, LeastResponseTime,
                "lowest latency x (in-flight + 1); EWMA or Finagle peak EWMA"),
    PolicyEntry("consistent_hash", "balancer", ConsistentHashConfig,
                deterministic(ConsistentHash),
                "hash ring on session or user id, optional bounded load"),
    PolicyEntry("sticky", "balancer", StickyConfig, Sticky,
                "remember each session's instance; fall back when it is gone"),
)

__all__ = [
    "ENTRIES",
    "ConsistentHash",
    "ConsistentHashConfig",
    "LeastConnections",
    "LeastConnectionsConfig",
    "LeastResponseTime",
    "LeastResponseTimeConfig",
    "PowerOfTwoChoices",
    "PowerOfTwoConfig",
    "RandomChoice",
    "RandomConfig",
    "RoundRobin",
    "RoundRobinConfig",
    "Sticky",
    "StickyConfig",
    "WeightedRoundRobin",
    "WeightedRoundRobinConfig",
]
