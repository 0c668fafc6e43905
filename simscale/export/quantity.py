"""Kubernetes resource quantities: write a number exactly ("250m", "8"), read one back."""

from __future__ import annotations

import math
import re
from decimal import Decimal

from simscale.export.limits import show

_DECIMAL_SUFFIXES = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
                     "": Decimal(1), "k": Decimal("1e3"), "M": Decimal("1e6"),
                     "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"),
                     "E": Decimal("1e18")}
_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
                    "Ei": 2**60}
_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?")


def format_quantity(value: float) -> tuple[str, bool]:
    """(quantity text, exact): the shortest of "8", "250m", "500u", "3n" that holds `value`.

    The value is rounded to whole nanos first (exact is False when that changed it).
    """
    number = Decimal(repr(float(value)))
    exact = number == round(number, 9)
    number = round(number, 9)
    for suffix, scale in (("", 1), ("m", 1000), ("u", 10**6), ("n", 10**9)):
        scaled = number * scale
        if scaled == scaled.to_integral_value():
            return f"{int(scaled)}{suffix}", exact
    raise AssertionError("unreachable: a value rounded to nanos is whole in nanos")


def parse_quantity(text: str | int | float) -> float:
    """A quantity ("250m", "1.5", "2Ki", "1e3") as a finite float; ValueError if malformed or
    beyond a float's range."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"not a quantity: {type(text).__name__}")
    try:
        if isinstance(text, int | float):
            value = float(text)
        else:
            value = _parse_text(text)
    except (ArithmeticError, ValueError):  # Decimal overflow, int() of thousands of digits
        shown = repr(text[:40]) if isinstance(text, str) else show(text)
        raise ValueError(f"not a quantity: {shown}") from None
    if not math.isfinite(value):
        raise ValueError("not a finite quantity")
    return value


def _parse_text(text: str) -> float:
    match = _QUANTITY.fullmatch(text.strip())
    if not match:
        raise ValueError(text)
    digits, suffix = match.groups()
    number = Decimal(digits)
    suffix = suffix or ""
    if suffix in _BINARY_SUFFIXES:
        return float(number * _BINARY_SUFFIXES[suffix])
    if suffix in _DECIMAL_SUFFIXES:
        return float(number * _DECIMAL_SUFFIXES[suffix])
    exponent = int(suffix[1:])
    if abs(exponent) > 400:  # beyond any float (and beyond Decimal's default exponent range)
        return 0.0 if exponent < 0 or number == 0 else math.inf
    return float(number * Decimal(10) ** exponent)
