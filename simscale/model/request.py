"""A request's mutable state inside the simulator, and its terminal statuses."""

from __future__ import annotations

from policies.views import RequestInfo

OK, ERROR, TIMEOUT, REJECTED = 0, 1, 2, 3
STATUS_NAMES = ("ok", "error", "timeout", "rejected")
PENDING = -1


class Request:
    """One arrival. `status` stays PENDING until it reaches exactly one terminal status."""

    __slots__ = (
        "info", "request_id", "arrival_s", "deadline_s", "work_s", "status", "end_s",
        "start_s", "instance", "attempts", "reason",
    )

    def __init__(self, info: RequestInfo, work_s: float, deadline_s: float) -> None:
        self.info = info
        self.request_id = info.request_id
        self.arrival_s = info.arrival_s
        self.deadline_s = deadline_s
        self.work_s = work_s
        self.status = PENDING
        self.end_s = 0.0
        self.start_s = -1.0  # when it got a slot (-1: never)
        self.instance = None
        self.attempts = 0
        self.reason = ""
