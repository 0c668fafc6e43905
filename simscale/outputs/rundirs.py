"""Where runs go: a new directory per run under runs/<name>/, and `latest` pointing at the newest.

Every run started without an explicit output folder gets its own directory,
`RUNS/<name>/<yyyymmdd-hhmmss>-<hash>/`: the local time it started and the first 8 hex
digits of its resolved spec's sha256 (summary.json's `spec_sha256`), so runs with the same
settings share the suffix and a rerun never replaces an earlier run. Two runs started in
the same second with the same spec get `-2`, `-3`, … appended.

`RUNS/<name>/latest` points at the newest finished run of that experiment: a relative
symbolic link, replaced atomically (or, where links cannot be made, a small text file
holding the directory's name). Readers go through resolve_run_dir, which follows either.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

LATEST = "latest"
HASH_DIGITS = 8


def stamp(now_s: float | None = None) -> str:
    """The local time as yyyymmdd-hhmmss."""
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(now_s))


def new_run_dir(runs_root: str | Path, name: str, spec_sha256: str,
                now_s: float | None = None) -> Path:
    """A fresh directory path RUNS/<name>/<stamp>-<hash>/ that does not exist yet."""
    folder = Path(runs_root) / name
    base = f"{stamp(now_s)}-{spec_sha256[:HASH_DIGITS]}"
    candidate = folder / base
    n = 2
    while candidate.exists() or candidate.is_symlink():
        candidate = folder / f"{base}-{n}"
        n += 1
    return candidate


def run_dir_for(spec, runs_root: str | Path = "runs", now_s: float | None = None) -> Path:
    """The new run directory of a validated spec (simscale.spec.Spec) under runs_root."""
    return new_run_dir(runs_root, spec.name, spec.sha256(), now_s)


def mark_latest(run_dir: str | Path) -> Path | None:
    """Point `latest` beside run_dir at it; returns the pointer's path (None: run_dir is
    missing). Never raises for a pointer that cannot be written: the run itself is kept."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    pointer = run_dir.parent / LATEST
    tmp = run_dir.parent / f".{LATEST}.partial-{os.getpid()}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        try:
            os.symlink(run_dir.name, tmp, target_is_directory=True)
        except (OSError, NotImplementedError):
            tmp.write_text(run_dir.name + "\n")
        if pointer.is_dir() and not pointer.is_symlink():
            return None  # a real folder named `latest` (a run written there): leave it alone
        os.replace(tmp, pointer)
    except OSError:
        tmp.unlink(missing_ok=True)
        return None
    return pointer


def resolve_run_dir(path: str | Path) -> Path:
    """path itself, or the run `latest` points at: follows a link, or a pointer file naming a
    directory beside it. An experiment folder RUNS/<name>/ with a `latest` resolves to it."""
    path = Path(path)
    if path.name == LATEST and path.is_symlink():
        return path.parent / os.readlink(path)
    if path.is_file() and path.name == LATEST:
        return path.parent / path.read_text().strip()
    if path.is_dir() and not _is_run_dir(path) and (path / LATEST).exists():
        return resolve_run_dir(path / LATEST)
    return path


def _is_run_dir(path: Path) -> bool:
    return any((path / n).exists() for n in ("summary.json", "metrics.parquet",
                                              "requests.parquet", "events.parquet"))


def is_empty_dir(path: Path) -> bool:
    """True when path does not exist or is a directory with nothing in it."""
    path = Path(path)
    if not path.exists():
        return True
    return path.is_dir() and not any(path.iterdir())


def check_out_dir(out: str | Path, force: bool) -> Path:
    """An explicit output folder: refused (InputError) when it holds anything, unless force
    (then the run replaces it whole, as simscale.outputs.staging does)."""
    from simscale.errors import InputError

    out = Path(out)
    if out.is_dir() and not is_empty_dir(out) and not force:
        raise InputError(f"--out {out}: not empty; add --force to replace the run in it, "
                         "or leave out --out for a new run directory")
    return out
