"""One number format for every table, report and screen (simscale.reports.numbers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simscale.reports.numbers import as_number, fmt_number


@pytest.mark.parametrize("value, digits, scale, text", [
    (None, 4, 1.0, "–"),
    (float("nan"), 4, 1.0, "–"),
    (math.inf, 4, 1.0, "–"),
    (True, 4, 1.0, "yes"),
    (False, 3, 1.0, "no"),
    (0, 4, 1.0, "0"),
    (0.0, 4, 1.0, "0"),
    (1234567, 4, 1.0, "1,234,567"),
    (np.int64(1234567), 4, 1.0, "1,234,567"),
    (12345.678, 4, 1.0, "12,346"),
    (1.5e10, 4, 1.0, "15,000,000,000"),
    (0.123456, 4, 1.0, "0.1235"),
    (0.123456, 3, 1.0, "0.123"),
    (12.3456, 3, 1.0, "12.3"),
    (-12.3456, 4, 1.0, "-12.35"),
    (999.97, 4, 1.0, "1,000"),  # rounds up past three digits: whole, not 1e+03
    (999.7, 3, 1.0, "1,000"),
    (1.234e-5, 4, 1.0, "1.234e-05"),
    (np.float64(0.5), 4, 1.0, "0.5"),
    (0.257, 3, 100.0, "25.7"),  # a fraction shown as a percent
    (3, 3, 100.0, "300"),
    (["a", "b"], 4, 1.0, "a, b"),
    ([], 4, 1.0, "–"),
    ("text", 4, 1.0, "text"),
])
def test_fmt_number(value, digits, scale, text):
    assert fmt_number(value, digits, scale) == text


@pytest.mark.parametrize("value, number", [
    (None, None), (True, None), ("3", None), (float("nan"), None), (object(), None),
    (3, 3.0), (2.5, 2.5), (np.float32(1.5), 1.5), (math.inf, math.inf),
])
def test_as_number(value, number):
    assert as_number(value) == number
