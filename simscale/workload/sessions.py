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
a few numpy calls per block rather than per session. A block is dropped once every user of
its group has taken its session; memory holds only the blocks of sessions some user of a
group still has ahead of it.
"""

from __future__ import annotations

import numpy as np

from simscale.sections.workload import UsersArrivals
from simscale.streams import stream
from simscale.workload.kinds import Kinds

GROUP_USERS = 1024


class _Block:
    """Session k of one group of users: the requests of all its sessions, concatenated."""

    __slots__ = ("starts", "codes", "work", "prompt", "output", "delays", "taken")

    def __init__(self, starts, codes, work, prompt, output, delays) -> None:
        self.starts = starts    # list: user j's requests are [starts[j], starts[j + 1])
        self.codes = codes
        self.work = work
        self.prompt = prompt
        self.output = output
        self.delays = delays    # wait before each request, s
        self.taken = 0          # users of the group who took their session


class SessionBook:
    """The sessions of a run's closed-loop users, drawn a block at a time (module docstring)."""

    def __init__(self, spec: UsersArrivals, kinds: Kinds, seed: int) -> None:
        self.spec = spec
        self.kinds = kinds
        self.seed = seed
        self.users = spec.total_users
        self.opening = np.array([kinds.codes[k] for k in spec.opening], dtype=np.int64)
        self.p_end = 1.0 / spec.turns_mean
        self._blocks: dict[tuple[int, int], _Block] = {}

    def session(self, uid: int, k: int) -> tuple[list, list, list, list, list]:
        """User `uid`'s session `k` (both from 0): its requests' kind codes, CPU work (s),
        prompt and output tokens, and the wait before each (s)."""
        group, j = divmod(uid, GROUP_USERS)
        key = (group, k)
        block = self._blocks.get(key)
        if block is None:
            block = self._blocks[key] = self._draw(group, k)
        block.taken += 1
        if block.taken == self._group_size(group):
            del self._blocks[key]
        lo, hi = block.starts[j], block.starts[j + 1]
        return (block.codes[lo:hi].tolist(), block.work[lo:hi].tolist(),
                block.prompt[lo:hi].tolist(), block.output[lo:hi].tolist(),
                block.delays[lo:hi].tolist())

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
        codes = np.empty(total, dtype=np.int64)
        is_turn = np.ones(total, dtype=bool)
        is_turn[opening_at] = False
        codes[opening_at] = np.tile(self.opening, n)
        codes[is_turn] = self.kinds.draw_kinds(rng, total - n * n_open)
        work, prompt, output = self.kinds.draw_costs(codes, lambda _code, _what: rng)
        delays = self.spec.think_s.sample(rng, total)
        delays[opening_at] = 0.0  # the opening is sent back to back
        delays[first] = 0.0 if k == 0 else self.spec.session_gap_s.sample(rng, n)
        return _Block(starts.tolist(), codes, work, prompt, output, delays)
