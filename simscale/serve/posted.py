"""A posted experiment, validated exactly as `simscale run` validates a spec file.

The body's spec (TOML text or a JSON object) goes through simscale.spec's own steps
(prepare_spec_data, then spec_from_dict) with the body's overrides and seed; files a spec
names (traces, empirical distributions, recorded fleets) resolve against the server's spec
folder and must stay inside it. Problems become 422 entries that carry the field path.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from simscale.errors import InputError
from simscale.serve.models import LoadTestRequest

SOURCE = "spec"
FILE_KINDS = ("empirical", "trace", "recorded")


def posted_spec(body: LoadTestRequest, spec_root: Path):
    """(Spec, the validated data) of a posted experiment; InputError with one line per
    problem, each 'source: field.path: message' as `simscale run` prints them."""
    from simscale.inputs import toml_error_position
    from simscale.spec import prepare_spec_data, spec_from_dict

    if isinstance(body.spec, str):
        try:
            data = tomllib.loads(body.spec)
        except tomllib.TOMLDecodeError as exc:
            where = toml_error_position(str(exc), body.spec)
            raise InputError(f"{SOURCE}:{where}") from None
    else:
        data = dict(body.spec)
    data, override_paths = prepare_spec_data(spec_root / "load-test.toml", body.set, body.seed,
                                             lenient=body.lenient, data=data)
    outside = list(_files_outside(data, spec_root.resolve(), []))
    if outside:
        raise InputError([f"{SOURCE}: {field}.path: a file must be inside the server's spec "
                          f"folder (a relative path without '..')" for field in outside])
    return spec_from_dict(data, SOURCE, override_paths), data


def _files_outside(data: Any, root: Path, where: list[str]):
    """Field paths of file references (kind empirical, trace, recorded) outside `root`."""
    if isinstance(data, dict):
        path = data.get("path")
        if data.get("kind") in FILE_KINDS and isinstance(path, str):
            if not Path(path).resolve().is_relative_to(root):
                yield ".".join(where)
        for key, value in data.items():
            yield from _files_outside(value, root, [*where, str(key)])
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _files_outside(value, root, [*where, str(i)])


def problem_detail(line: str) -> dict:
    """One InputError line as a 422 entry: loc (FastAPI's shape), field path, message."""
    source, _, rest = line.partition(": ")
    field, message = "", rest
    head, sep, tail = rest.partition(": ")
    if sep and head and " " not in head:
        field, message = head, tail
    if source.startswith("--set "):
        field = field or source.removeprefix("--set ")
        loc = ["body", "set", field]
    elif source.startswith("body"):
        loc = ["body", *field.split(".")] if field else ["body"]
    else:
        loc = ["body", "spec", *field.split(".")] if field else ["body", "spec"]
    return {"loc": loc, "field": field, "source": source, "msg": message, "type": "spec"}
