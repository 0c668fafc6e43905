"""Sticky sessions: remember, fall back when the instance is gone, re-stick, bounded LRU."""

from __future__ import annotations

import numpy as np
import pytest

from policies.balancers import Sticky, StickyConfig
from policies.views import InstanceView, RequestInfo


def req(session: int, user: int = 0) -> RequestInfo:
    return RequestInfo(0, session_id=session, user_id=user)


def test_falls_back_then_resticks_and_stays():
    a, b, c = (InstanceView(10, in_flight=3), InstanceView(11, in_flight=0),
               InstanceView(12, in_flight=5))
    balancer = Sticky()
    log = []

    def route(session, candidates):
        index, reason = balancer.choose(req(session), candidates, 0.0)
        log.append((session, candidates[index].instance_id, reason))

    everyone = (a, b, c)
    route(1, everyone)                 # new: least connections -> 11
    route(1, everyone)                 # remembered
    without_b = (a, c)                 # 11 failed its health checks
    route(1, without_b)                # falls back: least loaded of the rest -> 10
    route(1, without_b)                # re-stuck to 10
    route(1, everyone)                 # 11 is back; the session stays where it is
    assert log == [
        (1, 11, "StickyNew"),
        (1, 11, "Sticky"),
        (1, 10, "StickyFallback"),
        (1, 10, "Sticky"),
        (1, 10, "Sticky"),
    ]


def test_remembered_instance_wins_whatever_the_load():
    balancer = Sticky()
    candidates = (InstanceView(0), InstanceView(1))
    first, _ = balancer.choose(req(5), candidates, 0.0)
    object.__setattr__(candidates[first], "in_flight", 100)
    assert balancer.choose(req(5), candidates, 0.0) == (first, "Sticky")


def test_lru_forgets_the_least_recently_used_session():
    candidates = (InstanceView(0), InstanceView(1))
    balancer = Sticky(StickyConfig(max_sessions=2, assign="round_robin"))
    reasons = [balancer.choose(req(s), candidates, 0.0)[1] for s in (1, 2, 1, 3, 1, 2)]
    # 1 new, 2 new, 1 hit (now most recent), 3 new evicts 2, 1 hit, 2 new again (evicts 3)
    assert reasons == ["StickyNew", "StickyNew", "Sticky", "StickyNew", "Sticky", "StickyNew"]
    assert len(balancer.sessions) == 2 and balancer.evictions == 2


@pytest.mark.parametrize("assign", ["least_connections", "round_robin", "random"])
def test_every_assign_method_spreads_new_sessions(assign):
    candidates = tuple(InstanceView(i) for i in range(4))
    balancer = Sticky(StickyConfig(assign=assign), np.random.default_rng(1))
    picked = {balancer.choose(req(s), candidates, 0.0)[0] for s in range(200)}
    assert picked == {0, 1, 2, 3}


def test_user_key_groups_sessions_of_one_user():
    candidates = tuple(InstanceView(i) for i in range(4))
    balancer = Sticky(StickyConfig(key="user_id", assign="round_robin"))
    picked = {balancer.choose(req(s, user=9), candidates, 0.0)[0] for s in range(20)}
    assert len(picked) == 1


def test_end_session_forgets():
    candidates = (InstanceView(0), InstanceView(1))
    balancer = Sticky()
    balancer.choose(req(1), candidates, 0.0)
    balancer.end_session(1)
    assert balancer.choose(req(1), candidates, 0.0)[1] == "StickyNew"
