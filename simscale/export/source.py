"""Where an export starts: a spec file, or a run directory whose Parquet metadata holds the
resolved spec (`simscale.spec`, written by simscale.model.runner)."""

from __future__ import annotations

import json
from pathlib import Path

from simscale.errors import InputError

RUN_FILES = ("requests.parquet", "metrics.parquet", "events.parquet")
SPEC_KEY = b"simscale.spec"


def spec_json_from_run(run_dir: Path) -> tuple[dict, Path]:
    """(the resolved spec as a dict, the file it came from) of a run directory."""
    import pyarrow.parquet as pq

    for name in RUN_FILES:
        path = run_dir / name
        if not path.is_file():
            continue
        try:
            metadata = pq.read_schema(path).metadata or {}
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read Parquet metadata ({exc})") from None
        if SPEC_KEY in metadata:
            try:
                return json.loads(metadata[SPEC_KEY]), path
            except ValueError:
                raise InputError(f"{path}: metadata simscale.spec is not JSON") from None
    raise InputError(f"{run_dir}: not a run directory (no {', '.join(RUN_FILES)} with "
                     "simscale.spec metadata)")


def load_source(path: Path, overrides: list[str] | None = None):
    """The Spec of a spec file or of a run directory, with `--set` overrides applied."""
    from simscale.inputs import apply_overrides
    from simscale.spec import load_spec, spec_from_dict

    path = Path(path)
    if path.is_dir():
        data, origin = spec_json_from_run(path)
        data, paths = apply_overrides(data, overrides or [])
        return spec_from_dict(data, str(origin), paths)
    return load_spec(path, overrides or [])
