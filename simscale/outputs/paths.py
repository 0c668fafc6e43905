"""Output paths: check them before any work, and replace a file only once it is complete.

Every check raises InputError naming the path and what is wrong (the command exits 2), so a
command never simulates for minutes and then fails to write. A file is written under a
temporary name beside it (`.NAME.partial-<pid>`) and renamed over the old one, so a kill
leaves the old file or the new one, never a truncated one. JSON is strict: a number that is
not finite (NaN, an overflow to infinity) is written as null, never as `NaN` or `Infinity`.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from simscale.errors import InputError


def check_file_target(path: Path, label: str = "") -> Path:
    """Check that a file can be written at `path` (its folder exists and takes new files).

    `label` (e.g. "--csv ") starts each message. Returns path; raises InputError.
    """
    path = Path(path)
    where = f"{label}{path}"
    if path.is_dir():
        raise InputError(f"{where}: is a directory, expected a file name")
    parent = path.parent
    if not parent.exists():
        blocker = _non_directory_ancestor(parent)
        if blocker is not None:
            raise InputError(f"{where}: {blocker} is a file, not a directory")
        raise InputError(f"{where}: no such directory {parent}")
    if not parent.is_dir():
        raise InputError(f"{where}: {parent} is a file, not a directory")
    _probe(parent, where)
    return path


def ensure_dir(path: Path, label: str = "", name: Path | None = None,
               probe: bool = True) -> Path:
    """Make the folder `path` (and its parents) if missing and check that it takes new files
    (by creating and removing one; probe=False: the caller's next write is the check).

    Raises InputError when path is a file, lies under a file, or cannot be created or
    written (a read-only place, /proc, no permission). Messages start with `label` and
    `name` (default: path), e.g. the run directory whose parent path is.
    """
    path = Path(path)
    where = f"{label}{path if name is None else name}"
    if path.exists() and not path.is_dir():
        what = ("exists and is not a directory" if name is None
                else f"{path} is a file, not a directory")
        raise InputError(f"{where}: {what}")
    blocker = _non_directory_ancestor(path)
    if blocker is not None:
        raise InputError(f"{where}: {blocker} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{where}: cannot create it ({exc.strerror})") from None
    if probe:
        _probe(path, where)
    return path


def _non_directory_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of path when it is not a directory (else None)."""
    for parent in path.absolute().parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _probe(folder: Path, where: str) -> None:
    """Create and remove a temporary file in folder; InputError when that fails."""
    try:
        fd, name = tempfile.mkstemp(prefix=".simscale-probe-", dir=folder)
    except OSError as exc:
        raise InputError(f"{where}: cannot write in {folder} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(name)


def finite(data: Any) -> Any:
    """A copy of data (dicts, lists, tuples of JSON values) with non-finite floats as None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def non_finite_keys(data: dict) -> list[str]:
    """Top-level keys of data whose value is a float that is not finite."""
    return [k for k, v in data.items() if isinstance(v, float) and not math.isfinite(v)]


def json_text(data: Any) -> str:
    """Strict JSON (indented, newline-terminated); non-finite floats become null."""
    return json.dumps(finite(data), indent=2, allow_nan=False, default=str) + "\n"


def write_text(path: Path, text: str) -> None:
    """Write text to path atomically: a temporary file beside it, then a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write data to path as strict JSON, atomically."""
    write_text(path, json_text(data))
