"""The production side of the seam: a control loop that observes, decides and applies.

Production wires `observe` to its metrics source and `apply` to its orchestrator; tests and
the simulator wire them to fakes. The loop never reads the wall clock itself: `clock` and
`sleep` are injected, so a fake clock drives it deterministically.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

Observation = TypeVar("Observation")
Decision = TypeVar("Decision")


class DecidingPolicy(Protocol[Observation, Decision]):
    """Anything with decide(observation, now_s) -> decision (autoscalers are)."""

    def decide(self, observation: Observation, now_s: float) -> Decision: ...


@dataclass(frozen=True)
class Step:
    """One completed iteration: when it ran, what it decided."""

    now_s: float
    decision: Any


class ControlLoop(Generic[Observation, Decision]):
    """observe → decide → apply every `period_s` seconds of the injected clock.

    A step that raises in observe or apply is reported to `on_error` (default: re-raise) and
    the loop goes on at the next period; an exception in the policy always propagates, since
    a broken policy must stop the loop loudly.
    """

    def __init__(
        self,
        policy: DecidingPolicy[Observation, Decision],
        observe: Callable[[float], Observation],
        apply: Callable[[Decision, float], None],
        period_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_error: Callable[[BaseException, float], None] | None = None,
    ) -> None:
        if period_s <= 0:
            raise ValueError("period_s must be > 0")
        self.policy = policy
        self.observe = observe
        self.apply = apply
        self.period_s = period_s
        self.clock = clock
        self.sleep = sleep
        self.on_error = on_error
        self.history: list[Step] = []

    def step(self) -> Step:
        """Run one observe → decide → apply iteration at the clock's current time."""
        now_s = self.clock()
        try:
            observation = self.observe(now_s)
        except Exception as exc:
            return self._failed(exc, now_s)
        decision = self.policy.decide(observation, now_s)
        try:
            self.apply(decision, now_s)
        except Exception as exc:
            return self._failed(exc, now_s, decision)
        step = Step(now_s, decision)
        self.history.append(step)
        return step

    def run(self, iterations: int | None = None, should_stop: Callable[[], bool] = lambda: False):
        """Step every period until `iterations` are done or `should_stop()` is true.

        The next step is due one period after the previous one was due, so a slow step does
        not make the loop drift; if a step overruns a whole period, the missed ones are skipped.
        """
        done = 0
        next_due = self.clock()
        while (iterations is None or done < iterations) and not should_stop():
            self.step()
            done += 1
            next_due += self.period_s
            now = self.clock()
            if next_due < now:
                missed = int((now - next_due) // self.period_s) + 1
                next_due += missed * self.period_s
            if iterations is None or done < iterations:
                self.sleep(next_due - now)
        return self.history

    def _failed(self, exc: BaseException, now_s: float, decision: Any = None) -> Step:
        if self.on_error is None:
            raise exc
        self.on_error(exc, now_s)
        step = Step(now_s, decision)
        self.history.append(step)
        return step
