"""The experiment list and the form's overrides, without Textual."""

from __future__ import annotations

from simscale.tui.catalog import (
    FORM_FIELDS,
    find_experiments,
    form_fields,
    load_experiment,
    overrides_for,
    problem_fields,
    spec_data,
)


def test_lists_valid_specs_recursively_and_skips_the_rest(experiments):
    valid, skipped = find_experiments(experiments)
    assert sorted(e.name for e in valid) == ["bigger", "overload", "quick"]
    assert sorted(p.name for p in skipped) == ["broken.toml", "x.toml"]


def test_missing_folder_is_empty(tmp_path):
    assert find_experiments(tmp_path / "nope") == ([], [])


def test_form_starts_from_the_spec(experiments):
    exp = load_experiment(experiments / "quick.toml")
    fields = {f.key: text for f, text in form_fields(spec_data(exp.path, exp.spec))}
    assert fields == {
        "balancer.policy": "power_of_two_choices", "instances.count": "4",
        "instances.slots": "8", "workload.arrivals.rate_rps": "140", "duration_s": "60",
        "seed": "42",
    }


def test_form_of_an_invalid_spec_uses_the_file(experiments):
    exp = load_experiment(experiments / "broken.toml")
    assert not exp.valid
    assert any("instances.count" in p for p in exp.problems)
    fields = {f.key: text for f, text in form_fields(spec_data(exp.path, None))}
    assert fields["instances.count"] == "0"
    assert fields["balancer.policy"] == ""  # not in the file: left to the default
    assert problem_fields(exp.problems) == {"instances.count"}


def test_only_changed_fields_become_overrides():
    initial = {"instances.count": "4", "balancer.policy": "power_of_two_choices", "seed": "42"}
    edited = {"instances.count": "6", "balancer.policy": "round_robin", "seed": "42"}
    assert overrides_for(initial, edited) == [
        "instances.count=6", 'balancer.policy="round_robin"', "balancer.params={}"]
    assert overrides_for(initial, {**initial, "instances.count": ""}) == []


def test_overrides_validate_like_the_cli(experiments):
    path = experiments / "quick.toml"
    ok = load_experiment(path, ["instances.count=6", 'balancer.policy="round_robin"',
                                "balancer.params={}"])
    assert ok.valid and ok.spec.instances.count == 6 and ok.spec.balancer.policy == "round_robin"
    bad = load_experiment(path, ["instances.slots=0"])
    assert not bad.valid
    assert problem_fields(bad.problems) == {"instances.slots"}
    unknown = load_experiment(path, ['balancer.policy="nope"', "balancer.params={}"])
    assert problem_fields(unknown.problems) == {"balancer.policy"}


def test_widget_ids_are_unique_and_css_safe():
    ids = [f.widget_id for f in FORM_FIELDS]
    assert len(set(ids)) == len(ids)
    assert all(c.isalnum() or c == "-" for i in ids for c in i)
