"""A request trace held as columns (what every reader returns)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Trace:
    """A request trace as columns; row i is the i-th request in arrival order.

    arrival_s: float64 seconds from the first arrival (so arrival_s[0] == 0), non-decreasing,
    at most MAX_SPAN_S. prompt_tokens, output_tokens: int64 from 0 to MAX_TRACE_TOKENS, or None
    when the trace does not give them (a generic trace without those columns; draw sizes
    from a distribution instead). kind: object array of str (at most MAX_KINDS distinct),
    or None. user_id, session_id, prefix_id: int64, or None. (simscale.workload.traces.bounds)
    origin: the absolute time of the first arrival when the trace gives wall-clock times
    (Azure), else None. source: the file read. skipped_rows: bad rows dropped (lenient).
    """

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray | None
    output_tokens: np.ndarray | None
    kind: np.ndarray | None = None
    user_id: np.ndarray | None = None
    session_id: np.ndarray | None = None
    prefix_id: np.ndarray | None = None
    source: str = ""
    skipped_rows: int = 0
    origin: np.datetime64 | None = None

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        for name in (
            "prompt_tokens",
            "output_tokens",
            "kind",
            "user_id",
            "session_id",
            "prefix_id",
        ):
            column = getattr(self, name)
            if column is not None and len(column) != n:
                raise ValueError(f"{name} has {len(column)} rows, arrival_s has {n}")
        if n and np.any(np.diff(self.arrival_s) < 0):
            raise ValueError("arrival_s must be non-decreasing")

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last arrival."""
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self) else 0.0

    @property
    def mean_rate_rps(self) -> float:
        """(n − 1) / duration: the mean arrival rate over the trace (0 if undefined)."""
        return (len(self) - 1) / self.duration_s if self.duration_s > 0 else 0.0


def replace(trace: Trace, **changes: Any) -> Trace:
    """A copy of `trace` with some fields changed."""
    fields = {name: getattr(trace, name) for name in Trace.__dataclass_fields__}
    fields.update(changes)
    return Trace(**fields)
