"""A count-min sketch of access frequency with saturating counters and periodic halving.

The sketch is Cormode and Muthukrishnan's count-min sketch (2005): four rows of `width`
counters; a key increments one counter per row and its estimate is the minimum of them.
Following TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
Policy", ACM Transactions on Storage, 2017), counters saturate at a small maximum (15: four
bits), an increment raises only the counters that hold the minimum ("minimal increment",
conservative update), and after `sample_size` increments every counter is halved (the reset
that ages old popularity away).
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable

DEPTH = 4  # rows; fixed, as in Caffeine, so that the hot path can be unrolled
_MASK64 = (1 << 64) - 1
_HALVE = bytes(c >> 1 for c in range(256))  # translation table: each byte to half its value


def mix64(z: int) -> int:
    """SplitMix64's output function (Steele, Lea and Flood, 2014): a 64-bit bijection whose
    output bits each depend on every input bit."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def next_power_of_two(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 << max(0, int(n) - 1).bit_length()


class CountMinSketch:
    """Frequency estimates for any hashable key, stable across processes.

    A key's fingerprint is its low 64 bits for an int and the CRC-32 of str(key) otherwise,
    so it does not depend on PYTHONHASHSEED. The fingerprint is XORed with a salt drawn from
    `seed` and goes through a 64-bit mixer; each row takes its own 16 bits of the result
    (widths up to 2**16), or 32 bits of two such words salted apart (wider sketches).

    Indexes are memoized in two generations of up to `memo_limit` keys each: when the young
    one fills it becomes the old one, and a key found in the old one moves back. Popular keys
    so stay off the hashing path, and memory stays bounded (about 250 bytes per memoized key).
    """

    __slots__ = ("width", "counter_max", "sample_size", "additions", "resets",
                 "_table", "_salts", "_memo", "_old_memo", "_memo_limit")

    def __init__(self, width: int, counter_max: int = 15, sample_size: int = 0,
                 seed: int = 0, memo_limit: int = 1 << 16) -> None:
        if width < 1 or width & (width - 1):
            raise ValueError(f"width must be a power of two, got {width!r}")
        if not 1 <= counter_max <= 255:
            raise ValueError(f"counter_max must be in [1, 255], got {counter_max!r}")
        if sample_size < 0:
            raise ValueError(f"sample_size must be >= 0, got {sample_size!r}")
        if width > 1 << 32:
            raise ValueError(f"width must be at most 2**32, got {width!r}")
        if memo_limit < 1:
            raise ValueError("memo_limit must be >= 1")
        self.width = width
        self.counter_max = counter_max
        self.sample_size = sample_size  # increments between halvings; 0: never halve
        self.additions = 0              # increments since the last halving (halved with it)
        self.resets = 0                 # halvings so far
        self._table = bytearray(width * DEPTH)  # one byte per counter, row after row
        first = mix64((seed + 0x9E3779B97F4A7C15) & _MASK64)
        self._salts = (first, mix64((first + 0x9E3779B97F4A7C15) & _MASK64))
        self._memo: dict[Hashable, tuple[int, int, int, int]] = {}
        self._old_memo: dict[Hashable, tuple[int, int, int, int]] = {}
        self._memo_limit = memo_limit

    def indexes(self, key: Hashable) -> tuple[int, int, int, int]:
        """The key's counter in each row, as positions in the flat table."""
        found = self._memo.get(key)
        if found is not None:
            return found
        found = self._old_memo.pop(key, None)
        if found is None:
            found = self._hash(key)
        if len(self._memo) >= self._memo_limit:
            self._old_memo = self._memo
            self._memo = {}
        self._memo[key] = found
        return found

    def _hash(self, key: Hashable) -> tuple[int, int, int, int]:
        x = key & _MASK64 if type(key) is int else zlib.crc32(str(key).encode())
        w = self.width
        mask = w - 1
        h = mix64(x ^ self._salts[0])
        if w <= 1 << 16:  # one mixed word holds four 16-bit row indexes
            return (h & mask, w + ((h >> 16) & mask), 2 * w + ((h >> 32) & mask),
                    3 * w + ((h >> 48) & mask))
        g = mix64(x ^ self._salts[1])
        return (h & mask, w + ((h >> 32) & mask), 2 * w + (g & mask), 3 * w + ((g >> 32) & mask))

    def increment(self, key: Hashable) -> None:
        """Count one access of `key` (conservative update; halves the table when due)."""
        idx = self._memo.get(key)
        if idx is None:
            idx = self.indexes(key)
        a, b, c, d = idx
        table = self._table
        ta = table[a]
        tb = table[b]
        tc = table[c]
        td = table[d]
        low = ta
        if tb < low:
            low = tb
        if tc < low:
            low = tc
        if td < low:
            low = td
        if low >= self.counter_max:
            return
        low += 1
        if ta < low:
            table[a] = low
        if tb < low:
            table[b] = low
        if tc < low:
            table[c] = low
        if td < low:
            table[d] = low
        self.additions += 1
        if self.additions == self.sample_size:
            self.halve()

    def estimate(self, key: Hashable) -> int:
        """The estimated access count of `key`: at least its true count since the last
        halving (halved with the table), at most counter_max."""
        idx = self._memo.get(key)
        if idx is None:
            idx = self.indexes(key)
        a, b, c, d = idx
        table = self._table
        return min(table[a], table[b], table[c], table[d])

    def halve(self) -> None:
        """TinyLFU's reset: divide every counter, and the addition count, by two."""
        self._table = self._table.translate(_HALVE)
        self.additions //= 2
        self.resets += 1

    def clear(self) -> None:
        """Forget every count."""
        self._table = bytearray(self.width * DEPTH)
        self.additions = 0
