"""The conversation-context cache of each instance: hits where affinity sends a session back.

Plugged in as a `routed` hook (simscale.model.seam): once the balancer has chosen an
instance for a request of a context kind, its session id is looked up in that instance's LRU
of `capacity_sessions` conversations. A hit costs nothing; a miss adds
`miss_cpu_per_prompt_token_s` × prompt tokens to the request's CPU work and stores the
session. Only a request's first attempt looks up (a retry keeps the work its first attempt
was given). An instance that becomes ready anew (recovered or restarted) starts empty: its
memory went with the process.
"""

from __future__ import annotations

from collections import OrderedDict

from simscale.model.instance import Instance
from simscale.model.request import Request
from simscale.outputs.columns import CONTEXT


class ContextCache:
    """Per-instance LRUs of session ids and their hit counts."""

    columns = CONTEXT

    def __init__(self, spec, kinds: set[str]) -> None:
        self.capacity = spec.capacity_sessions
        self.cpu_per_token_s = spec.miss_cpu_per_prompt_token_s
        self.kinds = frozenset(kinds)
        self._lrus: dict[int, tuple[float, OrderedDict]] = {}  # id → (ready since, LRU)
        self.hits = self.misses = 0
        self._win_hits = self._win_misses = 0

    def routed(self, instance: Instance, req: Request, now: float) -> None:
        """The routed hook: look the request's session up on the chosen instance."""
        info = req.info
        if req.attempts != 1 or info.kind not in self.kinds:
            return
        since = instance.view.ready_since_s
        entry = self._lrus.get(instance.instance_id)
        if entry is None or entry[0] != since:
            entry = self._lrus[instance.instance_id] = (since, OrderedDict())
        lru = entry[1]
        key = info.session_id
        if key in lru:
            lru.move_to_end(key)
            self._win_hits += 1
            return
        self._win_misses += 1
        req.work_s += info.prompt_tokens * self.cpu_per_token_s
        lru[key] = None
        if len(lru) > self.capacity:
            lru.popitem(last=False)

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """context_lookups, context_hit_frac (simscale.outputs.columns.CONTEXT)."""
        hits, misses = self._win_hits, self._win_misses
        self.hits += hits
        self.misses += misses
        self._win_hits = self._win_misses = 0
        lookups = hits + misses
        return lookups, (hits / lookups if lookups else None)

    def summary(self, summary: dict) -> None:
        """context_hits, context_misses, context_hit_rate over the run."""
        lookups = self.hits + self.misses
        summary.update(context_hits=self.hits, context_misses=self.misses,
                       context_hit_rate=self.hits / lookups if lookups else None)


def attach(hooks, spec, profiles) -> ContextCache | None:
    """Build the cache from its section (None: off) and plug it into the hooks."""
    if spec is None:
        return None
    kinds = set(spec.kinds) if spec.kinds is not None else {p.name for p in profiles if p.llm}
    cache = ContextCache(spec, kinds)
    hooks.routed.append(cache.routed)
    hooks.metrics.append(cache)
    hooks.summary.append(cache.summary)
    return cache
