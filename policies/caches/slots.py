"""Redis Cluster placement: key → hash slot (CRC16 mod 16384, hash tags) → the shard that owns it.

The mapping is Redis Cluster's own (Redis Cluster specification, "Key distribution model"
and "Hash tags"): HASH_SLOT = CRC16(key) mod 16384, with the CRC16 variant XMODEM (polynomial
0x1021, initial value 0, no reflection; CRC16("123456789") = 0x31C3). When the key holds a
'{' followed later by a '}' with at least one character between them, only the characters
between the first '{' and the first '}' after it are hashed, so "{user:1}:profile" and
"{user:1}:history" share a slot.

Slots are owned by shards. The first assignment is the one `redis-cli --cluster create`
makes for N masters: N contiguous ranges, range i ending at round((i + 1) × 16384 / N) - 1
(the last ends at 16383). The cluster is created from the shards given to the constructor,
or else from the shards added before it is first asked anything.

Resharding moves slots, never keys one by one. A joining shard takes, from each shard
holding more than its share, that shard's highest surplus slots (as `redis-cli --cluster
rebalance` would move them), so about 1/(N+1) of the slots move, all to it. A leaving
shard's slots go to the shards holding the fewest, in contiguous runs that bring each up to
an even share (ties: the first in join order), as an operator reassigns a failed master's
slots. A returning shard is a joining one. `last_moved` counts the slots the latest change
moved.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

SLOTS = 16384


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _crc16_table()


def crc16_xmodem(data: bytes) -> int:
    """CRC16/XMODEM of `data` (poly 0x1021, init 0, no reflection, no final xor)."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def hash_key(key: str | bytes) -> bytes:
    """The part of `key` Redis hashes: its hash tag when it has a non-empty one, else all."""
    data = key.encode() if isinstance(key, str) else bytes(key)
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            return data[start + 1:end]
    return data


def key_hash_slot(key: str | bytes) -> int:
    """The hash slot of `key`, 0..16383 (what CLUSTER KEYSLOT answers)."""
    return crc16_xmodem(hash_key(key)) % SLOTS


def create_ranges(shards: int) -> list[tuple[int, int]]:
    """The (first, last) slot of each master as `redis-cli --cluster create` assigns them."""
    if shards < 1:
        raise ValueError("shards must be >= 1")
    per_shard = SLOTS / shards
    ranges, first = [], 0
    for i in range(shards):
        last = SLOTS - 1 if i == shards - 1 else int(per_shard * (i + 1) - 1 + 0.5)
        ranges.append((first, last))
        first = last + 1
    return ranges


@dataclass(frozen=True)
class RedisClusterConfig:
    """Redis Cluster placement has no parameters: 16384 slots, CRC16/XMODEM, hash tags."""

    __pydantic_config__ = {"extra": "forbid"}


class SlotMap:
    """Keys to shards through Redis Cluster's hash slots; the same questions as ShardMap
    (shard_for, add, remove, owned_by, shards) plus which slots each shard owns."""

    __slots__ = ("_owner", "_order", "_memo", "_memo_limit", "_created", "last_moved")

    def __init__(self, shards: Iterable[Hashable] = (), config: RedisClusterConfig | None = None,
                 memo_limit: int = 1 << 18) -> None:
        if memo_limit < 1:
            raise ValueError("memo_limit must be >= 1")
        self._memo: dict[Hashable, Hashable] = {}
        self._memo_limit = memo_limit
        self._order: list[Hashable] = []
        self._owner: list[Hashable | None] = [None] * SLOTS
        self._created = False
        self.last_moved = 0
        initial = list(shards)
        if len(set(initial)) != len(initial):
            raise ValueError("shard names must be unique")
        self._order.extend(initial)
        if initial:
            self._create()

    def _create(self) -> None:
        """Assign the slots as `redis-cli --cluster create` does for the shards so far."""
        self._created = True
        if self._order:
            for shard, (first, last) in zip(self._order, create_ranges(len(self._order))):
                self._owner[first:last + 1] = [shard] * (last - first + 1)
            self.last_moved = SLOTS

    @property
    def shards(self) -> frozenset:
        return frozenset(self._order)

    def __len__(self) -> int:
        return len(self._order)

    def shard_for(self, key: Hashable) -> Hashable:
        """The shard that owns `key`'s slot; LookupError when there are no shards."""
        shard = self._memo.get(key)
        if shard is None:
            if not self._order:
                raise LookupError("the cluster has no shards")
            if not self._created:
                self._create()
            shard = self._owner[key_hash_slot(str(key))]
            if len(self._memo) >= self._memo_limit:
                self._memo.clear()
            self._memo[key] = shard
        return shard

    def slot_owner(self, slot: int) -> Hashable | None:
        if not self._created:
            self._create()
        return self._owner[slot]

    def slots_of(self, shard: Hashable) -> list[int]:
        """The slots `shard` owns, in increasing order."""
        if not self._created:
            self._create()
        return [slot for slot, owner in enumerate(self._owner) if owner == shard]

    def ranges(self) -> list[tuple[int, int, Hashable]]:
        """(first, last, shard) runs of consecutive slots with one owner, in slot order."""
        if not self._created:
            self._create()
        runs: list[tuple[int, int, Hashable]] = []
        for slot, owner in enumerate(self._owner):
            if runs and runs[-1][2] == owner and runs[-1][1] == slot - 1:
                runs[-1] = (runs[-1][0], slot, owner)
            else:
                runs.append((slot, slot, owner))
        return runs

    def add(self, shard: Hashable) -> None:
        """A shard joins: it takes each other shard's highest surplus slots (ValueError if
        present)."""
        if shard in self._order:
            raise ValueError(f"shard {shard!r} is already in the cluster")
        self._memo.clear()
        self._order.append(shard)
        if not self._created:
            return
        if len(self._order) == 1:
            self._owner = [shard] * SLOTS
            self.last_moved = SLOTS
            return
        target = SLOTS // len(self._order)
        moved = 0
        for donor in self._order[:-1]:
            owned = self.slots_of(donor)
            for slot in owned[target:] if len(owned) > target else ():
                self._owner[slot] = shard
                moved += 1
        self.last_moved = moved

    def add_many(self, shards: Iterable[Hashable]) -> None:
        """Several shards join, one after another (as ShardMap.add_many; before the first
        lookup they are the cluster `redis-cli --cluster create` makes)."""
        for shard in shards:
            self.add(shard)

    def remove(self, shard: Hashable) -> None:
        """A shard leaves: its slots go in contiguous runs to the shards holding the fewest,
        each brought up to an even share (ValueError if absent)."""
        if shard not in self._order:
            raise ValueError(f"shard {shard!r} is not in the cluster")
        self._memo.clear()
        orphans = self.slots_of(shard)
        self._order.remove(shard)
        self.last_moved = len(orphans)
        if not self._order:
            self._owner = [None] * SLOTS
            return
        counts = {s: 0 for s in self._order}
        for owner in self._owner:
            if owner in counts:
                counts[owner] += 1
        takers = sorted(self._order, key=lambda s: counts[s])  # stable: join order on ties
        share, extra = divmod(SLOTS, len(takers))
        start = 0
        for i, taker in enumerate(takers):
            want = share + (1 if i < extra else 0)
            take = len(orphans) - start if i == len(takers) - 1 else max(0, want - counts[taker])
            for slot in orphans[start:start + take]:
                self._owner[slot] = taker
            start += take

    def owned_by(self, shard: Hashable, keys: Iterable[Hashable]) -> list:
        """The keys among `keys` that `shard` owns, in their given order."""
        return [key for key in keys if self.shard_for(key) == shard]
