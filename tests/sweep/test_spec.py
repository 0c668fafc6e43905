"""Sweep specs and designs: expansion, names, seeds, and bad input caught before anything runs."""

from __future__ import annotations

import numpy as np
import pytest

from simscale.errors import InputError
from simscale.sweep.design import variants
from simscale.sweep.runlist import load_sweep
from simscale.sweep.spec import parse_sweep
from tests.sweep.helpers import write_sweep


def sweep(**fields):
    data = {"name": "t", "base": {}, "parameters": []}
    data.update(fields)
    return parse_sweep(data)


def test_grid_is_the_product_with_the_first_parameter_slowest():
    s = sweep(parameters=[{"path": "instances.count", "values": [2, 4]},
                          {"path": "balancer.policy", "values": ["random", "round_robin"]}])
    got = [(v.name, v.params) for v in variants(s)]
    assert got == [
        ("count=2,policy=random", {"instances.count": 2, "balancer.policy": "random"}),
        ("count=2,policy=round_robin", {"instances.count": 2, "balancer.policy": "round_robin"}),
        ("count=4,policy=random", {"instances.count": 4, "balancer.policy": "random"}),
        ("count=4,policy=round_robin", {"instances.count": 4, "balancer.policy": "round_robin"}),
    ]


def test_zip_pairs_values_and_a_range_with_steps():
    s = sweep(design="zip", parameters=[
        {"path": "instances.count", "low": 2, "high": 8, "steps": 4, "integer": True},
        {"path": "workload.arrivals.rate_rps", "values": [10.0, 20.0, 30.0, 40.0]},
    ])
    assert [v.params for v in variants(s)] == [
        {"instances.count": c, "workload.arrivals.rate_rps": r}
        for c, r in [(2, 10.0), (4, 20.0), (6, 30.0), (8, 40.0)]
    ]


def test_table_values_take_their_labels_as_names():
    s = sweep(parameters=[{"path": "balancer", "labels": ["rr", "p2c"], "values": [
        {"policy": "round_robin"}, {"policy": "power_of_two_choices",
                                    "params": {"choice_count": 2}}]}])
    assert [v.name for v in variants(s)] == ["rr", "p2c"]


def test_names_are_folder_safe_and_unique():
    s = sweep(parameters=[{"path": "name", "values": ["a/b", "a b", ".x"]}])
    names = [v.name for v in variants(s)]
    assert names == ["a_b", "a_b~1", "_.x"]


def test_latin_hypercube_puts_one_sample_in_each_stratum():
    n = 10
    s = sweep(design="lhs", samples=n, design_seed=3, parameters=[
        {"path": "workload.arrivals.rate_rps", "low": 100.0, "high": 200.0},
        {"path": "instances.count", "low": 1, "high": 10, "integer": True},
    ])
    vs = variants(s)
    assert [v.name for v in vs] == [  # named by their parameters, 3 significant digits
        f"rate_rps={v.params['workload.arrivals.rate_rps']:.3g},"
        f"count={v.params['instances.count']}" for v in vs]
    rates = np.array([v.params["workload.arrivals.rate_rps"] for v in vs])
    strata = np.floor((rates - 100.0) / 100.0 * n).astype(int)
    assert sorted(strata.tolist()) == list(range(n))
    counts = sorted(v.params["instances.count"] for v in vs)
    assert counts == list(range(1, 11))  # 10 integer strata, one each
    again = [v.params for v in variants(s)]
    assert again == [v.params for v in vs]  # the design seed fixes the samples


def test_random_design_samples_values_and_log_ranges():
    s = sweep(design="random", samples=50, parameters=[
        {"path": "balancer.policy", "values": ["random", "round_robin"]},
        {"path": "instances.queue_limit", "low": 1, "high": 1000, "log": True, "integer": True},
    ])
    vs = variants(s)
    assert {v.params["balancer.policy"] for v in vs} == {"random", "round_robin"}
    limits = [v.params["instances.queue_limit"] for v in vs]
    assert all(isinstance(x, int) and 1 <= x <= 1000 for x in limits)
    assert min(limits) < 30 and max(limits) > 30  # log-uniform reaches both decades


