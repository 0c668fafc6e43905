"""Hostile values for trace cells: numbers at and past every bound, wrong types, odd text."""

from __future__ import annotations

from datetime import datetime

from hypothesis import strategies as st

NUMBER_TEXTS = (
    "0", "-0", "-1", "1", "2147483647", "2147483648", "3000000000", "4294967296",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "18446744073709551616", "1" + "0" * 400, "9" * 5000,
    "1e3", "1E308", "1e309", "-1e309", "1.5", "0.0", "-0.0", "1e-300", "5e-324", ".5", "5.",
    "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "+1", " 12 ", "0x10", "0b1", "1_000",
    "１２", "٣", "12abc", "1e", "e5", "--1", "+-1", "1.2.3",
)
ODD_TEXTS = (
    "", " ", "true", "null", "None", '"7"', "1,2", '"', '""', "\t", "\x00", "\x7f", "é",
    "\u202e", "\ufeff", "\r", "a\nb", "x" * 101, "x" * 100, "chat_message", "load_history",
    "new_kind", "é" * 60,
)
TIMESTAMP_TEXTS = (
    "1970-01-01 00:00:00", "1970-01-01 00:00:00.000000001", "1969-12-31 23:59:59.999999999",
    "1700-01-01 00:00:00", "2200-01-01 00:00:00", "2262-04-11 23:47:16.854775807",
    "2262-04-11 23:47:16.854775808", "2262-04-12 00:00:00", "9999-12-31 23:59:59.9999999",
    "0000-01-01 00:00:00", "0001-01-01 00:00:00", "2023-02-29 12:00:00",
    "2023-11-16 24:00:00", "2023-11-16 23:59:60", "2023-11-16T18:15:46.68",
    "2023-11-16 18:15:46.6805900123", "2023-11-16 18:15:46.", "2023-11-16 18:15:46+02:00",
    "2023-11-16", "18:15:46", "2023-11-16 18:15:46.6805900", "2023-11-16 18:15:45.0",
    "2023-11-16 18:15:4６", "2023-13-01 00:00:00", "20231116 181546",
)


def number_text() -> st.SearchStrategy[str]:
    """A number (or something that looks like one) as text."""
    return st.one_of(
        st.sampled_from(NUMBER_TEXTS),
        st.integers(-(2**70), 2**70).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    )


def cell_text() -> st.SearchStrategy[str]:
    """Any value a CSV cell may be given."""
    return st.one_of(number_text(), number_text(), st.sampled_from(ODD_TEXTS),
                     st.text(max_size=8))


def timestamp_text() -> st.SearchStrategy[str]:
    """An Azure TIMESTAMP: past either end of the range, impossible, or merely unusual."""
    stamps = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
    digits = st.text("0123456789", min_size=0, max_size=12)
    written = st.builds(lambda when, frac: when.strftime("%Y-%m-%d %H:%M:%S")
                        + (f".{frac}" if frac else ""), stamps, digits)
    return st.one_of(st.sampled_from(TIMESTAMP_TEXTS), written, cell_text())


JSON_TEXTS = (
    "null", "true", "false", '"12"', '""', "[]", "{}", "[1, 2]", '{"a": 1}', "1.0", "-0.0",
    "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "12 34", "{{", "[", '"\\ud800"',
    "[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000,
)
HASH_IDS_TEXTS = (
    "[]", "[-1]", "[9223372036854775808]", "[9223372036854775807]", "[1.5]", '["a"]',
    "[true]", "null", '"x"', "5", "[[1]]", "[0, null]", "[" + ", ".join(["0"] * 1000) + "]",
    "[" + ", ".join(str(i) for i in range(20_000)) + "]",
)


def json_text() -> st.SearchStrategy[str]:
    """A JSON value (or not quite one) as it would appear in a line."""
    return st.one_of(number_text(), st.sampled_from(JSON_TEXTS),
                     st.text(max_size=8).map(lambda s: '"' + s.replace('"', "") + '"'))


def hash_ids_text() -> st.SearchStrategy[str]:
    ids = st.lists(st.integers(-(2**64), 2**64), max_size=6).map(str)
    return st.one_of(st.sampled_from(HASH_IDS_TEXTS), ids, json_text())
