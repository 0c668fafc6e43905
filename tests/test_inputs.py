"""Input at the edge (simscale.inputs): every TOML file simscale reads fails the same way, and
every validation problem reads 'source: field.path: message'."""

from __future__ import annotations

import pytest

from simscale.errors import InputError
from simscale.inputs import apply_overrides, read_toml, toml_error_position
from simscale.monitoring.dashboard import load_dashboard
from simscale.serve.fleetspec import load_fleet
from simscale.spec import load_spec
from simscale.sweep.claims import read_claims
from simscale.sweep.spec import read_sweep

# Every reader of a TOML file, each as its command meets it.
READERS = {
    "spec": load_spec,
    "sweep": read_sweep,
    "claims": read_claims,
    "dashboard": load_dashboard,
    "fleet": load_fleet,
}


def problems(call) -> list[str]:
    with pytest.raises(InputError) as info:
        call()
    return info.value.problems


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
@pytest.mark.parametrize("text, where", [
    ("name = 'x'\nduration_s = = 3\n", "2:14: TOML syntax error: Invalid value"),
    ("name = 'x'\nlist = [1, 2,", "2:14: TOML syntax error: Invalid value (at end of file)"),
    ("a = " + "[" * 40 + "]" * 40 + "\n", "tables or lists nested deeper than 32 levels"),
    ("title = '\xff'\n".encode("latin-1"), "1: not UTF-8 text (TOML is UTF-8)"),
])
def test_every_toml_reader_names_the_file_and_the_position(tmp_path, reader, text, where):
    path = tmp_path / "input.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    lines = problems(lambda: reader(path))
    assert len(lines) == 1
    sep = ":" if where[0].isdigit() else ": "
    assert lines[0] == f"{path}{sep}{where}"


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_every_toml_reader_refuses_a_missing_file(tmp_path, reader):
    assert problems(lambda: reader(tmp_path / "gone.toml")) == [f"{tmp_path / 'gone.toml'}: "
                                                                 "no such file"]


def test_the_position_of_a_syntax_error_is_public_for_posted_text():
    assert toml_error_position("Invalid value (at line 3, column 7)", "") == (
        "3:7: TOML syntax error: Invalid value")
    assert toml_error_position("Unclosed array (at end of document)", "a = [\nb") == (
        "2:2: TOML syntax error: Unclosed array (at end of file)")


def test_a_check_between_fields_is_reported_at_its_field_in_every_file(tmp_path):
    """A model check that names its field ('between: ...') is reported at that path, in a
    claims file as in a spec."""
    path = tmp_path / "claims.toml"
    path.write_text("[[claims]]\nclaim = 'c'\nvariant = 'v'\nmetric = 'm'\nbetween = [2, 1]\n")
    assert problems(lambda: read_claims(path)) == [
        f"{path}: claims.0.between: [2.0, 1.0] is not a range (low <= high)"]


def test_overrides_are_applied_to_a_copy_and_name_a_blocked_path():
    data = {"a": {"b": 1}, "c": 2}
    out, paths = apply_overrides(data, ["a.d=3", "e.f='x'"])
    assert out == {"a": {"b": 1, "d": 3}, "c": 2, "e": {"f": "x"}} and data["a"] == {"b": 1}
    assert paths == [["a", "d"], ["e", "f"]]
    assert problems(lambda: apply_overrides(data, ["c.x=1"])) == ["--set c.x=1: c is not a table"]


def test_read_toml_reads_a_table(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text("[a]\nb = [1, 2]\n")
    assert read_toml(path) == {"a": {"b": [1, 2]}}
