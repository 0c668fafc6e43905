"""Experiments the TUI offers, and its form: main parameters as `--set`-style overrides.

Nothing here imports Textual. A spec is always loaded with `simscale.spec.load_spec`, so the
form validates exactly as `simscale run --set ...` does, and its problems are the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simscale.errors import InputError


@dataclass(frozen=True)
class Experiment:
    """A spec file, validated (spec set) or not (problems set)."""

    path: Path
    name: str
    description: str = ""
    spec: Any = None
    problems: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.spec is not None


def load_experiment(path: str | Path, overrides: list[str] | None = None) -> Experiment:
    """Load and validate a spec with overrides; never raises for bad input."""
    from simscale.spec import load_spec

    path = Path(path)
    try:
        spec = load_spec(path, overrides or [])
    except InputError as exc:
        return Experiment(path, path.stem, problems=tuple(exc.problems))
    except Exception as exc:  # a broken spec must never take the interface down
        return Experiment(path, path.stem, problems=(f"{path}: {type(exc).__name__}: {exc}",))
    return Experiment(path, spec.name, spec.description, spec)


def find_experiments(root: str | Path) -> tuple[list[Experiment], list[Path]]:
    """Every *.toml under root (recursively) that validates as a spec, and the ones that do not.

    Specs at the top of root come first, then each folder's, by name.
    """
    root = Path(root)
    if not root.is_dir():
        return [], []
    valid, other = [], []
    for path in sorted(root.rglob("*.toml"), key=lambda p: (len(p.relative_to(root).parts), p)):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        exp = load_experiment(path)
        (valid if exp.valid else other).append(exp if exp.valid else path)
    return valid, other


# ---------------------------------------------------------------- the form


@dataclass(frozen=True)
class FormField:
    """One editable parameter: its spec path, label and kind (choice, int or float)."""

    key: str
    label: str
    kind: str
    family: str | None = None   # registry family of a policy choice
    optional: bool = False      # shown only when the spec has it

    @property
    def widget_id(self) -> str:
        return "f-" + self.key.replace(".", "--").replace("_", "-")


FORM_FIELDS: tuple[FormField, ...] = (
    FormField("balancer.policy", "Balancer", "choice", family="balancer"),
    FormField("autoscaler.policy", "Autoscaler", "choice", family="autoscaler", optional=True),
    FormField("cache.policy", "Cache", "choice", family="cache", optional=True),
    FormField("limiter.policy", "Limiter", "choice", family="limiter", optional=True),
    FormField("instances.count", "Instances", "int"),
    FormField("instances.slots", "Slots", "int"),
    FormField("workload.arrivals.rate_rps", "Arrival rate (rps)", "float", optional=True),
    FormField("duration_s", "Duration (s)", "float"),
    FormField("seed", "Seed", "int"),
)

_MISSING = object()


def lookup(data: Any, key: str) -> Any:
    """data['a']['b'] for key 'a.b' (also through objects); _MISSING when absent."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict):
            if part not in node:
                return _MISSING
            node = node[part]
        elif hasattr(node, part):
            node = getattr(node, part)
        else:
            return _MISSING
    return node


def spec_data(path: str | Path, spec: Any = None) -> dict:
    """The values the form starts from: the validated spec (defaults resolved) or the raw file."""
    if spec is not None:
        return spec.model_dump(mode="json")
    from simscale.inputs import read_toml

    try:
        return read_toml(Path(path))
    except InputError:
        return {}


def form_fields(data: dict) -> list[tuple[FormField, str]]:
    """The fields to show for a spec and their starting text ('' when unset)."""
    out = []
    for f in FORM_FIELDS:
        value = lookup(data, f.key)
        if value is _MISSING or isinstance(value, dict | list):
            if f.optional:
                continue
            value = ""
        out.append((f, "" if value is None else _text(value)))
    return out


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def choices(f: FormField) -> list[str]:
    """Registered policy names for a choice field."""
    from policies import registry

    return registry.names(f.family) if f.family else []


def overrides_for(initial: dict[str, str], edited: dict[str, str]) -> list[str]:
    """`--set` overrides for the fields whose text changed.

    A changed policy also resets its parameters (the old policy's params rarely fit the new
    one); an emptied field is left to the file.
    """
    by_key = {f.key: f for f in FORM_FIELDS}
    out = []
    for key, text in edited.items():
        text = text.strip()
        if text == initial.get(key, "").strip() or not text:
            continue
        f = by_key.get(key)
        if f is not None and f.kind == "choice":
            quoted = text.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'{key}="{quoted}"')
            out.append(f"{key.rsplit('.', 1)[0]}.params={{}}")
        else:
            out.append(f"{key}={text}")
    return out


def problem_fields(problems: list[str] | tuple[str, ...]) -> set[str]:
    """Form keys named by problem lines ('file: instances.count: ...')."""
    keys = set()
    for line in problems:
        for f in FORM_FIELDS:
            family = f.key.rsplit(".", 1)[0]
            if f": {f.key}:" in line or (f.kind == "choice" and f": {family}:" in line) \
                    or f"--set {f.key}:" in line:
                keys.add(f.key)
    return keys
