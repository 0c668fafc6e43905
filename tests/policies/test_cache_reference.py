"""Eviction policies agree exactly with plain reference implementations on fixed sequences.

Each reference is written independently from the policy it checks, the slow, obvious way:
LRU and FIFO on an OrderedDict and a deque, LFU by an O(n) scan for (count, last access),
S3-FIFO on Python lists following the paper's Algorithm 1 line by line. A workload is a
seeded list of operations; both sides see the same one, and their hit/miss sequences and
final contents must be identical.
"""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np
import pytest

from policies.caches import (
    FIFOCache,
    FIFOConfig,
    LFUCache,
    LFUConfig,
    LRUCache,
    LRUConfig,
    S3FIFOCache,
    S3FIFOConfig,
    zipf_popularity,
)

INF = float("inf")


# -- references --------------------------------------------------------------------------------


class RefLRU:
    """LRU with TTL on an OrderedDict (least recent first)."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.expiry = OrderedDict()

    def read(self, key, now):
        if key not in self.expiry:
            return False
        if self.expiry[key] <= now:
            del self.expiry[key]
            return False
        self.expiry.move_to_end(key)
        return True

    def write(self, key, now, ttl):
        self.expiry[key] = INF if ttl is None else now + ttl
        self.expiry.move_to_end(key)
        while len(self.expiry) > self.capacity:
            self.expiry.popitem(last=False)

    def contents(self):
        return set(self.expiry)


class RefFIFO:
    """FIFO with TTL: a deque of keys in write order plus their expiry."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.queue = deque()
        self.expiry = {}

    def read(self, key, now):
        if key not in self.expiry:
            return False
        if self.expiry[key] <= now:
            del self.expiry[key]
            self.queue.remove(key)
            return False
        return True

    def write(self, key, now, ttl):
        if key in self.expiry:
            self.queue.remove(key)
        self.queue.append(key)
        self.expiry[key] = INF if ttl is None else now + ttl
        while len(self.queue) > self.capacity:
            del self.expiry[self.queue.popleft()]

    def contents(self):
        return set(self.expiry)


class RefLFU:
    """LFU by scanning: evict the smallest (count, time of last access)."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.count = {}
        self.last = {}
        self.expiry = {}
        self.tick = 0

    def _touch(self, key):
        self.tick += 1
        self.count[key] += 1
        self.last[key] = self.tick

    def _drop(self, key):
        del self.count[key], self.last[key], self.expiry[key]

    def read(self, key, now):
        if key not in self.count:
            return False
        if self.expiry[key] <= now:
            self._drop(key)
            return False
        self._touch(key)
        return True

    def write(self, key, now, ttl):
        expiry = INF if ttl is None else now + ttl
        if key in self.count:
            self.expiry[key] = expiry
            self._touch(key)
            return
        if len(self.count) >= self.capacity:
            victim = min(self.count, key=lambda k: (self.count[k], self.last[k]))
            self._drop(victim)
        self.tick += 1
        self.count[key] = 1
        self.last[key] = self.tick
        self.expiry[key] = expiry

    def contents(self):
        return set(self.count)


class RefS3FIFO:
    """S3-FIFO, Algorithm 1 of Yang et al. (SOSP 2023), on lists; index 0 is a queue's tail.

    Readings shared with the policy under test: the cache is full when a new key does not
    fit; M is full when it holds more than capacity - 10%; a key's freq is cleared when it
    moves to M; the ghost holds 90% of capacity in keys; a key found in the ghost leaves it.
    Expired or rewritten keys follow the policy's documented behaviour.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.S, self.M, self.G = [], [], []
        self.freq = {}
        self.expiry = {}

    def read(self, key, now):
        if key in self.S or key in self.M:
            if self.expiry[key] <= now:
                (self.S if key in self.S else self.M).remove(key)
                del self.freq[key], self.expiry[key]
                return False
            self.freq[key] = min(self.freq[key] + 1, 3)
            return True
        return False

    def write(self, key, now, ttl):
        expiry = INF if ttl is None else now + ttl
        if key in self.S or key in self.M:
            self.freq[key] = min(self.freq[key] + 1, 3)
            self.expiry[key] = expiry
            return
        self.insert(key)
        self.freq[key] = 0
        self.expiry[key] = expiry

    def insert(self, x):
        while len(self.S) + len(self.M) + 1 > self.capacity:
            self.evict()
        if x in self.G:
            self.G.remove(x)
            self.M.append(x)
        else:
            self.S.append(x)

    def evict(self):
        if len(self.S) >= 0.1 * self.capacity:
            self.evict_s()
        else:
            self.evict_m()

    def evict_s(self):
        evicted = False
        while not evicted and len(self.S) > 0:
            t = self.S[0]
            if self.freq[t] > 1:
                self.M.append(t)
                self.freq[t] = 0
                if len(self.M) > self.capacity - 0.1 * self.capacity:
                    self.evict_m()
            else:
                self.G.append(t)
                while len(self.G) > 0.9 * self.capacity:
                    self.G.pop(0)
                del self.freq[t], self.expiry[t]
                evicted = True
            self.S.pop(0)

    def evict_m(self):
        evicted = False
        while not evicted and len(self.M) > 0:
            t = self.M.pop(0)
            if self.freq[t] > 0:
                self.M.append(t)
                self.freq[t] -= 1
            else:
                del self.freq[t], self.expiry[t]
                evicted = True

    def contents(self):
        return set(self.S) | set(self.M)


