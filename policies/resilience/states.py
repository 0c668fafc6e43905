"""State names and the transition record shared by the resilience state machines."""

from __future__ import annotations

from typing import NamedTuple

# Circuit breaker states.
CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"

# Health states (active health checking).
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


class Transition(NamedTuple):
    """One state change of a per-instance state machine, and why it happened.

    reason is a short tag such as "Tripped:ErrorRate" or "Healthy:ChecksPassed"; the driver
    writes it to the events table as is.
    """

    old_state: str
    new_state: str
    reason: str
