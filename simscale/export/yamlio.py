"""YAML in and out (PyYAML's safe dumper and loader; imported only when used).

Writing goes through `yaml.safe_dump`, which quotes every string that would read back as
something else ("true", "080", "1e3", "null", a leading '-' or ':'…), so a value is never
written raw. Reading uses the safe loader (no tags, no object construction), on libyaml when
PyYAML has it, and first walks the event stream to hold the text to MAX_DEPTH levels of
nesting and MAX_NODES values (aliases counted as expanded), so a hostile file can neither
exhaust the stack nor grow exponentially through aliases. PyYAML's pure-Python scanner takes
time quadratic in the nesting of flow collections and its composer recurses once per level,
which is why libyaml is preferred (its own nesting limit is 1000 levels). Python's cyclic
garbage collector is paused while a text is loaded: with it running, building a List of
7,500, 15,000 and 30,000 small items (0.36, 0.72, 1.44 MB) took 1.8, 4.9 and 13.2 s, 2.7
times longer per doubling; paused, 0.8, 1.6 and 3.4 s (linear).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from simscale.errors import InputError

MAX_DEPTH = 64
MAX_NODES = 500_000


def _yaml():
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency
        raise InputError("YAML needs the PyYAML package (pip install pyyaml)") from None
    return yaml


def _loader(yaml, pure_python: bool = False):
    if not pure_python and getattr(yaml, "__with_libyaml__", False):
        return yaml.CSafeLoader
    return yaml.SafeLoader


_DUMPER: list = []


def _dumper(yaml):
    """SafeDumper that writes no anchors or aliases (a shared mapping is written out each
    time) and writes a text of several lines as a literal block (`|`)."""
    if not _DUMPER:
        class Dumper(yaml.SafeDumper):
            def ignore_aliases(self, data: Any) -> bool:
                return True

        def text(dumper, value: str):
            lines = value.split("\n")
            literal = len(lines) > 1 and all(line.isprintable() and line == line.rstrip()
                                             for line in lines)
            return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                           style="|" if literal else None)

        Dumper.add_representer(str, text)
        _DUMPER.append(Dumper)
    return _DUMPER[0]


def dump_yaml(data: Any) -> str:
    """Block-style YAML, keys in the order given."""
    yaml = _yaml()
    return yaml.dump(data, Dumper=_dumper(yaml), sort_keys=False, default_flow_style=False,
                     allow_unicode=False, width=100)


def _flow_depth(text: str) -> int:
    """An upper bound of the nesting of flow collections (every '[' and '{' counts, quoted or
    not): the pure-Python scanner is quadratic in it, so it is bounded before that runs."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}" and depth:
            depth -= 1
    return deepest


def _check_shape(yaml, loader, text: str, source: str) -> None:
    """InputError naming the line where the text nests deeper than MAX_DEPTH or holds more
    than MAX_NODES values (an alias counts as the values it stands for)."""
    collections = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    open_nodes: list[tuple[str | None, int]] = []
    sizes: dict[str, int] = {}
    total = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, collections):
            total += 1
            open_nodes.append((event.anchor, total))
            if len(open_nodes) > MAX_DEPTH:
                raise InputError(f"{source}:{event.start_mark.line + 1}: nested deeper than "
                                 f"{MAX_DEPTH} levels")
        elif isinstance(event, ends):
            anchor, start = open_nodes.pop()
            if anchor is not None:
                sizes[anchor] = total - start + 1
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            total += sizes.get(event.anchor, 1)
        if total > MAX_NODES:
            raise InputError(f"{source}:{event.start_mark.line + 1}: more than {MAX_NODES:,} "
                             "values (aliases counted as the values they repeat)")


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The cyclic collector off while building a document (its values hold no cycles, and
    reference counting still frees what is dropped)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_yaml_documents(text: str, source: str, pure_python: bool = False) -> list[Any]:
    """Every document of a YAML (or JSON) text; InputError naming `source` and the line for
    bad syntax, too deep a nesting, too many values, or a value that cannot be built (an
    integer of thousands of digits, a date like 2024-13-45)."""
    yaml = _yaml()
    loader = _loader(yaml, pure_python)
    if loader is yaml.SafeLoader and _flow_depth(text) > MAX_DEPTH:
        raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels")
    try:
        _check_shape(yaml, loader, text, source)
        with _cyclic_gc_paused():
            return [doc for doc in yaml.load_all(text, Loader=loader) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}: YAML syntax error: {problem}") from None
    except (ValueError, OverflowError) as exc:
        raise InputError(f"{source}: a value cannot be read: {str(exc)[:200]}") from None
    except RecursionError:
        raise InputError(f"{source}: nested too deeply to read") from None