# -- workloads ---------------------------------------------------------------------------------


def read_only(n_keys, n_ops, seed):
    """Cache-aside reads of Zipf(1) keys: (op, key, ttl_s) with op always "read"."""
    rng = np.random.default_rng(seed)
    keys = rng.choice(n_keys, size=n_ops, p=zipf_popularity(n_keys, 1.0)).tolist()
    return [("read", k, None) for k in keys]


def mixed(n_keys, n_ops, seed):
    """Reads and 10% writes; every third key has a 150 s TTL (one op per second)."""
    rng = np.random.default_rng(seed)
    keys = rng.choice(n_keys, size=n_ops, p=zipf_popularity(n_keys, 0.9)).tolist()
    writes = (rng.random(n_ops) < 0.1).tolist()
    return [("write" if w else "read", k, 150.0 if k % 3 == 0 else None)
            for k, w in zip(keys, writes, strict=True)]


def run_policy(cache, ops):
    hits = []
    for now, (op, key, ttl) in enumerate(ops):
        if op == "write":
            cache.put(key, float(now), ttl_s=ttl)
            continue
        hit = cache.get(key, float(now))
        hits.append(hit)
        if not hit:
            cache.put(key, float(now), ttl_s=ttl)
    return hits, set(k for k in range(max(k for _, k, _ in ops) + 1) if k in cache)


def run_reference(ref, ops):
    hits = []
    for now, (op, key, ttl) in enumerate(ops):
        if op == "write":
            ref.write(key, float(now), ttl)
            continue
        hit = ref.read(key, float(now))
        hits.append(hit)
        if not hit:
            ref.write(key, float(now), ttl)
    return hits, ref.contents()


CASES = {
    "lru": (lambda c: LRUCache(LRUConfig(c)), RefLRU),
    "fifo": (lambda c: FIFOCache(FIFOConfig(c)), RefFIFO),
    "lfu": (lambda c: LFUCache(LFUConfig(c)), RefLFU),
    "s3fifo": (lambda c: S3FIFOCache(S3FIFOConfig(c)), RefS3FIFO),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("capacity,n_keys,n_ops,seed", [
    (1, 10, 500, 1),
    (7, 40, 3000, 2),
    (50, 400, 12000, 3),
])
def test_read_only_sequence_matches_reference(name, capacity, n_keys, n_ops, seed):
    make, ref_type = CASES[name]
    ops = read_only(n_keys, n_ops, seed)
    hits, contents = run_policy(make(capacity), ops)
    ref_hits, ref_contents = run_reference(ref_type(capacity), ops)
    assert sum(hits) / len(hits) == sum(ref_hits) / len(ref_hits)
    assert hits == ref_hits
    assert contents == ref_contents
    assert 0 < sum(hits) < len(hits)  # the sequence exercises both hits and evictions


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("capacity,seed", [(5, 4), (30, 5)])
def test_mixed_sequence_with_writes_and_ttl_matches_reference(name, capacity, seed):
    make, ref_type = CASES[name]
    ops = mixed(300, 6000, seed)
    hits, contents = run_policy(make(capacity), ops)
    ref_hits, ref_contents = run_reference(ref_type(capacity), ops)
    assert hits == ref_hits
    assert contents == ref_contents


def test_references_differ_from_each_other():
    """The comparison has power: the four policies disagree on the same sequence."""
    ops = read_only(400, 12000, 3)
    ratios = {name: run_reference(ref(50), ops)[0].count(True) for name, (_, ref) in CASES.items()}
    assert len(set(ratios.values())) == len(ratios)
