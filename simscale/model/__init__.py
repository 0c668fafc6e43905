"""The simulation of the service: the model core, its seam, and the components plugged into it.

Rooms: `core` (arrivals, admission, dispatch, a request's end, waits, timers; with
`lifecycle` and `window`), `seam` (Cluster and Hooks: what a component sees and where it
plugs in), `stages` (a request's path between CPU work and response), `instance`,
`request`, `events`; the components `resilience/`, `faults`, `cache/` with `database`,
`upstream`, `autoscaling`, `stress` and `alerting`, built by `components`; `runner` runs one
experiment. docs/architecture-model.md walks through them.
"""

from simscale.model.core import Model
from simscale.model.request import STATUS_NAMES, Request

__all__ = ["STATUS_NAMES", "Model", "Request"]
