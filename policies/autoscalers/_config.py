"""Build a frozen config dataclass from a plain mapping (used for a wrapper's inner policy).

simscale validates top-level configs with pydantic at the edge; a wrapper's inner config
arrives as a plain table, and policies/ may not use pydantic, so this small converter turns
it into the inner policy's config type: nested dataclasses from tables, tuples from lists,
ints accepted where floats are expected. Unknown fields and wrong types raise ValueError
naming the field path.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any


def config_from_mapping(config_type: type, data: Any, path: str = "") -> Any:
    """An instance of the dataclass `config_type` built from `data` (a mapping or an instance).

    Raises ValueError with the field path for unknown fields, wrong types and values the
    config's own validation rejects.
    """
    where = path or config_type.__name__
    if isinstance(data, config_type):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a table of {config_type.__name__} fields")
    hints = typing.get_type_hints(config_type)
    fields = {f.name for f in dataclasses.fields(config_type)}
    for key in data:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ValueError(f"{where}.{key}: unknown field (known: {known})")
    kwargs = {key: _convert(hints[key], value, f"{where}.{key}") for key, value in data.items()}
    try:
        return config_type(**kwargs)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _convert(tp: Any, value: Any, path: str) -> Any:
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None:
            if type(None) in options:
                return None
            raise ValueError(f"{path}: a value is required")
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, path)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if len(errors) == 1 else f"{path}: {'; '.join(errors)}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return config_from_mapping(tp, value, path)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ValueError(f"{path}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"{path}: expected {len(args)} items")
        pairs = enumerate(zip(args, value, strict=True))
        return tuple(_convert(a, v, f"{path}[{i}]") for i, (a, v) in pairs)
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{path}: expected a table")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{path}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{path}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{path}: expected a string, got {value!r}")
        return value
    return value
