"""Consistent hashing: a ring with virtual nodes, and its bounded-load variant.

The ring follows Karger et al. (1997) with ketama-style virtual nodes: each node owns
`vnodes` points on a 64-bit ring and a key goes to the first point clockwise from its hash,
so adding or removing one of N nodes moves about 1/N of the keys. The bounded-load lookup
follows Mirrokni, Thorup and Zadimoghaddam, "Consistent Hashing with Bounded Loads" (2018):
walk clockwise past nodes whose load would exceed ceil((1 + epsilon) × average).
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable
from itertools import chain

import numpy as np


def hash64(key: object) -> int:
    """A stable 64-bit hash of a key's string form (blake2b; independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(str(key).encode(), digest_size=8).digest(), "big")


class HashRing:
    """Nodes placed on a ring at `vnodes` points each (more points, more even shares)."""

    def __init__(self, nodes: Iterable[Hashable] = (), vnodes: int = 160) -> None:
        if vnodes < 1:
            raise ValueError("vnodes must be >= 1")
        self.vnodes = vnodes
        self._points: list[int] = []
        self._owners: list[Hashable] = []
        self._nodes: set[Hashable] = set()
        self.add_many(nodes)

    @property
    def nodes(self) -> frozenset:
        return frozenset(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def add(self, node: Hashable) -> None:
        """Place a node's virtual points; adding a present node is an error."""
        self.add_many((node,))

    def add_many(self, nodes: Iterable[Hashable]) -> None:
        """Place several nodes' virtual points with one sort (the ring is the same as after
        adding them one by one); a node already present, or given twice, is an error."""
        new = list(nodes)
        seen: set[Hashable] = set()
        for node in new:
            if node in self._nodes or node in seen:
                raise ValueError(f"node {node!r} is already on the ring")
            seen.add(node)
        if not new:
            return
        self._nodes |= seen
        owners = self._owners + [node for node in new for _ in range(self.vnodes)]
        points = np.fromiter(
            chain(self._points, (hash64(f"{node}#{i}") for node in new
                                 for i in range(self.vnodes))),
            dtype=np.uint64, count=len(owners))
        # order by point, ties by the owner's name (a stable sort keeps equal names in order)
        name = {node: str(node) for node in self._nodes}
        rank = {text: r for r, text in enumerate(sorted(set(name.values())))}
        rank_of = {node: rank[text] for node, text in name.items()}
        ranks = np.fromiter((rank_of[o] for o in owners), dtype=np.int64, count=len(owners))
        order = np.lexsort((ranks, points))
        self._points = points[order].tolist()
        self._owners = [owners[i] for i in order.tolist()]

    def remove(self, node: Hashable) -> None:
        """Take a node's points off the ring."""
        if node not in self._nodes:
            raise ValueError(f"node {node!r} is not on the ring")
        self._nodes.discard(node)
        keep = [(p, o) for p, o in zip(self._points, self._owners, strict=True) if o != node]
        self._points = [p for p, _ in keep]
        self._owners = [o for _, o in keep]

    def lookup(self, key: object) -> Hashable:
        """The node that owns `key`; raises LookupError on an empty ring."""
        if not self._points:
            raise LookupError("the ring has no nodes")
        i = bisect_right(self._points, hash64(key))
        return self._owners[i % len(self._owners)]

    def walk(self, key: object):
        """Distinct nodes in clockwise order starting at `key`'s owner."""
        if not self._points:
            return
        n = len(self._owners)
        start = bisect_right(self._points, hash64(key))
        seen: set = set()
        for step in range(n):
            owner = self._owners[(start + step) % n]
            if owner not in seen:
                seen.add(owner)
                yield owner
                if len(seen) == len(self._nodes):
                    return

    def lookup_bounded(self, key: object, load: Callable[[Hashable], float],
                       epsilon: float) -> Hashable:
        """The first node clockwise from `key` whose load is under the bound.

        bound = ceil((1 + epsilon) × (total load + 1) / nodes), counting the key being
        placed, so some node is always under it.
        """
        if epsilon < 0:
            raise ValueError("epsilon must be >= 0")
        nodes = list(self._nodes)
        if not nodes:
            raise LookupError("the ring has no nodes")
        total = sum(load(n) for n in nodes)
        bound = math.ceil((1.0 + epsilon) * (total + 1) / len(nodes))
        for node in self.walk(key):
            if load(node) + 1 <= bound:
                return node
        raise AssertionError("unreachable: some node is always below the bound")
