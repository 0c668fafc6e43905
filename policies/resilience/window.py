"""A sliding time window of counters kept in a fixed ring of buckets (O(1) memory and time).

The window covers the current bucket and the `buckets - 1` before it, so it spans between
`window_s - window_s / buckets` and `window_s` seconds of history. This is how Hystrix's
rolling statistics (10 s in 10 buckets) and Finagle's leaky retry-budget bucket bound their
memory: an exact per-event window would grow with the request rate.
"""

from __future__ import annotations


class SlidingCounts:
    """`channels` counters summed over a sliding window of `window_s` seconds.

    add(now_s, channel, amount) and total(now_s, channel) advance the window to now_s first.
    Time must not go backwards by more than a bucket; an earlier now_s counts into the
    newest bucket.
    """

    __slots__ = ("_buckets", "_width_s", "_counts", "_sums", "_head")

    def __init__(self, window_s: float, buckets: int = 10, channels: int = 1) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be > 0")
        if buckets < 1:
            raise ValueError("buckets must be >= 1")
        if channels < 1:
            raise ValueError("channels must be >= 1")
        self._buckets = buckets
        self._width_s = window_s / buckets
        self._counts = [[0.0] * buckets for _ in range(channels)]
        self._sums = [0.0] * channels
        self._head = -(1 << 62)  # epoch (bucket number) of the newest bucket

    def _advance(self, now_s: float) -> int:
        epoch = int(now_s // self._width_s)
        head = self._head
        if epoch <= head:
            return head % self._buckets
        n = self._buckets
        first = head + 1 if epoch - head < n else epoch - n + 1
        counts, sums = self._counts, self._sums
        for e in range(first, epoch + 1):
            slot = e % n
            for ch in range(len(sums)):
                row = counts[ch]
                sums[ch] -= row[slot]
                row[slot] = 0.0
        self._head = epoch
        return epoch % n

    def add(self, now_s: float, channel: int = 0, amount: float = 1.0) -> None:
        """Count `amount` into `channel` at time now_s."""
        slot = self._advance(now_s)
        self._counts[channel][slot] += amount
        self._sums[channel] += amount

    def total(self, now_s: float, channel: int = 0) -> float:
        """The channel's sum over the window ending at now_s."""
        self._advance(now_s)
        return self._sums[channel]

    def clear(self) -> None:
        """Forget everything counted so far."""
        for row in self._counts:
            for i in range(len(row)):
                row[i] = 0.0
        for ch in range(len(self._sums)):
            self._sums[ch] = 0.0
