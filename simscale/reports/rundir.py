"""Finished runs on disk: find run directories and read them for replay, saying what is wrong.

A run directory holds requests.parquet, metrics.parquet, events.parquet and summary.json.
Loading one never raises for a damaged directory: every missing, partial or unreadable
file becomes a line in `problems`, and whatever could be read is still shown. A run
directory that a killed swap left missing is put back first (simscale.outputs.staging.recover);
the hidden folders a run writes beside its directory are never listed as runs.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from simscale.errors import InputError
from simscale.outputs import staging
from simscale.outputs.rundirs import LATEST, resolve_run_dir

OUTPUTS = ("requests.parquet", "metrics.parquet", "events.parquet", "summary.json")


@dataclass
class RunData:
    """What a run directory holds, as plain data, and what could not be read."""

    path: Path
    name: str
    summary: dict | None = None
    metric_rows: list[dict] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    spec: dict | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.summary and self.summary.get("complete", True)) and not self.problems

    def alerts_spec(self):
        """The spec's [alerts] section (None: not recorded, use the defaults)."""
        from pydantic import ValidationError

        from simscale.sections.alerts import AlertsSpec

        section = (self.spec or {}).get("alerts")
        if section is None:
            return None
        try:
            return AlertsSpec.model_validate(section)
        except ValidationError:
            return None


def is_run_dir(path: Path) -> bool:
    """True when path is a directory with at least one run output (final or partial)."""
    if not path.is_dir():
        return False
    return any((path / n).exists() or (path / f".{n}.partial").exists() for n in OUTPUTS)


def find_runs(root: str | Path) -> list[Path]:
    """Run directories under root, newest first: root itself, its folders, and their folders
    (runs/<name>/<time>-<hash>/); `latest` pointers are not listed twice."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [root] if is_run_dir(root) else []
    for folder in [root, *_children(root)]:
        found += [p for p in _children(folder) if is_run_dir(p)]
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda p: (-_mtime(p), str(p)))


def _children(folder: Path) -> list[Path]:
    """Sub-folders of folder that may hold runs (no staging folders, no `latest` links)."""
    staging.recover_all(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.is_dir() and not p.is_symlink() and p.name != LATEST
            and not staging.is_staging_name(p.name)]


def _mtime(path: Path) -> float:
    try:
        return max((path / n).stat().st_mtime for n in OUTPUTS if (path / n).exists())
    except ValueError:
        return path.stat().st_mtime


def load_run(path: str | Path) -> RunData:
    """Read a run directory. InputError when it is not one at all; otherwise problems list."""
    path = resolve_run_dir(Path(path))
    staging.recover(path)
    if not path.exists():
        raise InputError(f"{path}: no such directory")
    if not is_run_dir(path):
        raise InputError(f"{path}: not a run directory (none of {', '.join(OUTPUTS)})")
    data = RunData(path, path.name)
    _read_summary(data)
    for name in ("metrics.parquet", "events.parquet", "requests.parquet"):
        _read_table(data, name)
    if data.summary is not None and not data.summary.get("complete", True):
        why = data.summary.get("failure") or "incomplete"
        data.problems.append(f"run incomplete: {why}")
    return data


def _read_summary(data: RunData) -> None:
    """summary.json into data (and the run's name from it), or a problem."""
    summary_path = data.path / "summary.json"
    if not summary_path.exists():
        data.problems.append(_missing(data.path, "summary.json"))
        return
    try:
        data.summary = json.loads(summary_path.read_text())
        if not isinstance(data.summary, dict):
            raise ValueError("not a JSON object")
        data.name = str(data.summary.get("name") or data.name)
    except (ValueError, OSError) as exc:
        data.summary = None
        data.problems.append(f"summary.json: unreadable ({exc})")


def _read_table(data: RunData, name: str) -> None:
    """One Parquet output into data: metrics rows, events, the spec from the metadata (the
    requests are not read: the footer shows the file is whole); a problem when unreadable."""
    import pyarrow.parquet as pq

    file = data.path / name
    if not file.exists():
        data.problems.append(_missing(data.path, name))
        return
    try:
        if name == "requests.parquet":
            kv = pq.read_metadata(file).metadata or {}
            table = None
        else:
            table = pq.read_table(file)
            kv = table.schema.metadata or {}
    except Exception as exc:
        data.problems.append(f"{name}: unreadable, truncated or not Parquet "
                             f"({_short_error(exc)})")
        return
    if data.spec is None and b"simscale.spec" in kv:
        try:
            data.spec = json.loads(kv[b"simscale.spec"])
        except ValueError:
            pass
    if name == "metrics.parquet":
        data.metric_rows = [_clean(r) for r in table.to_pylist()]
        if data.metric_rows and "t_s" not in data.metric_rows[0]:
            data.problems.append("metrics.parquet: no t_s column")
            data.metric_rows = []
    elif name == "events.parquet":
        cols = ["t_s", "kind", "subject", "reason"]
        if all(c in table.column_names for c in cols):
            data.events = list(zip(*(table.column(c).to_pylist() for c in cols), strict=True))
        else:
            data.problems.append("events.parquet: missing columns t_s, kind, subject, reason")


def _missing(path: Path, name: str) -> str:
    if (path / f".{name}.partial").exists():
        return f"{name}: missing (only a partial .{name}.partial: the run was killed while writing)"
    return f"{name}: missing"


def _short_error(exc: Exception) -> str:
    """The first sentence of a reader's error, without the file path it repeats."""
    text = re.sub(r"^.*?'[^']*':\s*", "", str(exc).strip().splitlines()[0] if str(exc) else "")
    return (text.split(". ")[0].rstrip(".") or type(exc).__name__)[:120]


def _clean(row: dict) -> dict:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
