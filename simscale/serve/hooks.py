"""Applying a fleet's decision: shadow (record only) or a command given at start-up.

A command is split into arguments once, at start-up (shlex), and run without a shell; the
placeholders {fleet}, {replicas} and {current} are replaced inside each argument by values
the server computed (never by request data). It runs only when the desired count differs
from the current one, with a timeout.
"""

from __future__ import annotations

import shlex
import subprocess

PLACEHOLDERS = ("{fleet}", "{replicas}", "{current}")
COMMAND_TIMEOUT_S = 60.0


class ApplyHook:
    """apply(fleet, desired, current) -> what was done (a short text for the decision log)."""

    mode = "abstract"

    def apply(self, fleet: str, desired: int, current: int) -> str:
        raise NotImplementedError


class Shadow(ApplyHook):
    """Record the decision; change nothing."""

    mode = "shadow"

    def apply(self, fleet: str, desired: int, current: int) -> str:
        return "shadow"


class Command(ApplyHook):
    """Run a fixed command line, e.g. `kubectl scale deployment/{fleet} --replicas={replicas}`."""

    mode = "command"

    def __init__(self, line: str, timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        self.argv = shlex.split(line)
        if not self.argv:
            raise ValueError("the apply command is empty")
        if "{replicas}" not in line:
            raise ValueError("the apply command must contain {replicas}")
        self.timeout_s = timeout_s

    def argv_for(self, fleet: str, desired: int, current: int) -> list[str]:
        values = dict(zip(PLACEHOLDERS, (fleet, str(desired), str(current))))
        out = []
        for arg in self.argv:
            for key, value in values.items():
                arg = arg.replace(key, value)
            out.append(arg)
        return out

    def apply(self, fleet: str, desired: int, current: int) -> str:
        if desired == current:
            return "unchanged"
        argv = self.argv_for(fleet, desired, current)
        try:
            done = subprocess.run(argv, capture_output=True, timeout=self.timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"failed: {type(exc).__name__}: {exc}"[:500]
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
            return f"failed: exit {done.returncode}: {tail[0]}"[:500]
        return "applied"
