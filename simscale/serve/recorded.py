"""From production back to the simulator: a recorded fleet's arrival rate as rate points.

`simscale serve` writes one metrics row per scrape interval under FLEETS/<name>/metrics/;
its `arrivals_rps` is the load balancer's rate when a cluster sample reported it, else the
sum of the instances' request rates. The workload kind `recorded` replays it: Poisson
arrivals whose rate is constant over each recorded interval (straight lines bridge a gap,
e.g. while the server was down). Only pyarrow is needed here.
"""

from __future__ import annotations

import functools
from pathlib import Path

MAX_POINTS = 2_000_000


def rate_points(path: str | Path, start_s: float | None = None, end_s: float | None = None,
                rate_scale: float = 1.0) -> tuple[tuple[float, float], ...]:
    """((t_s, rate_rps), ...) with t = 0 at `start_s` (default: the first recorded interval),
    two points per interval (a step at each boundary). ValueError naming the folder when
    there is nothing to replay."""
    folder = Path(path)
    parts = sorted((folder / "metrics").glob("part-*.parquet"))
    if not parts:
        raise ValueError(f"{folder}: no recorded metrics (a fleet folder of simscale serve "
                         "holds metrics/part-*.parquet)")
    version = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in parts)
    return _points(str(folder), version, start_s, end_s, rate_scale)


@functools.lru_cache(maxsize=8)
def _points(folder: str, version: tuple, start_s, end_s, rate_scale):
    import pyarrow.parquet as pq

    rows = []
    for name, _, _ in version:
        table = pq.read_table(Path(folder) / "metrics" / name,
                              columns=["t_s", "interval_s", "arrivals_rps"])
        rows += [r for r in zip(*(table.column(c).to_pylist() for c in table.column_names))
                 if r[2] is not None and r[1]]
    rows.sort()
    if not rows:
        raise ValueError(f"{folder}: the recorded metrics have no arrivals_rps")
    start = rows[0][0] if start_s is None else start_s
    end = float("inf") if end_s is None else end_s
    if end <= start:
        raise ValueError(f"end_s ({end_s}) must be after start_s ({start})")
    points: list[tuple[float, float]] = []
    for t_s, interval_s, rate in rows:
        lo, hi = max(t_s, start) - start, min(t_s + interval_s, end) - start
        if points:
            lo = max(lo, points[-1][0])
        if hi <= lo:
            continue
        points += [(lo, rate * rate_scale), (hi, rate * rate_scale)]
    if not points:
        raise ValueError(f"{folder}: no recorded interval between start_s and end_s")
    if len(points) > MAX_POINTS:
        raise ValueError(f"{folder}: {len(points) // 2} recorded intervals in the window; at "
                         f"most {MAX_POINTS // 2} (narrow start_s/end_s)")
    return tuple(points)
