"""What every export target shares: the files it writes, the features it loses, safe tokens.

A target renders a Plan (simscale.export.plan) into files. A policy feature that the target
cannot express is recorded as a Loss: a warning naming the spec field and what is lost,
which `--strict` turns into an error. Every value written into a configuration file passes
through `token` or `dns_label` first, so a name with `;`, `{`, a quote or a newline is
rejected (InputError naming the field) and never written raw.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, field

from simscale.errors import InputError
from simscale.export.limits import finite

# Characters allowed in a bare configuration token (nginx, HAProxy, Redis, dotenv): no
# whitespace, quotes, ';', '{', '}', '#', '$', '\\' or control characters. Every pattern here
# is applied with fullmatch: `$` would also match before a final newline.
_TOKEN = re.compile(r"[A-Za-z0-9_.:/@+=,%-]+")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# A container image reference: [registry[:port]/]path[:tag][@digest], lower-case path.
_IMAGE = re.compile(
    r"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@sha256:[a-f0-9]{64})?"
)


@dataclass(frozen=True)
class Loss:
    """A policy feature the target cannot express: where it is in the spec and what is lost."""

    target: str
    feature: str
    message: str

    def __str__(self) -> str:
        return f"{self.target}: {self.feature}: {self.message}"


@dataclass
class Losses:
    """The losses collected while rendering one target."""

    target: str
    items: list[Loss] = field(default_factory=list)

    def lose(self, feature: str, message: str) -> None:
        loss = Loss(self.target, feature, message)
        if loss not in self.items:
            self.items.append(loss)


@dataclass(frozen=True)
class Export:
    """One target's output: file name (relative to --out) → text, and what was lost."""

    target: str
    files: dict[str, str]
    losses: tuple[Loss, ...]
    secrets: tuple[str, ...] = ()     # files holding a secret: mode 0600, an existing one kept


def new_secret() -> str:
    """A fresh random secret: 32 bytes from the OS's generator, as 64 hex digits (a bare
    token in every configuration format and in a URL)."""
    return secrets.token_hex(32)


def token(value: object, field_path: str) -> str:
    """`value` as a bare configuration token; InputError naming `field_path` if it is unsafe."""
    text = str(value)
    if not _TOKEN.fullmatch(text):
        raise InputError(
            f"{field_path}: {text!r} cannot be written into a configuration file (allowed: "
            "letters, digits and . _ : / @ + = , % -; no spaces, quotes, ';', '{', '}' or "
            "newlines)")
    return text


def dns_label(value: str, field_path: str) -> str:
    """A DNS-1123 label (Kubernetes names, compose services, nginx upstreams); InputError else."""
    if not (len(value) <= 63 and _DNS_LABEL.fullmatch(value)):
        raise InputError(
            f"{field_path}: {value!r} is not a DNS-1123 label (lower-case letters, digits and "
            "'-', starting and ending with a letter or digit, at most 63 characters)")
    return value


def app_name(spec_name: str, override: str | None) -> str:
    """The service name used in every target: --name, else the spec's name.

    The spec's name is lower-cased and '_', '.' and ' ' become '-'; anything else that is not
    a DNS-1123 label (a ';', '{', a newline…) is an InputError naming the field.
    """
    if override is not None:
        return dns_label(override, "--name")
    candidate = re.sub(r"[_. ]", "-", spec_name.lower())
    try:
        return dns_label(candidate, "name")
    except InputError:
        raise InputError(
            f"name: the spec name {spec_name!r} is not usable as a service name (a DNS-1123 "
            "label: lower-case letters, digits and '-'); pass --name") from None


def image_ref(value: str, field_path: str = "--image") -> str:
    """A container image reference; InputError naming `field_path` otherwise."""
    if not _IMAGE.fullmatch(value) or len(value) > 255:
        raise InputError(f"{field_path}: {value!r} is not a container image reference "
                         "(like ai-chat:1.0.0 or registry.example.com/team/ai-chat:1.0.0)")
    return value


def number(value: float, field_path: str) -> str:
    """A finite number written the short way (30.0 → "30", 0.25 → "0.25")."""
    if not finite(value):
        raise InputError(f"{field_path}: {value!r} is not a finite number")
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def ceil_seconds(value_s: float) -> int:
    """Whole seconds, rounded up (at least 1): for fields that take integer seconds."""
    return max(1, math.ceil(value_s - 1e-9))
