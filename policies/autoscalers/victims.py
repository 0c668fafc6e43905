"""Scale-in victim selection: which instances to remove when the replica count drops.

Each selector is a pure function ``(instances, count) -> tuple[Victim, ...]`` returning the
instances to remove in removal order, each with a reason. Instances already draining,
terminated or failed are not candidates. With `prefer_not_ready` (the default), instances that
are not serving — booting, or not healthy — go first, newest first, as the Kubernetes
ReplicaSet controller ranks pods for deletion (not-ready before ready, then the most recently
ready). The remaining order is the selector's:

- newest_first: the most recently ready instance first (ReplicaSet default; cheap, as new
  instances hold the coldest caches);
- oldest_first: the longest-running instance first (refreshes the fleet, like an ASG's
  OldestInstance termination policy);
- least_loaded: the fewest in-flight requests first (least work to drain), newest on ties.

Ties are broken by instance id (higher id = newer) so the order is deterministic. Specs name a
selector by its key in SELECTORS; `get_selector` looks one up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from policies.autoscalers._common import GONE_STATES
from policies.views import READY, InstanceView

NOT_READY = "NotReady"
NEWEST = "Newest"
OLDEST = "Oldest"
LEAST_LOADED = "LeastLoaded"


class Victim(NamedTuple):
    """One instance chosen for removal, and why."""

    instance_id: int
    reason: str


@dataclass(frozen=True)
class VictimConfig:
    """prefer_not_ready: remove booting or unhealthy instances before serving ones."""

    __pydantic_config__ = {"extra": "forbid"}
    prefer_not_ready: bool = True


def _serving(instance: InstanceView) -> bool:
    return instance.state == READY and instance.healthy


def _select(
    instances: Sequence[InstanceView],
    count: int,
    prefer_not_ready: bool,
    key: Callable[[InstanceView], tuple],
    reason: str,
) -> tuple[Victim, ...]:
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    candidates = [i for i in instances if i.state not in GONE_STATES]
    chosen: list[Victim] = []
    if prefer_not_ready:
        idle = sorted(
            (i for i in candidates if not _serving(i)),
            key=lambda i: (-i.ready_since_s, -i.instance_id),
        )
        chosen.extend(Victim(i.instance_id, NOT_READY) for i in idle[:count])
        candidates = [i for i in candidates if _serving(i)]
    remaining = count - len(chosen)
    chosen.extend(Victim(i.instance_id, reason) for i in sorted(candidates, key=key)[:remaining])
    return tuple(chosen)


def newest_first(
    instances: Sequence[InstanceView], count: int, prefer_not_ready: bool = True
) -> tuple[Victim, ...]:
    """Remove the most recently ready instances first."""
    return _select(
        instances, count, prefer_not_ready, lambda i: (-i.ready_since_s, -i.instance_id), NEWEST
    )


def oldest_first(
    instances: Sequence[InstanceView], count: int, prefer_not_ready: bool = True
) -> tuple[Victim, ...]:
    """Remove the longest-running instances first."""
    return _select(
        instances, count, prefer_not_ready, lambda i: (i.ready_since_s, i.instance_id), OLDEST
    )


def least_loaded(
    instances: Sequence[InstanceView], count: int, prefer_not_ready: bool = True
) -> tuple[Victim, ...]:
    """Remove the instances with the fewest in-flight requests first (newest on ties)."""
    return _select(
        instances,
        count,
        prefer_not_ready,
        lambda i: (i.in_flight, -i.ready_since_s, -i.instance_id),
        LEAST_LOADED,
    )


VictimSelector = Callable[[Sequence[InstanceView], int, bool], tuple[Victim, ...]]

SELECTORS: dict[str, VictimSelector] = {
    "newest_first": newest_first,
    "oldest_first": oldest_first,
    "least_loaded": least_loaded,
}


def get_selector(name: str) -> VictimSelector:
    """The selector registered as `name`; KeyError names the known ones."""
    try:
        return SELECTORS[name]
    except KeyError:
        known = ", ".join(sorted(SELECTORS))
        raise KeyError(f"unknown victim selector {name!r} (known: {known})") from None


class VictimPolicy:
    """A selector bound to its config, for drivers that prefer an object: select(instances, n)."""

    def __init__(self, name: str, config: VictimConfig | None = None) -> None:
        self.name = name
        self.config = config or VictimConfig()
        self._select = get_selector(name)

    def select(self, instances: Sequence[InstanceView], count: int) -> tuple[Victim, ...]:
        return self._select(instances, count, self.config.prefer_not_ready)
