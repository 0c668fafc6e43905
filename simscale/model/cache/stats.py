"""The cache's counts: per metrics window and over the run, by data type.

Reads are counted per request kind (each compiled profile counts the requests that passed
through the stage, and knows how many reads of each type one makes), misses per read, so a
hit costs no counter; reads deferred to a later lookup are adjusted for in the window where
they are looked up. Window counts fold into the run totals at each metrics row. The lists
`win_misses` and `win_reads_adjust` are reset in place, so the stage may hold them.
"""

from __future__ import annotations

from policies.caches import DATA_TYPES
from simscale.model.database import Database


class CacheStats:
    """Counters of one run's cache (and its database's totals, for the summary)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.profiles: dict[int, tuple] = {}   # id(kind profile) -> (it, its compiled Profile)
        self.reads = [0, 0, 0, 0]
        self.misses = [0, 0, 0, 0]
        self.win_misses = [0, 0, 0, 0]
        self.win_reads_adjust = [0, 0, 0, 0]
        self.latency_sum_s = 0.0
        self.win_miss_latency_s = 0.0   # what misses add to the lookups' round trips
        self.stale_reads = self.win_stale = 0
        self.evictions = self.win_evictions = 0
        self.coalesced = self.win_coalesced = 0
        self.warmed = 0
        self.response_hits = 0

    def _window(self) -> tuple[list[int], float]:
        """Reads by type in the open window and their lookups' round trips, from the
        profiles' visit counts (less the reads deferred to a later lookup, plus those made)."""
        reads = list(self.win_reads_adjust)
        latency = self.win_miss_latency_s
        for _data, prof in self.profiles.values():
            visits = prof.visits
            if visits:
                latency += visits * prof.delay_s
                for t, n in enumerate(prof.per_type):
                    reads[t] += visits * n
        return reads, latency

    def totals(self) -> tuple[list[int], list[int], float]:
        """Run totals of reads and hits by type, and of read latency, s (open window
        included)."""
        win_reads, win_latency = self._window()
        reads = [a + b for a, b in zip(self.reads, win_reads)]
        misses = [a + b for a, b in zip(self.misses, self.win_misses)]
        return reads, [r - m for r, m in zip(reads, misses)], self.latency_sum_s + win_latency

    def window_values(self, span: float, shards: list) -> tuple:
        """The window's cache columns (simscale.outputs.columns.CACHE); folds the window into
        the run totals and starts the next. shards: every shard (those up are counted)."""
        reads, latency = self._window()
        misses = self.win_misses
        total = sum(reads)
        values = (
            (total - sum(misses)) / total if total else None,
            *((reads[i] - misses[i]) / reads[i] if reads[i] else None
              for i in range(len(DATA_TYPES))),
            total / span,
            latency / total if total else None,
            self.win_evictions,
            self.win_stale,
            self.win_coalesced,
            sum(len(s.store) for s in shards if s.up),
            sum(1 for s in shards if s.up),
        )
        self.reads = [a + b for a, b in zip(self.reads, reads)]
        self.misses = [a + b for a, b in zip(self.misses, misses)]
        self.latency_sum_s += latency
        for _data, prof in self.profiles.values():
            prof.visits = 0
        self.win_misses[:] = [0, 0, 0, 0]
        self.win_reads_adjust[:] = [0, 0, 0, 0]
        self.win_miss_latency_s = 0.0
        self.win_evictions = self.win_stale = self.win_coalesced = 0
        return values

    def summary(self, extra: dict) -> None:
        """The cache's and the database's totals into summary.json."""
        reads, hits, latency_sum_s = self.totals()
        n = sum(reads)
        extra["cache_hit_rate"] = sum(hits) / n if n else None
        for i, name in enumerate(DATA_TYPES):
            extra[f"cache_hit_rate_{name}"] = hits[i] / reads[i] if reads[i] else None
        extra["cache_reads"] = n
        extra["cache_hits"] = sum(hits)
        extra["cache_latency_mean_s"] = latency_sum_s / n if n else None
        extra["stale_reads"] = self.stale_reads
        extra["cache_evictions"] = self.evictions
        extra["cache_coalesced"] = self.coalesced
        extra["cache_warmed_keys"] = self.warmed
        extra["response_cache_hits"] = self.response_hits
        extra.update(self.db.totals())
