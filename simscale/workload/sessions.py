"""Closed-loop users' sessions, drawn a block at a time: session k of a group of users at once.

A session is the spec's `opening` kinds and then a geometric number of turns (mean
`turns_mean`), each turn's kind drawn from the mix by weight; each request has its CPU
work and token counts, and a wait before it: 0 inside the opening, `think_s` before a turn,
and before the first request `session_gap_s` (0 for a user's first session).

Users are grouped by index (GROUP_USERS per group). Session k of every user of group g is
drawn in one block from its own stream "users.<g>.session.<k>", with numpy working on whole
arrays: turns for each user, then the kinds of all their turns, their costs by kind, the
think times and the gaps. So a user's k-th session does not depend on when it is asked for
or on what the policies did to the user's timing (common random numbers), and drawing costs
a few numpy calls per block rather than per session.

Memory: a block is dropped once every user of its group has taken its session, and the
blocks kept are bounded by MAX_BLOCK_BYTES: beyond it the least recently used block is
dropped. A user who lags behind its group and needs a dropped block draws it again, with
the same values (its stream starts over), so the bound changes no sample path; it keeps
memory flat however long the run (users drift apart in sessions as a run goes on).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from simscale.sections.workload import UsersArrivals
from simscale.streams import stream
from simscale.workload.kinds import Kinds

GROUP_USERS = 1024
# the blocks kept at most, in bytes (about 128 blocks of 1024 users' ten-request sessions)
MAX_BLOCK_BYTES = 32 * 2**20


class _Block:
    """Session k of one group of users: the requests of all its sessions, concatenated."""

    __slots__ = ("starts", "codes", "work", "prompt", "output", "delays", "taken", "nbytes")

    def __init__(self, starts, codes, work, prompt, output, delays) -> None:
        self.starts = starts    # user j's requests are [starts[j], starts[j + 1])
        self.codes = codes
        self.work = work
        self.prompt = prompt
        self.output = output
        self.delays = delays    # wait before each request, s
        self.taken = 0          # users of the group who took their session
        self.nbytes = sum(a.nbytes for a in (starts, codes, work, prompt, output, delays))


class SessionBook:
    """The sessions of a run's closed-loop users, drawn a block at a time (module docstring)."""

    def __init__(self, spec: UsersArrivals, kinds: Kinds, seed: int,
                 max_bytes: int = MAX_BLOCK_BYTES) -> None:
        self.spec = spec
        self.kinds = kinds
        self.seed = seed
        self.users = spec.total_users
        self.opening = np.array([kinds.codes[k] for k in spec.opening], dtype=np.int16)
        self.p_end = 1.0 / spec.turns_mean
        self.max_bytes = max_bytes
        self._blocks: OrderedDict[tuple[int, int], _Block] = OrderedDict()  # oldest use first
        self._bytes = 0
        self.draws = 0          # blocks drawn, again ones included

    def session(self, uid: int, k: int) -> tuple[list, list, list, list, list]:
        """User `uid`'s session `k` (both from 0): its requests' kind codes, CPU work (s),
        prompt and output tokens, and the wait before each (s)."""
        group, j = divmod(uid, GROUP_USERS)
        key = (group, k)
        blocks = self._blocks
        block = blocks.get(key)
        if block is None:
            block = blocks[key] = self._draw(group, k)
            self._bytes += block.nbytes
            while self._bytes > self.max_bytes and len(blocks) > 1:
                self._drop(next(iter(blocks)))  # the least recently used (never this one)
        else:
            blocks.move_to_end(key)
        block.taken += 1
        if block.taken == self._group_size(group):
            self._drop(key)
        lo, hi = block.starts[j], block.starts[j + 1]
        return (block.codes[lo:hi].tolist(), block.work[lo:hi].tolist(),
                block.prompt[lo:hi].tolist(), block.output[lo:hi].tolist(),
                block.delays[lo:hi].tolist())

    def _drop(self, key: tuple[int, int]) -> None:
        self._bytes -= self._blocks.pop(key).nbytes

    def _group_size(self, group: int) -> int:
        return min(GROUP_USERS, self.users - group * GROUP_USERS)

    def _draw(self, group: int, k: int) -> _Block:
        """Session k of every user of `group`, from stream users.<group>.session.<k>."""
        rng = stream(self.seed, f"users.{group}.session.{k}")
        n = self._group_size(group)
        n_open = len(self.opening)
        turns = rng.geometric(self.p_end, n)
        sizes = turns + n_open
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        total = int(starts[-1])
        first = starts[:-1]
        # the opening's positions (each session's first n_open requests), then the turns'
        opening_at = (first[:, None] + np.arange(n_open)).ravel()
        codes = np.empty(total, dtype=np.int16)
        is_turn = np.ones(total, dtype=bool)
        is_turn[opening_at] = False
        codes[opening_at] = np.tile(self.opening, n)
        codes[is_turn] = self.kinds.draw_kinds(rng, total - n * n_open)
        work, prompt, output = self.kinds.draw_costs(codes, lambda _code, _what: rng)
        delays = self.spec.think_s.sample(rng, total)
        delays[opening_at] = 0.0  # the opening is sent back to back
        delays[first] = 0.0 if k == 0 else self.spec.session_gap_s.sample(rng, n)
        self.draws += 1
        # compact: token counts fit in int32 (simscale.limits.MAX_TOKENS)
        return _Block(starts, codes, work, prompt.astype(np.int32), output.astype(np.int32),
                      delays)
