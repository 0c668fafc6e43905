"""Users' sessions drawn in blocks: the model of a session (opening, geometric turns, mix,
think times, gaps), the same session whatever order it is asked in, and blocks dropped."""

from __future__ import annotations

import numpy as np
from scipy import stats

from simscale.sections.workload import WorkloadSpec
from simscale.workload.kinds import Kinds
from simscale.workload.sessions import GROUP_USERS, SessionBook

MIX = {
    "history": {"weight": 1.0, "service": {"kind": "deterministic", "value_s": 0.05}},
    "chat": {"weight": 3.0, "llm": True, "service": {"kind": "deterministic", "value_s": 0.02},
             "prompt_tokens": {"mean": 500, "cv": 1.0}, "output_tokens": {"mean": 40}},
}


def book(users: int, seed: int = 5, **kwargs) -> SessionBook:
    arrivals = {"kind": "users", "users": users, "turns_mean": 4,
                "think_s": {"kind": "exponential", "mean_s": 2.0},
                "session_gap_s": {"kind": "deterministic", "value_s": 7.0},
                "opening": ["history"]}
    spec = WorkloadSpec.model_validate({"arrivals": arrivals, "mix": MIX})
    return SessionBook(spec.arrivals, Kinds(spec, seed, []), seed, **kwargs)


def test_sessions_follow_the_spec_in_distribution():
    sessions = book(3000)
    turns, kinds, thinks = [], [], []
    for uid in range(3000):
        for k in range(2):
            codes, work, prompt, output, delays = sessions.session(uid, k)
            assert codes[0] == 0 and delays[0] == (0.0 if k == 0 else 7.0)  # opening, gap
            assert work == [0.05 if c == 0 else 0.02 for c in codes]
            assert all(p > 0 and o > 0 for c, p, o in zip(codes, prompt, output) if c == 1)
            turns.append(len(codes) - 1)
            kinds += codes[1:]
            thinks += delays[1:]
    turns = np.array(turns)
    # geometric turns of mean 4 (>= 1): a 99.9% interval on the mean of 6000 sessions
    half = 3.29 * np.sqrt((1 - 0.25) / 0.25**2 / len(turns))
    assert turns.min() >= 1 and abs(turns.mean() - 4.0) < half
    # turn kinds by weight 1:3; think times exponential with mean 2 s
    assert abs(np.mean(kinds) - 0.75) < 3.29 * np.sqrt(0.75 * 0.25 / len(kinds))
    assert stats.kstest(thinks, "expon", args=(0, 2.0)).pvalue > 0.001


def test_a_users_session_does_not_depend_on_when_it_is_asked_for():
    forward, backward = book(2 * GROUP_USERS + 10), book(2 * GROUP_USERS + 10)
    uids = [0, 5, GROUP_USERS + 3, 2 * GROUP_USERS + 9]
    first = {(u, k): forward.session(u, k) for k in range(3) for u in uids}
    for u in reversed(uids):
        for k in range(3):
            assert backward.session(u, k) == first[(u, k)]
    # different users and sessions differ
    assert first[(0, 0)] != first[(5, 0)] and first[(0, 0)] != first[(0, 1)]


def test_a_block_is_dropped_once_every_user_of_its_group_took_it():
    sessions = book(GROUP_USERS + 3)
    for uid in range(GROUP_USERS - 1):
        sessions.session(uid, 0)
    sessions.session(GROUP_USERS, 0)  # the second group (3 users)
    assert set(sessions._blocks) == {(0, 0), (1, 0)}
    sessions.session(GROUP_USERS - 1, 0)
    assert set(sessions._blocks) == {(1, 0)}
    for uid in (GROUP_USERS + 1, GROUP_USERS + 2):
        sessions.session(uid, 0)
    assert not sessions._blocks


def test_blocks_dropped_for_room_are_drawn_again_with_the_same_values():
    users = 2 * GROUP_USERS
    roomy, tight = book(users), book(users, max_bytes=1)  # tight keeps one block at a time
    # users drift apart: user 0 runs five sessions ahead, then the others catch up
    order = [(0, k) for k in range(5)] + [(u, k) for k in range(5) for u in range(1, users)]
    for uid, k in order:
        assert tight.session(uid, k) == roomy.session(uid, k)
        assert len(tight._blocks) <= 1
    assert tight.draws > roomy.draws == 10  # 2 groups x 5 sessions, each drawn once
    assert not roomy._blocks and roomy._bytes == 0  # every block taken by all: dropped
