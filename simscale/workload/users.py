"""Closed-loop users: each sends one request, waits for its end, thinks, and sends the next.

A user runs chat sessions one after another. A session is the spec's `opening` kinds (sent
back to back) and then a geometric number of turns with mean `turns_mean` (after each turn
the session ends with probability 1/turns_mean), each turn's kind drawn from the mix by
weight. After a request ends, whatever its status (ok, error, rejected, timeout), the user
waits `think_s` before the next turn, or `session_gap_s` before the next session's first
request; so a user never has two requests in flight. User i (from 0) starts its first
session at i·ramp_s/users (a staircase: as its spec's start_s says); nobody sends at or
after the end of the arrival window.

Ids: user_id is the user's index; session k (from 0) of user u has session_id
u·1_000_000 + k, so the ids do not depend on the order in which users' events happen.

Randomness: sessions are drawn by simscale.workload.sessions, session k of a group of users
at a time from its own stream, so a user's sequence of sessions is the same whatever the
policies do to its timing (common random numbers). Requests are made as the run goes,
through a `RequestPort` the model gives (ids, sending a request into admission, and a
pooled event for each thinking user's next request); the model reports each request's end
back through `on_end`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import simpy

from policies.views import RequestInfo
from simscale.outputs.columns import USERS
from simscale.sections.workload import UsersArrivals
from simscale.workload.kinds import Kinds
from simscale.workload.sessions import SessionBook

SESSION_STRIDE = 1_000_000
_new_info = tuple.__new__


class Timers(Protocol):
    """Pooled events (simscale.model.events.EventPool): at_later(time_s, value, callbacks)
    calls callbacks[0](event) at time_s with event._value = value; the callback gives the
    event back with free.append(event)."""

    free: list

    def at_later(self, time_s: float, value, callbacks: list[Callable]) -> object:
        ...


class RequestPort(Protocol):
    """How users reach the model: request ids, sending a request into admission, and pooled
    events for the users' think times."""

    timers: Timers

    def new_request_id(self) -> int:
        """An id for a request made outside the arrival stream."""
        ...

    def send(self, info: RequestInfo, work_s: float, kind_code: int) -> None:
        """Admit a request of kind `kind_code` costing `work_s` CPU seconds, now."""
        ...


class _User:
    __slots__ = ("uid", "sessions", "session_id", "codes", "work", "prompt", "output",
                 "delays", "pos", "info")

    def __init__(self, uid: int) -> None:
        self.uid = uid
        self.sessions = 0     # sessions started
        self.session_id = -1  # the current session's id
        self.pos = 0          # the next request of the current session
        self.info = None      # the request in flight (its RequestInfo)
        self.codes: list[int] = []
        self.work: list[float] = []
        self.prompt: list[int] = []
        self.output: list[int] = []
        self.delays: list[float] = []   # wait before each request of the session, s


class Users:
    """The closed-loop user population of one run."""

    columns = USERS

    def __init__(self, env: simpy.Environment, port: RequestPort, spec: UsersArrivals,
                 kinds: Kinds, seed: int, end_s: float) -> None:
        self.env = env
        self.port = port
        self.spec = spec
        self.kinds = kinds
        self.seed = seed
        self.end_s = end_s
        self.book = SessionBook(spec, kinds, seed)
        self.users: list[_User] = []
        self.sessions = 0
        self.waiting = 0      # users with a request in flight
        self._timers = port.timers
        self._new_id = port.new_request_id
        self._send_request = port.send
        self._names = [p.name for p in kinds.profiles]
        self._send_callbacks = [self._thought]
        ev = self.env.timeout(0.0)  # start once the model is built and running
        ev.callbacks.append(self._start_due)

    # ------------------------------------------------------------ starting users

    def start_s(self, uid: int) -> float:
        """When user `uid` sends its first request."""
        return self.spec.start_s(uid)

    def _start_due(self, _ev) -> None:
        now = self.env._now
        n = self.spec.total_users
        while len(self.users) < n and self.start_s(len(self.users)) <= now:
            uid = len(self.users)
            user = _User(uid)
            self.users.append(user)
            if now < self.end_s:
                self._plan_session(user)
                self._send(user)
        if len(self.users) < n:
            at = self.start_s(len(self.users))
            if at < self.end_s:
                ev = self.env.timeout(at - now)
                ev.callbacks.append(self._start_due)

    # ------------------------------------------------------------ sessions

    def _plan_session(self, user: _User) -> None:
        """Take the user's next session: its requests and the waits before each."""
        (user.codes, user.work, user.prompt, user.output,
         user.delays) = self.book.session(user.uid, user.sessions)
        user.pos = 0
        user.session_id = user.uid * SESSION_STRIDE + user.sessions
        user.sessions += 1

    def _send(self, user: _User) -> None:
        """The user sends its session's next request, now (before the end of the window)."""
        now = self.env._now
        if now >= self.end_s:
            return
        pos = user.pos
        if pos == 0:
            self.sessions += 1  # a session counts once its first request is sent
        code = user.codes[pos]
        info = _new_info(RequestInfo, (self._new_id(), self._names[code], user.uid,
                                       user.session_id, user.prompt[pos], user.output[pos],
                                       now))
        user.info = info
        self.waiting += 1
        self._send_request(info, user.work[pos], code)

    def on_end(self, req, status: int, now: float) -> None:
        """An end hook (simscale.model.seam.EndHook): a request ended, whatever its status;
        its user thinks, then sends the next."""
        info = req.info
        user = self.users[info.user_id]
        if user.info is not info:
            return
        user.info = None
        self.waiting -= 1
        pos = user.pos + 1
        if pos < len(user.codes):
            user.pos = pos
        else:
            self._plan_session(user)
            pos = 0
        at = now + user.delays[pos]
        if at >= self.end_s:
            return  # this user is done
        t = self.env._now
        # at `at`, or now when that is past (as a Timeout of max(0, at - t) would be)
        self._timers.at_later(t + (at - t) if at > t else t, user,
                                self._send_callbacks)

    def _thought(self, ev) -> None:
        """A user's think time (or session gap) is over: it sends its next request."""
        user = ev._value
        ev._value = None
        self._timers.free.append(ev)
        self._send(user)

    # ------------------------------------------------------------ outputs

    def metric_values(self, row: dict, now: float, span: float) -> tuple:
        """users_started, users_waiting (simscale.outputs.columns.USERS)."""
        return len(self.users), self.waiting

    def summary(self, summary: dict) -> None:
        summary["users"] = len(self.users)
        summary["user_sessions"] = self.sessions  # sessions whose first request was sent
