"""Named random streams: one numpy Generator per random component, all from one seed.

Streams are keyed by name, not by creation order, so adding a component (or switching a
policy) leaves every other stream's sample path unchanged: comparisons between policies use
common random numbers.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator for component `name` under root `seed` (PCG64 via SeedSequence)."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))
