"""YAML in and out (PyYAML's safe dumper and loader; imported only when used).

Writing goes through `yaml.safe_dump`, which quotes every string that would read back as
something else ("true", "080", "1e3", "null", a leading '-' or ':'…), so a value is never
written raw. Reading uses `yaml.safe_load_all`: no tags, no object construction.
"""

from __future__ import annotations

from typing import Any

from simscale.errors import InputError


def _yaml():
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency
        raise InputError("YAML needs the PyYAML package (pip install pyyaml)") from None
    return yaml


def dump_yaml(data: Any) -> str:
    """Block-style YAML, keys in the order given."""
    return _yaml().safe_dump(data, sort_keys=False, default_flow_style=False,
                             allow_unicode=False, width=100)


def load_yaml_documents(text: str, source: str) -> list[Any]:
    """Every document of a YAML (or JSON) text; InputError naming `source` and the line."""
    yaml = _yaml()
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{where}: YAML syntax error: {problem}") from None
