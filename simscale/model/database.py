"""The database behind the cache: a fixed pool of connections, a FIFO wait for one, query times.

An operation (a read of one or more queries, or a write) waits in FIFO order for a free
connection, holds it for the sum of its query times, then calls back. Queries are not
slowed by load: contention shows as waiting for a connection, as with a bounded client pool
(HikariCP, pgbouncer) in front of a database with spare capacity. A query is slow when its
own time (without the wait) reaches `slow_query_s`, as MySQL's long_query_time measures it.

Time integrals (connections in use) use the same identity as the instance: each acquire
subtracts `now` from a running sum and each release adds it, so ∫ in_use dt is exact.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from simscale.outputs.columns import DATABASE
from simscale.outputs.digest import Digest
from simscale.streams import stream
from simscale.workload.samplers import ChunkedSampler


class Database:
    """A connection pool of `pool_size` over a database with sampled query and write times.

    submit() runs an operation at once when a connection is free and none waits; otherwise
    it queues, and when it gets a connection `alive()` (if given) decides whether it still
    runs (a request that timed out while waiting gives its turn away). `done(now)` is called
    when its queries are over. in_use never exceeds pool_size.
    """

    columns = DATABASE

    def __init__(self, env, section, seed: int, timers) -> None:
        self.env = env
        self._timers = timers    # pooled events (simscale.model.events.EventPool)
        self._finished_callbacks = [self._finished]
        self.pool_size = section.pool_size
        self.slow_query_s = section.slow_query_s
        self._query = ChunkedSampler(section.query_time, stream(seed, "cache.db.query"))
        self._write = ChunkedSampler(section.write_time, stream(seed, "cache.db.write"))
        self.in_use = 0
        self.peak_in_use = 0
        self.queue: deque = deque()   # (queries, is_write, done, alive, enqueued_s)
        # run totals
        self.queries = 0
        self.writes = 0
        self.slow = 0
        self.skipped = 0
        self.wait_sum_s = 0.0
        self.granted = 0
        self.durations = Digest()   # every query's and write's own time, s (bounded memory)
        # window counters (the metrics hook reads and resets them)
        self.win_queries = 0
        self.win_writes = 0
        self.win_slow = 0
        self.win_wait_sum_s = 0.0
        self.win_granted = 0
        self.win_durations: list[float] = []
        self._area_sum = 0.0
        self._area_mark = 0.0

    def in_use_area(self, now: float) -> float:
        """Connection-seconds held over [0, now]."""
        return self._area_sum + self.in_use * now

    def submit(self, queries: int, is_write: bool, done: Callable[[float], None],
               alive: Callable[[float], bool] | None, now: float) -> None:
        """Run `queries` queries (or one write when is_write) on one connection, then done(t).
        The caller's request waits on it now, so alive() is asked only after a wait."""
        if self.in_use < self.pool_size and not self.queue:
            self.granted += 1  # at once: no wait to add
            self.win_granted += 1
            self._run(queries, is_write, done, now)
        else:
            self.queue.append((queries, is_write, done, alive, now))

    def _grant(self, queries: int, is_write: bool, done: Callable[[float], None],
               alive: Callable[[float], bool] | None, enqueued_s: float, now: float) -> None:
        """A queued operation gets the connection just freed."""
        wait_s = now - enqueued_s
        self.wait_sum_s += wait_s
        self.win_wait_sum_s += wait_s
        self.granted += 1
        self.win_granted += 1
        if alive is not None and not alive(now):
            self.skipped += 1
            return
        self._run(queries, is_write, done, now)

    def _run(self, queries: int, is_write: bool, done: Callable[[float], None],
             now: float) -> None:
        """Hold a connection for the operation's query (or write) times, then done(t)."""
        self.in_use += 1
        self._area_sum -= now
        if self.in_use > self.peak_in_use:
            self.peak_in_use = self.in_use
        slow_s = self.slow_query_s
        if is_write:
            total = self._write.draw()
            self.writes += 1
            self.win_writes += 1
            self.win_durations.append(total)
            if total >= slow_s:
                self.slow += 1
                self.win_slow += 1
        else:
            total = 0.0
            draw = self._query.draw
            for _ in range(queries):
                t = draw()
                total += t
                self.win_durations.append(t)
                if t >= slow_s:
                    self.slow += 1
                    self.win_slow += 1
            self.queries += queries
            self.win_queries += queries
        self._timers.at(self.env._now + total, done, self._finished_callbacks)

    def _finished(self, ev) -> None:
        done = ev._value
        ev._value = None
        self._timers.free.append(ev)
        now = self.env._now
        self.in_use -= 1
        self._area_sum += now
        queue = self.queue
        while queue and self.in_use < self.pool_size:
            self._grant(*queue.popleft(), now)
        done(now)

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """This interval's database columns (simscale.outputs.columns.DATABASE); resets the
        window counters."""
        area = self.in_use_area(now)
        durations = self.win_durations
        values = (
            self.win_queries / span,
            self.win_writes / span,
            (area - self._area_mark) / span,
            float(np.quantile(durations, 0.95)) if durations else None,
            self.win_slow,
            len(self.queue),
            self.win_wait_sum_s / self.win_granted if self.win_granted else None,
        )
        self._area_mark = area
        self.win_queries = self.win_writes = self.win_slow = self.win_granted = 0
        self.win_wait_sum_s = 0.0
        self.durations.add(np.asarray(durations))
        self.win_durations = []
        return values

    def totals(self) -> dict:
        """Run totals for summary.json (the open window's times included)."""
        self.durations.add(np.asarray(self.win_durations))
        self.win_durations = []
        p95 = self.durations.quantiles([0.95])
        return {
            "db_queries": self.queries,
            "db_writes": self.writes,
            "db_slow_queries": self.slow,
            "db_query_p95_s": p95[0] if p95 else None,
            "db_wait_mean_s": self.wait_sum_s / self.granted if self.granted else 0.0,
            "db_connections_peak": self.peak_in_use,
        }
