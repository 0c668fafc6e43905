"""The base of every spec section, and policies' configs validated one way: by the config's
own TypeAdapter, from a registered policy's params (PolicyRef) or from a table that is one
policy's config (policy_table)."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import typing
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from simscale.limits import MAX_NAME_CHARS, MAX_POLICY_NUMBER


def _none_word(value: Any) -> Any:
    """TOML has no null: the strings "none" and "off" stand for None in optional fields."""
    if isinstance(value, str) and value.strip().lower() in ("none", "off"):
        return None
    return value


Maybe = BeforeValidator(_none_word)


class Section(BaseModel):
    """Base of every spec section: unknown fields are errors; values are immutable; numbers
    are finite (each also has a maximum: simscale.limits)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class OptInSection(Section):
    """A section that is off unless configured: giving its table with any field turns it on
    (`enabled = true`), unless the table says `enabled = false`. Subclasses declare
    `enabled: bool = False`."""

    @model_validator(mode="before")
    @classmethod
    def _on_when_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and data and "enabled" not in data:
            data = {**data, "enabled": True}
        return data


class PolicyRef(Section):
    """A registered policy by name, with its parameters (validated by the policy's config)."""

    family: ClassVar[str] = ""  # the registry family; set by each subclass, not by a spec
    policy: str
    params: dict[str, Any] = Field(default_factory=dict)
    _config: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _resolve(self) -> PolicyRef:
        from policies import registry

        try:
            entry = registry.get(self.family, self.policy)
        except KeyError as exc:
            raise ValueError(f"policy: {exc.args[0]}") from None
        self._config = policy_config(entry.config_type, self.params, "params")
        return self

    @property
    def config(self) -> Any:
        """The policy's validated frozen config dataclass."""
        return self._config


def policy_config(config_type: type, values: dict[str, Any], path: str = "",
                  bounded: bool = True) -> Any:
    """The policy's frozen config from a spec table, validated by the config's own TypeAdapter
    strictly, as the spec itself is (no bool or string for a number), so its own rules run.

    bounded: also refuse a number that is not finite or beyond MAX_POLICY_NUMBER (for values
    with no bound of their own). Raises ValueError 'path.field: message' ('; ' between
    problems)."""
    try:
        config = TypeAdapter(config_type).validate_json(json.dumps(values), strict=True)
    except ValidationError as exc:
        raise ValueError("; ".join(_config_problem(e, path) for e in exc.errors())) from None
    problem = number_problem(config, path) if bounded else None
    if problem:
        raise ValueError(problem)
    return config


def number_problem(value: Any, path: str) -> str | None:
    """'path.to.x: ...' for the first number in a policy config (dataclasses, tables, lists)
    that is not finite or beyond MAX_POLICY_NUMBER in magnitude; None when all are fine."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return f"{path}: must be a finite number"
        if abs(value) > MAX_POLICY_NUMBER:
            return f"{path}: must be at most {MAX_POLICY_NUMBER:g} in magnitude"
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    elif isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return None
    for name, item in items:
        problem = number_problem(item, f"{path}.{name}")
        if problem:
            return problem
    return None


def _config_problem(error: dict, path: str) -> str:
    """One problem of a policy config as 'path.field: message' (just the message when the
    config as a whole is at fault and there is no path)."""
    loc = ".".join(str(p) for p in error["loc"])
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "unexpected_keyword_argument":
        msg = "unknown parameter"
    where = ".".join(part for part in (path, loc) if part)
    return f"{where}: {msg}" if where else msg


class PolicyTable(Section):
    """A table that is one policy's frozen config, field for field, plus fields only the
    simulator needs. Build one with policy_table(): the fields' names, types and defaults are
    the config's own; the config then checks the whole table through policy_config, as a
    PolicyRef's params are checked."""

    config_type: ClassVar[type] = object
    simulator_fields: ClassVar[tuple[str, ...]] = ()
    _config: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_with_policy(self) -> PolicyTable:
        values = self.model_dump(exclude=set(self.simulator_fields))
        # every number already has its own bound (the table's fields)
        self._config = policy_config(self.config_type, self.config_values(values),
                                     bounded=False)
        return self

    @property
    def config(self) -> Any:
        """The policy's validated frozen config dataclass."""
        return self._config

    def config_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """The config's values from the table's (a table may spell one differently)."""
        return values


def policy_table(config_type: type, doc: str, fields: dict[str, tuple[Any, str]], *,
                 base: type[PolicyTable] = PolicyTable, hidden: tuple[str, ...] = (),
                 simulator: dict[str, tuple[Any, Any, str]] | None = None) -> Any:
    """The spec table of `config_type` (a frozen dataclass), named after the config
    (HealthCheckConfig: HealthCheckSpec); assign it to that name in the calling module.

    fields: each config field's bounded type (simscale.limits) and description; its default
        comes from the config, and an optional field (or one typed `X | None` here) also
        takes the word "none". Every config field must be here or in `hidden` (the fields
        the simulator does not model, left at the config's default).
    simulator: fields only the simulator needs, as (bounded type, default, description).
    base: a PolicyTable subclass with the table's own checks or config_values.
    """
    hints = typing.get_type_hints(config_type)
    fields = dict(fields)
    declared: dict[str, Any] = {}
    for field in dataclasses.fields(config_type):
        if field.name in hidden:
            continue
        if field.name not in fields:
            raise TypeError(f"{config_type.__name__}.{field.name}: no bound and description "
                            "in its spec table (or list it as hidden)")
        bounded, description = fields.pop(field.name)
        if type(None) in typing.get_args(hints[field.name]) + typing.get_args(bounded):
            bounded = Annotated[bounded | None, Maybe]
        declared[field.name] = (bounded, _config_default(field, description))
    if fields:
        raise TypeError(f"{config_type.__name__} has no field {', '.join(fields)}")
    for name, (bounded, default, description) in (simulator or {}).items():
        declared[name] = (bounded, Field(default, description=description))
    name = config_type.__name__.removesuffix("Config").removesuffix("Policy") + "Spec"
    # the module that assigns the table to `name`, so that it pickles (as namedtuple does)
    module = sys._getframe(1).f_globals.get("__name__", base.__module__)
    table = create_model(name, __base__=base, __doc__=doc, __module__=module, **declared)
    table.config_type = config_type
    table.simulator_fields = tuple(simulator or ())
    return table


def _config_default(field: dataclasses.Field, description: str) -> Any:
    """A pydantic Field with the config field's default (a tuple as a list, as TOML has it)."""
    if field.default is not dataclasses.MISSING:
        if isinstance(field.default, tuple):
            default = field.default
            return Field(default_factory=lambda: list(default), description=description)
        return Field(field.default, description=description)
    return Field(default_factory=field.default_factory, description=description)


class BalancerRef(PolicyRef):
    family: ClassVar[str] = "balancer"
    policy: str = Field("round_robin", description="a registered balancer (simscale policies)")


def plain_name(value: str) -> str:
    """A name that is safe as a folder name: non-empty, no '/', '\\' or leading '.'."""
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"a name must be at most {MAX_NAME_CHARS} characters")
    if not value or any(c in value for c in "/\\\n\0") or value.startswith("."):
        raise ValueError("a name must be non-empty, without '/', '\\' or a leading '.'")
    return value
