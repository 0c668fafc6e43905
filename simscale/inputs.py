"""Input at the edge: TOML files and `--set` values read within their limits, and every problem
as one line 'source: field.path: message' (an InputError: exit code 2, never a traceback).

Every reader of a TOML file (experiment specs, sweeps, claims, dashboards, fleets, posted
specs) goes through read_toml or toml_error_position, a production file read back by
`simscale import` through read_limited, and every pydantic ValidationError becomes lines
through problem_lines, so a problem reads the same whichever file it is in.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simscale.errors import InputError
from simscale.limits import MAX_SPEC_BYTES, MAX_SPEC_DEPTH

# ---------------------------------------------------------------- TOML files


def read_toml(path: str | Path) -> dict:
    """Parse a TOML file of at most MAX_SPEC_BYTES nested at most MAX_SPEC_DEPTH levels;
    InputError names the file (and the line and column of a syntax error)."""
    raw = read_limited(path, MAX_SPEC_BYTES, f"larger than {MAX_SPEC_BYTES:,} bytes (a spec "
                                             "is settings; data goes in trace files)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 text (TOML is UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}:{toml_error_position(str(exc), text)}") from None
    except RecursionError:
        data = None
    if data is None or too_deep(data):
        raise InputError(f"{path}: tables or lists nested deeper than {MAX_SPEC_DEPTH} levels")
    return data


def read_limited(path: str | Path, limit_bytes: int, too_large: str) -> bytes:
    """The bytes of a file the user names; InputError '<path>: <too_large>' when it holds
    more than limit_bytes (checked while reading: a huge file is never read whole), or naming
    why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > limit_bytes:
        raise InputError(f"{path}: {too_large}")
    return raw


def toml_error_position(message: str, text: str) -> str:
    """'line:column: TOML syntax error: what' from tomllib's '<what> (at line L, column C)'
    (`text` is the document, for an error at its end)."""
    match = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", message)
    if match:
        what, line, column = match.groups()
    else:  # "(at end of document)"
        what = message.replace(" (at end of document)", "")
        lines = text.splitlines() or [""]
        line, column = str(len(lines)), str(len(lines[-1]) + 1)
        what += " (at end of file)"
    return f"{line}:{column}: TOML syntax error: {what}"


def too_deep(data: Any, limit: int = MAX_SPEC_DEPTH) -> bool:
    """Whether tables and lists nest more than `limit` levels in `data` (walked without
    recursion, so any depth is safe to ask about)."""
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list | tuple):
            if depth >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


# ---------------------------------------------------------------- --set overrides


def parse_override(text: str) -> tuple[list[str], Any]:
    """'a.b.c=value' → (['a','b','c'], value); the value is read as TOML, else as a string."""
    if "=" not in text:
        raise InputError(f"--set {text}: expected PATH=VALUE")
    if len(text) > MAX_SPEC_BYTES:
        raise InputError(f"--set {text[:40]}…: longer than {MAX_SPEC_BYTES:,} characters")
    path, raw = text.split("=", 1)
    keys = path.strip().split(".")
    if not all(keys):
        raise InputError(f"--set {text}: empty field name in {path!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    except RecursionError:
        value = None  # deeper than the parser goes: refused just below
    if value is None or len(keys) > MAX_SPEC_DEPTH or too_deep(value,
                                                               MAX_SPEC_DEPTH - len(keys)):
        raise InputError(f"--set {path}: nested deeper than {MAX_SPEC_DEPTH} levels")
    return keys, value


def set_path(data: dict, keys: list[str], value: Any) -> str | None:
    """Set data[k1][k2]…[kn] = value in place, creating tables on the way; returns the path
    of the first part that exists but is not a table (nothing set), else None."""
    node = data
    for i, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            return ".".join(keys[: i + 1])
        node = child
    node[keys[-1]] = value
    return None


def apply_overrides(data: dict, overrides: Sequence[str]) -> tuple[dict, list[list[str]]]:
    """A copy of `data` with every override applied, and the override paths."""
    data = copy.deepcopy(data)
    paths = []
    for text in overrides:
        keys, value = parse_override(text)
        blocked = set_path(data, keys, value)
        if blocked is not None:
            raise InputError(f"--set {text}: {blocked} is not a table")
        paths.append(keys)
    return data, paths


# ---------------------------------------------------------------- problems


def error_message(error: dict) -> str:
    """A pydantic error's message as simscale prints it."""
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    return error["msg"].removeprefix("Value error, ")


def problem_lines(exc: ValidationError, source: str, override_paths: Sequence[list[str]] = (),
                  data: Any = None, union_tags: Collection[str] = ()) -> list[str]:
    """One line per pydantic error: 'source: field.path: message'.

    A problem inside an override names it ('--set path: ...'). A check between fields whose
    message starts with a field path ('x.y: must be ...') is reported at that path, and a
    policy reference's sub-path ('params.x: ...') is appended to the field's. `data` (the
    validated input) and `union_tags` (the `kind` values of tagged unions in the model) let
    a union's tag be told from a field of the same name."""
    lines = []
    for error in exc.errors():
        loc = _strip_union_tags([str(p) for p in error["loc"]], data, union_tags)
        msg = error_message(error)
        if error["type"] == "value_error":  # a check between fields names the one it is about
            head, sep, rest = msg.partition(": ")
            if sep and re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*", head) and head not in (
                    "policy", "params") and not head.startswith("params."):
                loc, msg = [*loc, *head.split(".")], rest
        where = source
        for path in override_paths:
            if loc[: len(path)] == path or path[: len(loc)] == loc:
                where = f"--set {'.'.join(path)}"
        field = ".".join(loc)
        if msg.startswith(("policy:", "params:", "params.")):  # a PolicyRef names its sub-path
            sub, _, msg = msg.partition(": ")
            field = f"{field}.{sub}" if field else sub
        if not field or where == f"--set {field}":
            lines.append(f"{where}: {msg}")
        else:
            lines.append(f"{where}: {field}: {msg}")
    return lines


def _strip_union_tags(loc: list[str], data: Any, tags: Collection[str]) -> list[str]:
    """Drop pydantic's union markers from an error location: the discriminator tag it inserts
    after a tagged-union field (workload.arrivals.poisson.rate_rps) and validator wrappers.

    Walking `data` along the location keeps a key that is really there (cache.keys.users),
    and drops at most one tag per table."""
    out: list[str] = []
    node, tag_dropped = data, False
    for part in loc:
        if part.startswith(("function-", "tagged-union")):
            continue
        if part in tags and not tag_dropped and _is_tag_of(node, part):
            tag_dropped = True
            continue
        if isinstance(node, dict) and part in node:
            node, tag_dropped = node[part], False
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node, tag_dropped = node[int(part)], False
        else:
            node, tag_dropped = None, True
        out.append(part)
    return out


def _is_tag_of(node: Any, tag: str) -> bool:
    """Whether `tag` is the union tag of the table `node` (its kind, or the default of a
    table without one); without the data, any tag name counts as one."""
    if not isinstance(node, dict):
        return node is None
    kind = node.get("kind")
    return kind == tag if kind is not None else tag not in node
