"""Load-balancing strategies: each picks one candidate instance per request."""

from policies.balancers.least_connections import LeastConnections, LeastConnectionsConfig
from policies.balancers.power_of_two import PowerOfTwoChoices, PowerOfTwoConfig
from policies.balancers.random_choice import RandomChoice, RandomConfig
from policies.balancers.round_robin import RoundRobin, RoundRobinConfig
from policies.registry import PolicyEntry

ENTRIES = (
    PolicyEntry("round_robin", "balancer", RoundRobinConfig,
                lambda cfg, rng: RoundRobin(cfg), "cycle through instances in order"),
    PolicyEntry("random", "balancer", RandomConfig,
                lambda cfg, rng: RandomChoice(cfg, rng), "uniformly random instance"),
    PolicyEntry("least_connections", "balancer", LeastConnectionsConfig,
                lambda cfg, rng: LeastConnections(cfg), "fewest in-flight requests"),
    PolicyEntry("power_of_two_choices", "balancer", PowerOfTwoConfig,
                lambda cfg, rng: PowerOfTwoChoices(cfg, rng),
                "best of k random choices by in-flight (Envoy least_request)"),
)

__all__ = [
    "ENTRIES",
    "LeastConnections",
    "LeastConnectionsConfig",
    "PowerOfTwoChoices",
    "PowerOfTwoConfig",
    "RandomChoice",
    "RandomConfig",
    "RoundRobin",
    "RoundRobinConfig",
]
