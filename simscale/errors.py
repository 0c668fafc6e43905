"""Errors that reach the user as clear messages (exit code 2), never as tracebacks."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: a spec, trace, override or target. Each problem is one line naming its source."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class PolicyFailure(Exception):
    """A policy raised inside a run; carries the policy name and the simulated time."""

    def __init__(self, policy: str, now_s: float, error: BaseException) -> None:
        self.policy = policy
        self.now_s = now_s
        self.error = error
        super().__init__(
            f"policy {policy!r} raised at t={now_s:.3f}s: {type(error).__name__}: {error}")
