"""The distributed cache in front of the database, as the request's data stage.

Rooms: `stage` (a request's reads and writes: Datastore.access), `shards` (the key stores
and which shard owns each key; losses and joins), `warming` (preloading popular keys),
`stats` (counts by window and over the run) and `component` (the rooms built and plugged
into a run). The key population (which users, sessions and prompts requests touch) is the
workload's (simscale.workload.population); the database is simscale.model.database; shard
faults are scheduled with the other faults (simscale.model.faults).
"""

from simscale.model.cache.component import attach
from simscale.model.cache.stage import Datastore

__all__ = ["Datastore", "attach"]