@pytest.mark.parametrize("fields, message", [
    ({"parameters": []}, "at least one field"),
    ({"parameters": [{"path": "a", "values": []}]}, "values is empty"),
    ({"parameters": [{"path": "a"}]}, "give values, or low and high"),
    ({"parameters": [{"path": "a", "low": 2, "high": 1, "steps": 2}]}, "above high"),
    ({"parameters": [{"path": "a", "low": 1, "high": 2}]}, "needs steps"),
    ({"design": "lhs", "parameters": [{"path": "a", "low": 1, "high": 2}]}, "needs samples"),
    ({"design": "zip", "parameters": [{"path": "a", "values": [1, 2]},
                                      {"path": "b", "values": [1]}]}, "equal length"),
    ({"parameters": [{"path": "a", "values": [1]}, {"path": "a", "values": [2]}]},
     "varied twice"),
    ({"parameters": [{"path": "a", "values": [1], "labels": ["x", "y"]}]}, "2 labels"),
    ({"parameters": [{"path": "a..b", "values": [1]}]}, "dotted field path"),
    ({"parameters": [{"path": "seed", "values": [1, 2]}]}, "each replication r runs with"),
    ({"parameters": [{"path": "a", "values": [1]}], "replicas": 3}, "unknown field"),
])
def test_bad_sweep_specs_are_input_errors(fields, message):
    with pytest.raises(InputError) as info:
        sweep(**fields)
    assert message in str(info.value)


def test_replication_r_has_seed_base_plus_r_for_every_variant(balancer_sweep):
    s = load_sweep(balancer_sweep)
    seeds = {(t.variant, t.replication): t.seed for t in s.tasks}
    assert seeds == {(v, r): 7 + r for v in ("round_robin", "least_connections",
                                             "power_of_two_choices") for r in range(2)}
    assert len({t.spec_sha256 for t in s.tasks}) == len(s.tasks)
    assert all(t.spec_data["duration_s"] == 10 for t in s.tasks)


def test_overrides_and_replications_from_the_command_line(balancer_sweep):
    s = load_sweep(balancer_sweep, ["duration_s=3"], replications=4)
    assert len(s.tasks) == 12
    assert {t.spec_data["duration_s"] for t in s.tasks} == {3}


def test_a_path_that_does_not_exist_names_the_variant_and_its_parameters(tmp_path):
    path = write_sweep(tmp_path, '[[parameters]]\npath = "instances.cuont"\nvalues = [2, 3]\n')
    with pytest.raises(InputError) as info:
        load_sweep(path)
    lines = info.value.problems
    assert len(lines) == 2
    assert "variant '2' (instances.cuont=2)" in lines[0]
    assert "instances.cuont: unknown field" in lines[0]


def test_only_the_variant_that_fails_validation_is_reported(tmp_path):
    path = write_sweep(tmp_path, '[[parameters]]\npath = "instances.count"\nvalues = [2, 0, 3]\n')
    with pytest.raises(InputError) as info:
        load_sweep(path)
    assert len(info.value.problems) == 1
    assert "variant '0' (instances.count=0)" in info.value.problems[0]
    assert "greater than 0" in info.value.problems[0]


def test_an_unknown_policy_and_an_unknown_baseline_are_input_errors(tmp_path):
    path = write_sweep(tmp_path, '[[parameters]]\npath = "balancer.policy"\n'
                                 'values = ["round_robin", "fastest"]\n')
    with pytest.raises(InputError, match="variant 'fastest'.*unknown balancer policy"):
        load_sweep(path)
    path = write_sweep(tmp_path, 'baseline = "nope"\n[[parameters]]\n'
                                 'path = "balancer.policy"\nvalues = ["round_robin"]\n')
    with pytest.raises(InputError, match="no variant named 'nope'"):
        load_sweep(path)


def test_a_missing_base_or_sweep_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_sweep(tmp_path / "absent.toml")
    path = tmp_path / "s.toml"
    path.write_text('base = "absent.toml"\n[[parameters]]\npath = "instances.count"\n'
                    'values = [1]\n')
    with pytest.raises(InputError, match="absent.toml: no such file"):
        load_sweep(path)
