"""Replace a run directory as a whole: write the new one beside it, swap it in when complete.

A kill at any moment leaves DIR holding either the old complete run or the new complete
run, never neither and never a mix. The protocol, with all names beside DIR (same parent,
so every rename stays on one filesystem), HOST-PID naming the writing process and N
counting its runs:

1. begin: recover DIR (below), check that DIR is absent or a directory holding only run
   outputs, and create the staging folder `.NAME.partial-HOST-PID-N`. Errors here
   (DIR is a file, lies under a file, cannot be written) come before any work.
2. The run writes its files into the staging folder; summary.json last, so a staging
   folder holding summary.json is complete.
3. commit: when DIR does not exist, rename the staging folder to DIR. Otherwise exchange
   the two atomically (Linux renameat2 RENAME_EXCHANGE): DIR is the new run and the
   staging name holds the old one, which is renamed to `.NAME.trash-HOST-PID-N` and
   deleted. Where the exchange is not supported, DIR is renamed to the trash name and the
   staging folder to DIR: between those two renames DIR is missing, and recovery puts the
   complete staging folder in its place.
4. abort (the run raised): delete the staging folder; DIR is untouched.

recover(DIR), run by begin and by readers of run directories: when DIR is missing and a
staging folder of a process that is gone holds summary.json, it is renamed to DIR (the
newest, if several). begin also deletes staging and trash folders left by processes that
are gone (a folder from another host is left alone: its process cannot be checked here).
Trash folders are never restored: deleting one starts only once DIR holds the new run.
"""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import re
import shutil
import socket
from collections.abc import Collection
from pathlib import Path

from simscale.errors import InputError
from simscale.outputs import ensure_dir

COMPLETE_MARKER = "summary.json"
_counter = itertools.count()
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EPERM}


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def begin(final: Path, owned: Collection[str]) -> Path:
    """Prepare to replace `final`: recover it, clean leftovers, return a fresh staging folder.

    `owned` names the entries a run directory may hold; a `final` holding anything else is
    refused (InputError) rather than replaced. The parents of `final` are created.
    """
    given = Path(final)
    final = _resolved(given)
    if final.exists() and not final.is_dir():
        raise InputError(f"{given}: exists and is not a directory")
    ensure_dir(final.parent, name=given, probe=False)  # making the staging folder probes
    recover(final)
    clean(final)
    if final.is_dir():
        foreign = sorted(p.name for p in final.iterdir() if p.name not in owned)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
            raise InputError(f"{given}: holds files that are not run outputs ({shown}); "
                             "not replacing it (choose a new or empty folder)")
    staging = final.parent / f".{final.name}.partial-{_host()}-{os.getpid()}-{next(_counter)}"
    try:
        staging.mkdir()
    except OSError as exc:
        raise InputError(f"{given}: cannot write in {final.parent} ({exc.strerror})") from None
    return staging


def commit(staging: Path, final: Path) -> None:
    """Put the complete staging folder in place of `final` (see the module's protocol)."""
    final = _resolved(final)
    trash = staging.with_name(staging.name.replace(".partial-", ".trash-", 1))
    for _ in range(3):  # another writer may create or replace final meanwhile
        if not final.exists():
            try:
                os.rename(staging, final)
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                continue
        if _exchange(staging, final):
            os.rename(staging, trash)
        else:
            try:
                os.rename(final, trash)
            except FileNotFoundError:
                continue
            os.rename(staging, final)
        shutil.rmtree(trash, ignore_errors=True)
        return
    raise OSError(errno.EBUSY, f"{final}: replaced by another writer during the swap")


def abort(staging: Path) -> None:
    """Delete a staging folder whose run did not finish writing."""
    shutil.rmtree(staging, ignore_errors=True)


def recover(final: Path) -> bool:
    """When `final` is missing, put back the newest complete staging folder of a process that
    is gone (a kill between the two renames of a swap). True when it restored one."""
    final = Path(final)
    if final.exists() or final.is_symlink() or not final.parent.is_dir():
        return False
    complete = [p for p, kind, gone in _leftovers(final)
                if kind == "partial" and gone and (p / COMPLETE_MARKER).is_file()]
    for candidate in sorted(complete, key=lambda p: (p / COMPLETE_MARKER).stat().st_mtime,
                            reverse=True):
        try:
            os.rename(candidate, final)
            return True
        except OSError:
            continue
    return False


def recover_all(root: Path) -> None:
    """recover() every run directory of root that a killed swap left missing."""
    root = Path(root)
    if not root.is_dir():
        return
    pattern = re.compile(r"^\.(.+)\.partial-")
    for entry in root.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir():
            recover(root / match.group(1))


def clean(final: Path) -> None:
    """Delete staging and trash folders of `final` left by processes that are gone."""
    for path, _, gone in _leftovers(Path(final)):
        if gone:
            shutil.rmtree(path, ignore_errors=True)


def is_staging_name(name: str) -> bool:
    """True for the name of a staging or trash folder."""
    return name.startswith(".") and (".partial-" in name or ".trash-" in name)


def _leftovers(final: Path) -> list[tuple[Path, str, bool]]:
    """(path, "partial" or "trash", its process is gone) for each sibling folder of final."""
    found = []
    prefix = f".{final.name}."
    try:
        entries = list(final.parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        kind, _, rest = entry.name[len(prefix):].partition("-")
        parts = rest.rsplit("-", 2)
        if kind not in ("partial", "trash") or len(parts) != 3 or not parts[1].isdigit():
            continue
        host, pid = parts[0], int(parts[1])
        gone = host == _host() and not _alive(pid)
        found.append((entry, kind, gone))
    return found


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _resolved(final: Path) -> Path:
    """final as an absolute path; a symlink is followed, so its target is replaced."""
    final = Path(final)
    return final.resolve() if final.is_symlink() else final.absolute()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically; False when this system cannot (then nothing moved)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(b))
