"""A clock for fleet tests: it moves only when the test says, and sleep() waits for that."""

from __future__ import annotations

import threading
import time


class SteppedClock:
    """Thread-safe fake clock. sleep(s) blocks until the test has moved the clock s seconds on
    (or closed the clock); decisions then happen at exactly the times the test chose."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = start_s
        self.closed = False
        self.sleeping = 0
        self._cond = threading.Condition()

    def __call__(self) -> float:
        with self._cond:
            return self.now_s

    def sleep(self, seconds: float) -> None:
        with self._cond:
            target = self.now_s + seconds
            self.sleeping += 1
            self._cond.notify_all()
            while self.now_s < target - 1e-9 and not self.closed:
                self._cond.wait(1.0)
            self.sleeping -= 1
        if self.closed:
            time.sleep(0.01)  # a closed clock releases sleepers without letting them spin

    def wait_for_sleeper(self, timeout_s: float = 10.0) -> None:
        """Return once a thread sleeps on this clock: moving the clock before the loop has
        gone to sleep would make it sleep from the new time. AssertionError after timeout_s."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self.sleeping == 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no thread went to sleep on the clock")
                self._cond.wait(left)

    def set(self, t_s: float) -> None:
        with self._cond:
            self.now_s = t_s
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


def wait_until(condition, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll `condition()` until true; AssertionError after timeout_s (tests never hang)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.005)
