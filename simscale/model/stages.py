"""The stage contract: what a request goes through between its CPU work and its response.

A request of a kind with reads, writes or db_queries carries its KindProfile
(simscale.workload.kinds) in `req.data`: the data types it reads through the cache
(`reads`), those it writes (`writes`), the database queries a miss costs (`db_queries`), and
whether it calls the LLM (`llm`); `req.info.user_id` and `req.info.session_id` are the ids
its keys are made from.

After the CPU work the instance calls `req.after_cpu(instance, req, now)`, which
`stage_chain` builds once per kind, in order:

1. the data stage, `DataStage.access(instance, req, now, then)` (the cache component,
   simscale.model.cache), when the run has a cache and the kind touches data. It performs
   the kind's reads and writes, holding the slot (Cluster.begin_wait / end_wait), then calls
   `then(instance, req, t)`, or Cluster.attempt_failed(...) on a failure;
2. the LLM stage, `LlmStage.call(instance, req, now, then)` (simscale.model.upstream), for
   an `llm` kind; `then` after the last token;
3. the network stage, `NetworkStage.send(instance, req, now, then)` (simscale.model.network),
   when the run models the network: every kind passes it; `then` once its bytes are across;
4. Cluster.respond(instance, req, now).

A kind with no data, no LLM call and no network skips all of it: its `after_cpu` is None and the
instance answers at once (the model's fast path). Every stage holds the request's slot until
it calls its `then`, and checks with Cluster.end_wait that the request still waits on this
attempt (it may have timed out, been abandoned, or its instance may have crashed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from simscale.workload.kinds import KindProfile

Next = Callable[[object, object, float], None]
"""What follows a stage: next(instance, req, now_s)."""


class DataStage(Protocol):
    """Reads and writes a request's data (the cache in front of the database)."""

    def access(self, instance, req, now: float, then: Next,
               on_response_hit: Next | None = None) -> None:
        """Read the kind's types, write its writes, then call then(instance, req, t)."""
        ...


class LlmStage(Protocol):
    """Calls the LLM provider and streams the answer."""

    def call(self, instance, req, now: float, then: Next) -> None:
        """Call the provider for `req`; then(instance, req, t) after its last token."""
        ...


class NetworkStage(Protocol):
    """Moves a request's bytes across its instance's network interface."""

    def send(self, instance, req, now: float, then: Next) -> None:
        """Count (and, with a bandwidth, wait for) the request's bytes; then(instance, req,
        t) once they are across."""
        ...


def stage_chain(respond: Next, datastore: DataStage | None, upstream: LlmStage | None,
                profile: KindProfile, network: NetworkStage | None = None) -> Next | None:
    """The `after_cpu` of requests of kind `profile`: the data stage (when there is one and
    the kind touches data), then the LLM stage (for an llm kind), then the network stage
    (when there is one), then respond; None when there is nothing between the CPU work and
    the response."""
    datastore = datastore if profile.touches_data else None
    upstream = upstream if profile.llm else None
    last = _then(network.send, respond) if network is not None else respond
    after_data = _then(upstream.call, last) if upstream is not None else last
    if datastore is None:
        return after_data if after_data is not respond else None
    return _then(datastore.access, after_data)


def _then(stage: Callable, then: Next) -> Next:
    """stage(instance, req, now, then) as next(instance, req, now). A closure made once per
    kind: calling it costs less than a partial() with a keyword, which copies its keywords
    into a new dict on every call."""

    def call(instance, req, now: float) -> None:
        stage(instance, req, now, then)

    return call
