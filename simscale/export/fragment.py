"""A spec fragment read back from production configuration: checked against the spec's own
models (so every bound the spec enforces applies to imported values), and written as TOML."""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any

from simscale.errors import InputError


def check_fragment(fragment: dict, source: str) -> None:
    """Validate each section against the spec model; InputError lines name `source` and the
    field. [instances] holds only a count (slots come from the spec it is merged into), so
    each of its fields is checked alone against the field's own type and bounds."""
    from pydantic import TypeAdapter, ValidationError

    from simscale.spec import Spec

    for section, data in fragment.items():
        model: Any = Spec.model_fields[section].annotation
        if section == "instances":
            parts = [((section, name), _field_adapter(model, name), value)
                     for name, value in data.items()]
        else:
            parts = [((section,), TypeAdapter(model), data)]
        for prefix, adapter, value in parts:
            try:
                adapter.validate_python(value)
            except ValidationError as exc:
                raise InputError(_lines(exc, source, prefix)) from None


def _field_adapter(model: Any, name: str):
    """A validator for one field of a model: its type with its bounds."""
    from pydantic import TypeAdapter

    field = model.model_fields[name]
    return TypeAdapter(Annotated[field.annotation, *field.metadata])


def _lines(exc, source: str, prefix: tuple) -> list[str]:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in (*prefix, *error["loc"]))
        lines.append(f"{source}: {loc}: {error['msg'].removeprefix('Value error, ')}")
    return lines


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def fragment_toml(fragment: dict, header: str = "") -> str:
    """A fragment as TOML: [section] and [section.sub] tables, deeper values inline."""
    lines = [f"# {line}" for line in header.splitlines()] if header else []

    def table(path: list[str], data: dict, depth: int) -> None:
        scalars = {k: v for k, v in data.items() if not (isinstance(v, dict) and depth < 2)}
        if scalars or len(scalars) == len(data):  # a table of sub-tables needs no header
            if lines:
                lines.append("")
            lines.append(f"[{'.'.join(_key(p) for p in path)}]")
            lines.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items())
        for k, v in data.items():
            if isinstance(v, dict) and depth < 2:
                table([*path, k], v, depth + 1)

    for section, data in fragment.items():
        table([section], data, 1)
    return "\n".join(lines) + "\n"
