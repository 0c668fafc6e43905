"""Replay of a trace over a simulated horizon: speed, window, loop and superposed copies.

Arrivals come in chunks; a lap is produced block by block, so memory holds a chunk and
the trace, not a lap's worth of copies. A replay that would be unbounded (a lap with no
length, more arrivals per simulated second, laps or rows than simscale.workload.traces.bounds
allows) is refused before it starts: `replay_problems` says why, by spec field.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simscale.workload.traces.bounds import (
    MAX_LAPS,
    MAX_RATE_SCALE,
    MAX_REPLAY_RATE_RPS,
    MAX_REPLAY_ROWS,
)
from simscale.workload.traces.trace import Trace

CHUNK = 65_536


@dataclass(frozen=True, eq=False)
class ReplayChunk:
    """Consecutive replayed arrivals. arrival_s is simulated time (s, ascending); `row` is the
    index of the source row in the trace; `lap` counts loops (0 = first pass) and `copy`
    the superposed copy (0 = the original). Other columns are the trace's, row by row (None
    where the trace has none); copies keep the original ids.
    """

    arrival_s: np.ndarray
    row: np.ndarray
    lap: np.ndarray
    copy: np.ndarray
    prompt_tokens: np.ndarray | None
    output_tokens: np.ndarray | None
    kind: np.ndarray | None
    user_id: np.ndarray | None
    session_id: np.ndarray | None
    prefix_id: np.ndarray | None

    def __len__(self) -> int:
        return len(self.arrival_s)


def _window(trace: Trace, start_s: float, end_s: float | None) -> tuple[int, int]:
    lo = int(np.searchsorted(trace.arrival_s, start_s, side="left"))
    hi = len(trace) if end_s is None else int(np.searchsorted(trace.arrival_s, end_s, side="left"))
    return lo, max(lo, hi)


def replay_period_s(trace: Trace, start_s: float = 0.0, end_s: float | None = None) -> float:
    """The trace-time length of one lap of the window [start_s, end_s).

    end_s − start_s when end_s is given; otherwise from start_s to the window's last arrival
    plus one mean inter-arrival gap (span / (n − 1)), so looping keeps the window's mean rate
    and the first arrival of a lap does not coincide with the last of the previous one.
    Raises ValueError when that is undefined (fewer than two distinct times and no end_s).
    """
    if end_s is not None:
        return end_s - start_s
    times = trace.arrival_s[np.searchsorted(trace.arrival_s, start_s, side="left") :]
    if len(times) < 2 or times[-1] == times[0]:
        raise ValueError(
            "the window's rows all arrive at one time, so a lap has no length: give its "
            "end (window_s = [start_s, end_s], end_s in replay) to set the lap"
        )
    return float(times[-1] - start_s + (times[-1] - times[0]) / (len(times) - 1))


def replay_problems(
    trace: Trace,
    horizon_s: float,
    *,
    speed: float = 1.0,
    start_s: float = 0.0,
    end_s: float | None = None,
    loop: bool = False,
    rate_scale: float = 1.0,
) -> list[tuple[str, str]]:
    """Why replaying `trace` so is invalid or would be unbounded: (spec field, problem)
    pairs, the fields being those of a trace's arrivals (speed, window_s, loop, rate_scale);
    empty when it is fine.

    Checked: speed and rate_scale finite and > 0, rate_scale <= MAX_RATE_SCALE; the window
    finite; a lap length exists when one is needed (loop or several copies); rows in the
    window × rate_scale per lap of period / speed simulated seconds <= MAX_REPLAY_RATE_RPS;
    laps within horizon_s <= MAX_LAPS; laps × rows in the window × copies <= MAX_REPLAY_ROWS.
    """
    invalid = _invalid_options(speed, start_s, end_s, rate_scale)
    if invalid:
        return invalid
    lo, hi = _window(trace, start_s, end_s)
    rows = hi - lo
    if rows == 0:
        return []  # nothing to replay
    copies = math.ceil(rate_scale)
    try:
        period = replay_period_s(trace, start_s, end_s)
    except ValueError:
        if loop or copies > 1:
            need = "a loop needs" if loop else f"rate_scale {rate_scale:g} spreads copies over"
            return [("loop" if loop else "rate_scale",
                     f"{need} a lap, but the window's {rows:,} row(s) all arrive at one time, "
                     "so a lap has no length: set one with window_s = [start_s, end_s]")]
        return []  # played once: `rows` arrivals at one time
    lap_s = period / speed
    rate_rps = rows * rate_scale / lap_s if lap_s > 0 else math.inf
    what = (f"{rows:,} rows × rate_scale {rate_scale:g} every {lap_s:.3g} simulated s (a lap of "
            f"{period:.3g} trace s at speed {speed:g})")
    if rate_rps > MAX_REPLAY_RATE_RPS:
        field = "speed" if speed > 1 or end_s is None else "window_s"
        return [(field, f"{what} is {rate_rps:.3g} arrivals per simulated second; at most "
                        f"{MAX_REPLAY_RATE_RPS:.0e}")]
    laps = 1.0
    if loop:
        laps = horizon_s / lap_s if lap_s > 0 else math.inf
        laps = math.ceil(laps) if math.isfinite(laps) else math.inf
        if laps > MAX_LAPS:
            field = "speed" if speed > 1 else ("window_s" if end_s is not None else "loop")
            return [(field, f"{what}: {laps:.3g} laps in {horizon_s:g} s; at most "
                            f"{MAX_LAPS:,} laps")]
    visited = laps * rows * copies
    if visited > MAX_REPLAY_ROWS:
        return [("rate_scale" if copies > 1 else "loop",
                 f"{what}: the replay visits {visited:.3g} trace rows ({laps:.3g} laps × "
                 f"{rows:,} rows × {copies} copies); at most {MAX_REPLAY_ROWS:.0e}")]
    return []


def _invalid_options(speed: float, start_s: float, end_s: float | None,
                     rate_scale: float) -> list[tuple[str, str]]:
    for name, value in (("speed", speed), ("rate_scale", rate_scale)):
        if not (math.isfinite(value) and value > 0):
            return [(name, f"must be finite and > 0, got {value}")]
    if rate_scale > MAX_RATE_SCALE:
        return [("rate_scale", f"{rate_scale:g} is more than the {MAX_RATE_SCALE:,} copies of "
                               "the trace a replay may superpose")]
    if not (math.isfinite(start_s) and start_s >= 0):
        return [("window_s", f"start_s must be finite and >= 0, got {start_s}")]
    if end_s is not None and not (math.isfinite(end_s) and end_s > start_s):
        return [("window_s", f"end_s must be finite and > start_s={start_s}, got {end_s}")]
    return []


def replay(
    trace: Trace,
    horizon_s: float,
    *,
    speed: float = 1.0,
    start_s: float = 0.0,
    end_s: float | None = None,
    loop: bool = False,
    rate_scale: float = 1.0,
    rng: np.random.Generator | None = None,
    chunk_size: int = CHUNK,
) -> Iterator[ReplayChunk]:
    """The trace's arrivals as simulated time on [0, horizon_s), in chunks.

    Window: the rows with start_s <= arrival_s < end_s (trace seconds; end_s None: to the
    end); the window's start is simulated time 0. speed: simulated time = trace time / speed
    (2.0 plays twice as fast). loop: after one lap of `replay_period_s(...)` trace seconds,
    start the window again, until the horizon; without it the replay ends with the window.

    rate_scale f: the result superposes floor(f) full copies of the window plus, when f has
    a fractional part, one more copy in which each arrival is kept independently with
    probability f − floor(f) (drawn from `rng`, fresh for every lap); f < 1 is just that
    thinned copy. Copy j is shifted later by j·g/m, where g = period / (rows in the window)
    is the mean gap and m the number of copies, and wrapped cyclically within the lap, so
    every copy has the same arrivals per lap and copies interleave rather than coincide; the
    rate's shape is kept at time scales above g.

    With speed 1, no window, no loop and f = 1, the arrivals are exactly the trace's.
    Raises ValueError ("field: problem") for a replay `replay_problems` refuses, a bad
    horizon or chunk size, or a missing rng when f is not an integer.
    """
    if not (math.isfinite(horizon_s) and horizon_s >= 0):
        raise ValueError(f"horizon_s must be finite and >= 0, got {horizon_s}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    for field, problem in replay_problems(trace, horizon_s, speed=speed, start_s=start_s,
                                          end_s=end_s, loop=loop, rate_scale=rate_scale):
        raise ValueError(f"{field}: {problem}")
    full, fraction = divmod(rate_scale, 1.0)
    if fraction > 0 and rng is None:
        raise ValueError("rate_scale with a fractional part needs an rng for thinning")
    lo, hi = _window(trace, start_s, end_s)
    if hi <= lo:
        return iter(())
    copies = int(full) + (fraction > 0)
    period = replay_period_s(trace, start_s, end_s) if (loop or copies > 1) else math.inf
    laps = _Laps(trace, lo, hi, start_s, period, int(full), fraction, chunk_size)
    return laps.chunks(horizon_s, speed, loop, rng)


class _Laps:
    """One window's laps: its rows, copies and their shifts, produced in time order."""

    def __init__(self, trace: Trace, lo: int, hi: int, start_s: float, period: float,
                 full: int, fraction: float, chunk_size: int) -> None:
        self.trace = trace
        self.lo = lo
        self.base = trace.arrival_s[lo:hi] - start_s  # trace seconds from the window start
        self.period = period
        self.full = full
        self.fraction = fraction
        self.copies = full + (fraction > 0)
        self.chunk_size = chunk_size
        self.shifts = np.zeros(1)
        self.wrap_from = len(self.base)  # rows from here on may wrap in a shifted copy
        if self.copies > 1:
            gap = period / len(self.base)
            # copy j's shift, computed as j * gap / copies (the same float every lap)
            self.shifts = np.array([j * gap / self.copies for j in range(self.copies)])
            self.wrap_from = int(np.searchsorted(self.base + self.shifts[-1], period, "left"))
        self.block_rows = max(1, chunk_size // self.copies)

    def chunks(self, horizon_s: float, speed: float, loop: bool,
               rng: np.random.Generator | None) -> Iterator[ReplayChunk]:
        n, period = len(self.base), self.period
        lap = 0
        while True:
            keep = rng.random(n) < self.fraction if self.fraction > 0 else None  # type: ignore[union-attr]
            pieces = _Pieces(self.trace, self.chunk_size, lap)
            cut = False
            for t, i, j in self._lap(keep):
                sim = (lap * period + t) / speed if lap else t / speed
                end = int(np.searchsorted(sim, horizon_s, side="left"))
                yield from pieces.add(sim[:end], i[:end] + self.lo, j[:end])
                if end < len(sim):
                    cut = True
                    break
            yield from pieces.flush()
            lap += 1
            if cut or not loop or lap * period / speed >= horizon_s:
                return

    def _lap(self, keep: np.ndarray | None) -> Iterator[tuple[np.ndarray, ...]]:
        """(t, i, j) of one lap in time order, in blocks: t trace seconds from the window
        start, i the row in the window, j the copy; equal times in copy order, then in the
        copy's own order (its wrapped rows first). Memory: a block of about chunk_size
        elements, plus those made but not yet due (the rows within one shift of the block's
        end, and of the lap's end, in every copy)."""
        if self.copies == 1:
            rows = np.arange(len(self.base), dtype=np.int64)
            t, i = (self.base, rows) if keep is None else (self.base[keep], rows[keep])
            yield t, i, np.zeros(len(t), dtype=np.int64)
            return
        n = len(self.base)
        # pending: elements made but not yet handed out, in (copy, position in the copy)
        # order, a copy's wrapped rows first
        pending = self._elements(self.wrap_from, n, keep, wrapped=True)
        for k0 in range(0, n, self.block_rows):
            k1 = min(n, k0 + self.block_rows)
            new = self._elements(k0, k1, keep, wrapped=False)
            joined = tuple(np.concatenate(pair) for pair in zip(pending, new, strict=True))
            # within a copy, pending elements come before the new ones: a stable sort by
            # copy alone restores that order (a radix sort: copy is int16)
            by_copy = np.argsort(joined[2], kind="stable")
            joined = tuple(column[by_copy] for column in joined)
            # every later element is at or after the next row's time
            ready = joined[0] < (self.base[k1] if k1 < n else math.inf)
            if ready.any():
                t, i, j = (column[ready] for column in joined)
                order = np.argsort(t, kind="stable")  # ties stay in (copy, pos) order
                yield t[order], i[order], j[order].astype(np.int64)
            pending = tuple(column[~ready] for column in joined)

    def _elements(self, k0: int, k1: int, keep: np.ndarray | None,
                  wrapped: bool) -> tuple[np.ndarray, ...]:
        """(t, i, j) of rows k0..k1 in every copy, copy by copy: those that wrap past the
        lap's end (moved to its start) or those that do not."""
        t = self.base[None, k0:k1] + self.shifts[:, None]
        over = t >= self.period
        over[0] = False  # the original is never shifted
        chosen = over if wrapped else ~over
        if keep is not None:
            chosen[self.full] &= keep[k0:k1]
        rows = np.broadcast_to(np.arange(k0, k1, dtype=np.int64), t.shape)[chosen]
        copy = np.broadcast_to(np.arange(self.copies, dtype=np.int16)[:, None], t.shape)[chosen]
        t = t[chosen]
        return (t - self.period if wrapped else t), rows, copy


class _Pieces:
    """Collects one lap's arrivals and hands them out in chunks of exactly chunk_size (the
    lap's last chunk shorter)."""

    def __init__(self, trace: Trace, chunk_size: int, lap: int) -> None:
        self.trace = trace
        self.size = chunk_size
        self.lap = lap
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0

    def add(self, sim: np.ndarray, rows: np.ndarray, copy: np.ndarray) -> Iterator[ReplayChunk]:
        if len(sim):
            self.parts.append((sim, rows, copy))
            self.count += len(sim)
        while self.count >= self.size:
            sim, rows, copy = self._joined()
            yield self._chunk(sim[: self.size], rows[: self.size], copy[: self.size])
            rest = (sim[self.size :], rows[self.size :], copy[self.size :])
            self.parts = [rest] if len(rest[0]) else []
            self.count -= self.size

    def flush(self) -> Iterator[ReplayChunk]:
        if self.count:
            yield self._chunk(*self._joined())
        self.parts, self.count = [], 0

    def _joined(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if len(self.parts) == 1:
            return self.parts[0]
        sim, rows, copy = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        return sim, rows, copy

    def _chunk(self, sim: np.ndarray, rows: np.ndarray, copy: np.ndarray) -> ReplayChunk:
        trace = self.trace

        def take(column: np.ndarray | None) -> np.ndarray | None:
            return None if column is None else column[rows]

        return ReplayChunk(
            arrival_s=sim,
            row=rows,
            lap=np.full(len(rows), self.lap, dtype=np.int64),
            copy=copy,
            prompt_tokens=take(trace.prompt_tokens),
            output_tokens=take(trace.output_tokens),
            kind=take(trace.kind),
            user_id=take(trace.user_id),
            session_id=take(trace.session_id),
            prefix_id=take(trace.prefix_id),
        )
