"""One sweep per folder at a time: a lock file naming its holder, freed when the holder dies.

`DIR/sweep.lock` holds the pid, host and start time of the process writing DIR, and that
process holds an exclusive flock on it. The system frees a flock when its process ends,
however it ends (a SIGKILL included), so a lock file whose holder is gone is stale by
construction: the next sweep takes it over and writes its own pid. The file is removed
when the sweep ends. Where the filesystem has no flock (some network filesystems), the
recorded pid decides: a lock from this host whose process is gone is stale.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from pathlib import Path

from simscale.errors import InputError

LOCK_NAME = "sweep.lock"


class SweepLock:
    """The held lock of a sweep folder; release() (or leaving a `with` block) frees it."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_NAME
        self._fd = _acquire(self.path)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SweepLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _acquire(path: Path) -> int:
    """Open, lock and fill the lock file; InputError naming the holder when it is held."""
    for _ in range(10):  # the holder may remove the file between our open and our lock
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            locked = _flock(fd, path)
            if not locked:
                raise InputError(_held_message(path, _read(fd)))
            if not _same_file(fd, path):
                os.close(fd)
                continue
            holder = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            os.ftruncate(fd, 0)
            os.pwrite(fd, holder.encode() + b"\n", 0)
            return fd
        except BaseException:
            try:
                os.close(fd)
            except OSError:
                pass
            raise
    raise InputError(f"{path.parent}: cannot take the sweep lock {path} (it keeps changing)")


def _flock(fd: int, path: Path) -> bool:
    """Take the exclusive lock without waiting: True when taken, False when held elsewhere."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
            raise
    holder = _read(fd)  # no flock on this filesystem: judge by the recorded pid
    if not holder:
        return True
    if holder.get("host") != socket.gethostname():
        return False  # a process on another host cannot be checked from here
    return not _alive(holder.get("pid"))


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _read(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _alive(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _held_message(path: Path, holder: dict) -> str:
    who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
    since = f" since {holder['started']}" if holder.get("started") else ""
    return (f"{path.parent}: another simscale process is writing this sweep folder "
            f"({who}{since}; lock {path}); wait for it to finish or stop it")
