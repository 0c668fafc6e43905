"""Exact order statistics of more values than should be held in memory, read block by block.

The values' float64 bit patterns are mapped to unsigned keys in the values' order, and each
wanted rank is found by a radix selection on those keys: one pass over the blocks counts
the next 16 bits of the keys that share the rank's known prefix, which narrows the rank to
one of 65,536 buckets; once a bucket holds at most COLLECT_VALUES values, the next pass
collects them and sorts them. So memory is a few histograms and at most COLLECT_VALUES
values per rank, whatever the number of values, and the answer is the very value numpy's
sort would put at that rank (typically two or three passes; at most five).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

DIGIT_BITS = 16
COLLECT_VALUES = 1 << 17  # values sorted in memory at once per bucket (1 MB)
_SIGN = np.uint64(1 << 63)
_NAN_KEY = np.uint64((1 << 64) - 1)
_DIGIT_MASK = np.uint64((1 << DIGIT_BITS) - 1)


def sort_keys(values: np.ndarray) -> np.ndarray:
    """uint64 keys ordered as the float64 values are: a non-negative value with its sign
    bit set, a negative one with every bit flipped; NaN (of either sign) last, as numpy
    sorts it."""
    values = np.ascontiguousarray(values, np.float64)
    flip = (values.view(np.int64) >> 63).view(np.uint64) | _SIGN  # all ones when negative
    keys = values.view(np.uint64) ^ flip
    nan = np.isnan(values)
    if nan.any():
        keys[nan] = _NAN_KEY
    return keys


def key_value(key: int) -> float:
    """The float64 whose sort key is `key` (the inverse of sort_keys, NaN aside)."""
    bits = key ^ (1 << 63) if key >> 63 else ~key & ((1 << 64) - 1)
    return float(np.array(bits, np.uint64).view(np.float64))


class _Rank:
    """One wanted rank: the key prefix its value has (its first `bits` bits), how many
    values sort below that prefix, and how many share it."""

    __slots__ = ("rank", "prefix", "bits", "below", "count")

    def __init__(self, rank: int, count: int) -> None:
        self.rank = rank
        self.prefix = 0
        self.bits = 0
        self.below = 0
        self.count = count

    def narrow(self, histogram: np.ndarray) -> None:
        """Move to the bucket of the next DIGIT_BITS bits that holds the rank."""
        cumulative = np.cumsum(histogram)
        digit = int(np.searchsorted(cumulative, self.rank - self.below, side="right"))
        self.below += int(cumulative[digit - 1]) if digit else 0
        self.count = int(histogram[digit])
        self.prefix = (self.prefix << DIGIT_BITS) | digit
        self.bits += DIGIT_BITS


def order_statistics(blocks: Callable[[], Iterable[np.ndarray]], count: int,
                     ranks: Iterable[int], collect_values: int = COLLECT_VALUES
                     ) -> dict[int, float]:
    """{rank: value} for 0-based ranks of the `count` values that each call of blocks()
    yields (in any order, the same values every call); a bucket of at most collect_values
    values is sorted in memory."""
    pending = {r: _Rank(r, count) for r in set(ranks)}
    found: dict[int, float] = {}
    while pending:
        groups: dict[tuple[int, int], list[_Rank]] = {}  # ranks that share a bucket
        for state in list(pending.values()):
            if state.bits == 64:  # the whole key is known: so is the value
                found[state.rank] = key_value(state.prefix)
                del pending[state.rank]
            else:
                groups.setdefault((state.prefix, state.bits), []).append(state)
        if not groups:
            break
        for key, values in _one_pass(blocks, groups, collect_values).items():
            ordered = np.sort(values)
            for state in groups[key]:
                found[state.rank] = float(ordered[state.rank - state.below])
                del pending[state.rank]
    return found


def _one_pass(blocks: Callable[[], Iterable[np.ndarray]],
              groups: dict[tuple[int, int], list[_Rank]], collect_values: int
              ) -> dict[tuple[int, int], np.ndarray]:
    """Read the blocks once: narrow each group of ranks whose bucket is still large by a
    histogram of its next digit, and return the values of each small bucket."""
    refine = {key for key, states in groups.items() if states[0].count > collect_values}
    histograms = {key: np.zeros(1 << DIGIT_BITS, np.int64) for key in refine}
    collected: dict[tuple[int, int], list[np.ndarray]] = {
        key: [] for key in groups if key not in refine}
    for block in blocks():
        keys = sort_keys(block)
        for prefix, bits in groups:
            inside = None if bits == 0 else (keys >> np.uint64(64 - bits)) == prefix
            if (prefix, bits) in refine:
                chosen = keys if inside is None else keys[inside]
                digits = (chosen >> np.uint64(64 - bits - DIGIT_BITS)) & _DIGIT_MASK
                histograms[(prefix, bits)] += np.bincount(digits.astype(np.intp),
                                                          minlength=1 << DIGIT_BITS)
            else:
                collected[(prefix, bits)].append(block if inside is None else block[inside])
    for key in refine:
        for state in groups[key]:
            state.narrow(histograms[key])
    return {key: np.concatenate(parts) for key, parts in collected.items()}
