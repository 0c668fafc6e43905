"""A request's mutable state inside the simulator, and its terminal statuses."""

from __future__ import annotations

from policies.views import RequestInfo
from simscale.outputs.columns import STATUSES

OK, ERROR, TIMEOUT, REJECTED = 0, 1, 2, 3
STATUS_NAMES = STATUSES  # their names, as requests.parquet writes them
PENDING = -1


class Request:
    """One arrival. `status` stays PENDING until it reaches exactly one terminal status.

    `info` is the immutable part that policies see; the rest is the simulator's bookkeeping.
    """

    __slots__ = ("info", "work_s", "status", "start_s", "instance", "attempts", "after_cpu",
                 "tried", "ttft_s", "data", "mem_mb")

    def __init__(self, info: RequestInfo, work_s: float) -> None:
        self.info = info
        self.work_s = work_s      # CPU core-seconds of work on the instance
        self.status = PENDING
        self.start_s = -1.0       # when it got a slot (-1: never)
        self.instance = None      # the Instance serving it (None: never routed)
        self.attempts = 0
        self.after_cpu = None     # what follows the CPU work: None = respond at once
        self.tried = None         # instances already tried (set on the first retry)
        self.ttft_s = -1.0        # time to first token of an LLM call (-1: none)
        self.data = None          # per-request extras a component records (e.g. ttft_s)
        # mem_mb: the memory it holds on its instance, set there when requests differ in it
