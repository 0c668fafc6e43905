"""The base of every spec section, and policy references validated by the registry."""

from __future__ import annotations

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


def _none_word(value: Any) -> Any:
    """TOML has no null: the strings "none" and "off" stand for None in optional fields."""
    if isinstance(value, str) and value.strip().lower() in ("none", "off"):
        return None
    return value


Maybe = BeforeValidator(_none_word)


class Section(BaseModel):
    """Base of every spec section: unknown fields are errors; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)



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
        try:
            self._config = TypeAdapter(entry.config_type).validate_python(self.params)
        except ValidationError as exc:
            raise ValueError("; ".join(_param_problem(e) for e in exc.errors())) from None
        return self

    @property
    def config(self) -> Any:
        """The policy's validated frozen config dataclass."""
        return self._config


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
    if not value or any(c in value for c in "/\\\n\0") or value.startswith("."):
        raise ValueError("a name must be non-empty, without '/', '\\' or a leading '.'")
    return value


def error_message(error: dict) -> str:
    """A pydantic error's message as simscale prints it."""
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required field is missing"
    return error["msg"].removeprefix("Value error, ")


def problem_lines(exc: ValidationError, source: str) -> list[str]:
    """One line per pydantic error: 'source: field.path: message'."""
    lines = []
    for error in exc.errors():
        loc = ".".join(str(p) for p in error["loc"])
        msg = error_message(error)
        lines.append(f"{source}: {loc}: {msg}" if loc else f"{source}: {msg}")
    return lines

