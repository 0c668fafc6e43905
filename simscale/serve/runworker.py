"""One load test in a worker process: tui.live.LiveRun, its updates sent to the server.

The server starts this in a fresh (spawned) process. The run holds an exclusive lock on its
lock file while it runs, so a restarted server's retry of the same run waits for a run left
behind by a killed server. A worker whose server is gone stops at once (without outputs
under final names; the restarted server runs it again from the start).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def run_one(run_id: str, spec_data: dict, out_dir: str, lock_path: str, messages, cancel,
            server_pid: int) -> None:
    """Validate (as at submission), run with LiveRun, and report: ("started"), ("update"),
    ("done", state, summary, error) tuples on `messages`, each led by the run id."""
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        messages.put((run_id, "started", None))
        try:
            done = _run(run_id, spec_data, Path(out_dir), messages, cancel, server_pid)
        except Exception as exc:  # validated at submission: only a broken file can get here
            messages.put((run_id, "done", ("failed", None, f"{type(exc).__name__}: {exc}")))
            return
        messages.put((run_id, "done", (done.state, done.summary, done.error)))


def _run(run_id, spec_data, out_dir, messages, cancel, server_pid):
    from simscale.spec import spec_from_dict
    from simscale.tui.live import LiveRun

    spec = spec_from_dict(spec_data, run_id)

    def cancelled() -> bool:
        if os.getppid() != server_pid:
            os._exit(3)  # the server is gone: nobody can read or stop this run
        return cancel.is_set()

    def publish(update) -> None:
        messages.put((run_id, "update", update))

    live = LiveRun(spec, out_dir, publish, speed=None, min_interval_s=0.25, yield_s=0.0,
                   cancelled=cancelled)
    return live.run()
