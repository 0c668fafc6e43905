"""Property-based fuzzing of the spec edge: mutations of every shipped spec.

Hypothesis picks a shipped spec, one of its numbers (or unset optional fields) and a value
of any kind: finite, infinite, NaN, huge, negative, tiny, a boolean, a string, a table. The
spec either is refused with InputError lines naming the field, or loads with every number
finite and a run size within MAX_EVENTS_PER_RUN; with SIMSCALE_FUZZ_RUN=1 an accepted spec
is also run for a few simulated seconds, which must complete with every arrival in exactly
one status. A few dozen examples run in the suite; SIMSCALE_FUZZ_EXAMPLES sets how many
(tests/fuzz/settings.py, shared by every fuzz property):

    SIMSCALE_FUZZ_EXAMPLES=2000 SIMSCALE_FUZZ_RUN=1 pytest tests/test_spec_fuzz.py
"""

from __future__ import annotations

import copy
import math
import os

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from simscale.errors import InputError
from simscale.limits import MAX_EVENTS_PER_RUN
from simscale.sections.budget import estimate
from simscale.spec import load_spec, spec_from_dict
from tests.conftest import number_paths
from tests.fuzz.settings import fuzz
from tests.shipped import EXPERIMENTS, spec_files

SUITE_EXAMPLES = 40
RUN = os.environ.get("SIMSCALE_FUZZ_RUN") == "1"
SHORT_S = 5.0
EXAMPLE_S = 60.0 if RUN else 5.0  # the longest an example may take (SHORT_S of a big spec)




_BASES: dict[str, tuple[dict, list[tuple]]] = {}


def _base(path) -> tuple[dict, list[tuple]]:
    """The resolved spec (every default written out) and the paths of its numbers."""
    key = str(path)
    if key not in _BASES:
        data = load_spec(path).model_dump(mode="json")
        _BASES[key] = (data, list(number_paths(data)))
    return _BASES[key]


VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1e-300, 1e-9, 1e30, 2**63, 2**31]),
    st.booleans(),
    st.text(max_size=5),
    st.sampled_from(["1", "1e3", "none", "inf"]),
    st.just({}),
    st.just([1, 2]),
)


def _finite_numbers(node) -> bool:
    if isinstance(node, dict):
        return all(_finite_numbers(v) for v in node.values())
    if isinstance(node, list):
        return all(_finite_numbers(v) for v in node)
    if isinstance(node, float):
        return math.isfinite(node)
    return True


@fuzz(SUITE_EXAMPLES, EXAMPLE_S)
@given(data=st.data())
def test_a_mutated_spec_is_refused_naming_the_field_or_runs(data, tmp_path_factory):
    path = EXPERIMENTS / data.draw(st.sampled_from(spec_files()), label="spec")
    base, numbers = _base(path)
    field = data.draw(st.sampled_from(numbers), label="field")
    value = data.draw(VALUES, label="value")
    mutated = copy.deepcopy(base)
    node = mutated
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    try:
        spec = spec_from_dict(mutated, str(path))
    except InputError as exc:
        named = {str(p) for p in field[-2:]}
        assert any(n in line for n in named for line in exc.problems), exc.problems
        event("refused")
        return
    event("accepted")
    assert _finite_numbers(spec.model_dump(mode="json"))
    assert sum(t.events for t in estimate(spec)) <= MAX_EVENTS_PER_RUN
    if RUN:
        from simscale.model.runner import run

        short = spec.model_copy(update={"duration_s": min(spec.duration_s, SHORT_S)})
        summary = run(short, tmp_path_factory.mktemp("fuzz") / "run").summary
        assert summary["complete"], summary.get("failure")
        assert summary["arrivals"] == (summary["ok"] + summary["error"] + summary["timeout"]
                                       + summary["rejected"])


@pytest.mark.parametrize("text", ["[", "x = [1,", "a = 1\na = 2", "= 3", "x = {a = 1,}"])
def test_malformed_toml_names_the_file_and_line(tmp_path, text):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_spec(path)
    assert err.value.problems[0].startswith(f"{path}:")
