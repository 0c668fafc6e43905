"""The base of every spec section, and policy references validated by the registry."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
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
        try:  # strictly, as the spec itself: no bool for a number, no string for a number
            self._config = TypeAdapter(entry.config_type).validate_json(
                json.dumps(self.params), strict=True)
        except ValidationError as exc:
            raise ValueError("; ".join(_param_problem(e) for e in exc.errors())) from None
        problem = number_problem(self._config, "params")
        if problem:
            raise ValueError(problem)
        return self

    @property
    def config(self) -> Any:
        """The policy's validated frozen config dataclass."""
        return self._config


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


def _param_problem(error: dict) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "unexpected_keyword_argument":
        msg = "unknown parameter"
    return f"params.{loc}: {msg}" if loc else f"params: {msg}"


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
