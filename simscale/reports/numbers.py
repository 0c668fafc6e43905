"""Numbers for people: one format for every table, report and screen (fmt_number), and the
reading of a value from a row or a summary as a number (as_number)."""

from __future__ import annotations

import math
import numbers
from typing import Any


def fmt_number(value: Any, digits: int = 4, scale: float = 1.0) -> str:
    """The one number format: '–' when missing (None, NaN, infinite); yes or no for a
    boolean; an integer, or any number from 1,000 up, whole with thousands separators;
    others with `digits` significant digits (4 in tables and reports, 3 in a screen's
    narrow cells); a list as its items. `scale` multiplies a number first (100: a
    fraction as a percent)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral) and scale == 1.0:
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        number = float(value) * scale
        if not math.isfinite(number):
            return "–"
        if number == 0:
            return "0"
        text = f"{number:.{digits}g}"
        if abs(float(text)) >= 1000:  # from 1,000 up, or rounded up to it (999.97)
            return f"{number:,.0f}"
        return text
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "–"
    return str(value)


def as_number(value: Any) -> float | None:
    """A row's or a summary's value as a float; None for no number (None, NaN, a boolean, a
    string or anything else that is not a number)."""
    if value is None or isinstance(value, bool | str):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out
