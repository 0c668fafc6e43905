"""Resilience: the production resilience policies (policies/resilience, policies/limiters)
driven inside the model, called with data and `now_s` only.

Rooms, each a module: `detection` (which instances the balancer may choose: health checks
in `health`, outlier ejection, circuit breakers, panic mode), `slow_start` (ramped weights
for newcomers), `retries` (the retry policy and per-try timeouts), `admission` (rate
limiters); `shared` holds what they share (an instance as they track it, their counters)
and `component` puts them together and plugs them into the run. Instance faults live in
simscale.model.faults, with the cache's.
"""

from simscale.model.resilience.component import Resilience, ResponseFeedback, attach

__all__ = ["Resilience", "ResponseFeedback", "attach"]
