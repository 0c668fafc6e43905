"""Spec limits: every number finite and bounded, strict types, file size and nesting, and the
README's Limits table in step with simscale/limits.py."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from simscale import limits
from simscale.cli import app
from simscale.errors import InputError
from simscale.sections.workload import TokenCounts
from simscale.spec import json_schema, load_spec
from simscale.workload.distributions import Lognormal
from tests.conftest import ROOT, number_paths

QUICK = str(ROOT / "experiments" / "quickstart.toml")
CACHE = str(ROOT / "experiments" / "cache" / "hit_rate_90.toml")
DRILL = str(ROOT / "experiments" / "resilience" / "failover_drill.toml")
AUTO = str(ROOT / "experiments" / "autoscaling" / "service_defaults.toml")
TRACE = str(ROOT / "experiments" / "traces" / "azure_conv.toml")
USERS = str(ROOT / "experiments" / "workload" / "closed_loop.toml")

# (spec, --set overrides, what the one error line must say): values that used to be accepted
# and then hung, exhausted memory, crashed, or were silently coerced
REFUSED = [
    (QUICK, ["duration_s=1e30"], "--set duration_s: Input should be less than or equal to"),
    (QUICK, ["duration_s=inf"], "--set duration_s: Input should be a finite number"),
    (QUICK, ["duration_s=nan"], "--set duration_s: Input should be a finite number"),
    (QUICK, ["metrics.interval_s=1e-9"], "--set metrics.interval_s: Input should be greater"),
    (QUICK, ["metrics.interval_s=0.001"], "metrics.interval_s: 0.001 s rows"),
    (QUICK, ["instances.count=1e30"], "--set instances.count: Input should be a valid integer"),
    (QUICK, ["instances.count=100000"], "--set instances.count: Input should be less than or "
                                        "equal to 10000"),
    (QUICK, ["instances.count=true"], "--set instances.count: Input should be a valid integer"),
    (QUICK, ["instances.count=4.0"], "--set instances.count: Input should be a valid integer"),
    (QUICK, ["seed=true"], "--set seed: Input should be a valid integer"),
    (QUICK, ['duration_s="1e3"'], "--set duration_s: Input should be a valid number"),
    (QUICK, ["workload.service.cv=inf"], "--set workload.service.cv: Input should be a finite"),
    (QUICK, ["instances.price_per_instance_hour_usd=inf"],
     "--set instances.price_per_instance_hour_usd: Input should be a finite number"),
    (QUICK, ["workload.arrivals.rate_rps=1e9"], "--set workload.arrivals.rate_rps: Input should "
                                                "be less than or equal to 1000000"),
    (QUICK, ["cache.shards=1e30"], "--set cache.shards: Input should be a valid integer"),
    (QUICK, ["cache.shards=100000"], "--set cache.shards: Input should be less than or equal"),
    (QUICK, ["cache.keys.users=1e30"], "--set cache.keys.users: Input should be a valid integer"),
    (QUICK, ["cache.keys.users=20000000000"], "--set cache.keys.users: Input should be less"),
    (QUICK, ["workload.service={kind = \"gamma\", mean_s = 0.04, cv = 1e-300}"],
     "--set workload.service: workload.service.cv: Input should be greater than or equal"),
    (QUICK, ["instances.count=1000000000000000000000000000000"],
     "--set instances.count: Input should be less than or equal to 10000"),
    (QUICK, ['workload.arrivals={kind = "renewal", rate_rps = 140, cv = 1e-300}'],
     "workload.arrivals.cv: a gamma's shape is 1/cv²"),
    (QUICK, ["balancer.params.choice_count=true"],
     "--set balancer.params.choice_count: Input should be a valid integer"),
    (QUICK, ["balancer.policy=\"consistent_hash\"", "balancer.params.vnodes=1000000"],
     "balancer.params.vnodes: 4 instances × 1,000,000 vnodes"),
    (CACHE, ["cache.capacity_items=100000000"], "--set cache.capacity_items: Input should be"),
    (CACHE, ["cache.capacity_items=5000000"],
     "--set cache.capacity_items: 5,000,000 items × 4 shards is more than 10,000,000"),
    (CACHE, ["cache.vnodes=1000", "cache.shards=1000", "cache.capacity_items=100"],
     "cache.vnodes: 1000 shards × 1000 vnodes make 1,000,000 ring points; at most 500,000"),
    (CACHE, ['cache.eviction.policy="wtinylfu"', 'cache.capacity_items="none"',
             "cache.capacity_bytes=1000000000000"],
     "--set cache.capacity_bytes: 1,000,000,000,000 items × 4 shards"),
    (AUTO, ["autoscaling.params.max_replicas=100000"],
     "autoscaling.params.max_replicas: at most 10,000 instances"),
    (DRILL, ['resilience.rate_limit=[{policy = "token_bucket", params = {rate_per_s = inf}}]'],
     "resilience.rate_limit.0.params.rate_per_s: must be a finite number"),
    (DRILL, ["resilience.retry.max_attempts=1000"], "--set resilience.retry.max_attempts"),
    (DRILL, ["resilience.health_check.interval_s=1e-9"],
     "--set resilience.health_check.interval_s: Input should be greater than or equal to 0.001"),
    (TRACE, ["workload.arrivals.rate_scale=1e9"], "--set workload.arrivals.rate_scale: Input "
                                                  "should be less than or equal to 1000"),
    (TRACE, ["workload.arrivals.speed=1e300", "workload.arrivals.loop=true"],
     "--set workload.arrivals.speed: Input should be less than or equal to 1000000"),
    (TRACE, ["workload.arrivals.window_s=[0, 1e-300]", "workload.arrivals.loop=true"],
     "--set workload.arrivals.window_s: 1 rows × rate_scale 1 every 1e-300 simulated s"),
    (USERS, ["workload.arrivals.users=10000000"], "--set workload.arrivals.users: Input should"),
]


@pytest.mark.parametrize("spec, sets, expected", REFUSED, ids=[" ".join(r[1]) for r in REFUSED])
def test_out_of_bound_values_are_refused_at_load_naming_the_field(spec, sets, expected):
    with pytest.raises(InputError) as err:
        load_spec(spec, sets)
    assert any(expected in p for p in err.value.problems), err.value.problems


@pytest.mark.parametrize("sets, expected", [
    (["duration_s=2592000", "workload.arrivals.rate_rps=1000", "metrics.interval_s=60"],
     "--set workload.arrivals.rate_rps: the run would simulate about 2.6"),
    (["instances.count=10000", "duration_s=86400", "metrics.interval_s=60",
      "resilience.health_check.interval_s=0.001"],
     "--set resilience.health_check.interval_s: the run would simulate about 8.6"),
])
def test_a_run_too_large_as_a_whole_is_refused_naming_the_fields(sets, expected):
    with pytest.raises(InputError) as err:
        load_spec(DRILL, sets)
    (problem,) = err.value.problems
    assert problem.startswith(expected), problem
    assert "more than the 1e+09 a run may" in problem


def test_bounds_at_their_limits_are_accepted():
    spec = load_spec(QUICK, ["instances.count=10000", "duration_s=2592000",
                             "metrics.interval_s=600", "workload.arrivals.rate_rps=100",
                             "seed=9223372036854775807"])
    assert spec.instances.count == limits.MAX_INSTANCES
    assert spec.seed == limits.MAX_SEED
    assert isinstance(load_spec(QUICK, ["duration_s=600"]).duration_s, float)  # int → float


def _cli(*args: str):
    return CliRunner().invoke(app, ["run", *args, "--quiet"])


def test_a_set_value_nested_1000_deep_exits_2(tmp_path):
    res = _cli(QUICK, "--out", str(tmp_path / "o"), "--set", "x=" + "[" * 1000 + "]" * 1000)
    assert res.exit_code == 2, res.output
    assert "--set x: nested deeper than 32 levels" in res.output
    res = _cli(QUICK, "--out", str(tmp_path / "o"), "--set", ".".join(["a"] * 40) + "=1")
    assert res.exit_code == 2 and "nested deeper" in res.output, res.output


@pytest.mark.parametrize("text", [
    "name = 'deep'\nx = " + "[" * 1000 + "]" * 1000 + "\n",
    "name = 'deep'\nx = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n",
    "name = 'deep'\n" + ".".join(["a"] * 40) + " = 1\n",
])
def test_a_spec_nested_too_deep_exits_2_naming_the_file(tmp_path, text):
    path = tmp_path / "deep.toml"
    path.write_text(text)
    res = _cli(str(path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2, res.output
    assert f"{path}: tables or lists nested deeper than 32 levels" in res.output


def test_a_spec_file_over_the_size_limit_exits_2(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(open(QUICK).read() + "#" * limits.MAX_SPEC_BYTES)
    res = _cli(str(path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2, res.output
    assert f"{path}: larger than 1,048,576 bytes" in res.output


def test_a_spec_file_that_is_not_utf8_exits_2_with_its_line(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b"name = 'x'\ndescription = '\xe9'\n")
    res = _cli(str(path), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2, res.output
    assert f"{path}:2: not UTF-8 text" in res.output


def test_strict_types_in_a_spec_file(tmp_path):
    text = open(QUICK).read()
    path = tmp_path / "float_count.toml"
    path.write_text(text.replace("count = 4", "count = 4.0"))
    with pytest.raises(InputError, match="instances.count: Input should be a valid integer"):
        load_spec(path)
    path.write_text(text.replace("seed = 42", "seed = 1979-05-27"))
    with pytest.raises(InputError, match="seed: Input should be a valid integer"):
        load_spec(path)


def test_drawn_token_counts_are_clipped_to_max_tokens():
    from simscale.workload.samplers import sample_tokens

    rng = np.random.default_rng(1)
    heavy = Lognormal(mean_s=limits.MAX_TOKENS, cv=100.0)
    counts = sample_tokens(heavy, rng, 20_000)
    assert counts.max() == limits.MAX_TOKENS and counts.min() >= 0
    tokens = TokenCounts(mean=limits.MAX_TOKENS, cv=100.0)
    assert sample_tokens(tokens, rng, 20_000).max() == limits.MAX_TOKENS


# ---------------------------------------------------------------- the schema and the README


def _numeric_fields(schema: dict) -> list[tuple[str, dict]]:
    """(path, schema node) of every number or integer in the spec's JSON schema."""
    defs = schema["$defs"]
    found: list[tuple[str, dict]] = []

    def walk(node: dict, path: str, seen: tuple) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(defs[name], path, seen + (name,))
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                walk(sub, path, seen)
        if node.get("type") in ("number", "integer"):
            found.append((path, node))
        for key, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{key}".lstrip("."), seen)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            walk(extra, f"{path}.<key>", seen)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]", seen)
        for i, sub in enumerate(node.get("prefixItems", [])):
            walk(sub, f"{path}[{i}]", seen)

    walk(schema, "", ())
    return found


def test_every_number_in_the_schema_has_a_maximum():
    fields = _numeric_fields(json_schema())
    assert len(fields) > 200  # the walk reaches every section
    unbounded = [p for p, node in fields
                 if "maximum" not in node and "exclusiveMaximum" not in node]
    assert unbounded == []
    assert all(isinstance(n.get("maximum", n.get("exclusiveMaximum")), int | float)
               and math.isfinite(n.get("maximum", n.get("exclusiveMaximum")))
               for _, n in fields)


def _readme_limits() -> dict[str, tuple[float, str, str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Limits", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| ([\d,.]+) \| ([^|]*) \| (.*) \|$", section, re.M)
    return {name: ((float if "." in value else int)(value.replace(",", "")), unit.strip(),
                   reason)
            for name, value, unit, reason in rows}


def test_the_readme_limits_table_is_simscale_limits():
    table = _readme_limits()
    assert list(table) == [limit.name for limit in limits.LIMITS]
    for limit in limits.LIMITS:
        value, unit, reason = table[limit.name]
        assert value == limit.value and unit == limit.unit and reason == limit.reason, limit
        assert getattr(limits, limit.name) == limit.value


# ---------------------------------------------------------------- every number, adversarially

SWEPT = [QUICK, CACHE, DRILL, AUTO, USERS]
BAD_VALUES = [math.inf, math.nan, 10**30, -1, True, "1"]




@pytest.mark.parametrize("spec_path", SWEPT, ids=lambda p: p.rsplit("/", 1)[-1])
def test_every_number_of_a_shipped_spec_refuses_bad_values_naming_it(spec_path):
    """Each number of the resolved spec, set to inf, nan, huge, negative, a boolean or a
    string: refused naming the field, or (where the value is in bounds) a spec whose every
    number is finite and whose run fits the budget."""
    import copy

    from simscale.sections.budget import estimate
    from simscale.spec import spec_from_dict

    base = load_spec(spec_path).model_dump(mode="json")
    paths = list(number_paths(base))
    assert len(paths) > 30
    for path in paths:
        for value in BAD_VALUES:
            data = copy.deepcopy(base)
            node = data
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            try:
                spec = spec_from_dict(data, "spec")
            except InputError as exc:
                named = [str(p) for p in path[-2:]]
                assert any(n in line for n in named for line in exc.problems), (path, exc)
                continue
            assert sum(t.events for t in estimate(spec)) <= limits.MAX_EVENTS_PER_RUN, path
            dumped = spec.model_dump(mode="json")
            assert all(math.isfinite(v) for v in _leaf_numbers(dumped)), (path, value)


def _leaf_numbers(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaf_numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaf_numbers(value)
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield node


@pytest.mark.parametrize("rows, sets, expected", [
    ("0,10,10\n", ["workload.arrivals.loop=true"], "workload.arrivals.loop: a loop needs a lap"),
    ("5,10,10\n5,1,1\n", ["workload.arrivals.loop=true"], "workload.arrivals.loop: a loop"),
    ("0,10,10\n", ["workload.arrivals.rate_scale=2"], "workload.arrivals.rate_scale: rate_scale"),
])
def test_a_trace_without_a_lap_length_cannot_loop_or_superpose(tmp_path, rows, sets, expected):
    (tmp_path / "t.csv").write_text("arrival_s,prompt_tokens,output_tokens\n" + rows)
    spec = tmp_path / "s.toml"
    spec.write_text('name = "t"\nduration_s = 60\n[workload]\narrivals = { kind = "trace", '
                    'path = "t.csv" }\n[instances]\ncount = 2\nslots = 4\n')
    with pytest.raises(InputError) as err:
        load_spec(spec, sets)
    assert any(expected in p and "window_s = [start_s, end_s]" in p for p in err.value.problems)
    windowed = load_spec(spec, [*sets, "workload.arrivals.window_s=[0, 10]"])
    assert windowed.workload.arrivals.window_s == (0.0, 10.0)


def test_a_run_too_big_for_its_mix_stages_names_the_kind_to_lower():
    """733 database queries a cache miss of one kind: the budget names that kind, not only
    the users (found by the spec fuzzing at 1,000 examples)."""
    with pytest.raises(InputError) as caught:
        load_spec(ROOT / "experiments" / "phase3" / "after.toml",
                  ["workload.mix.load_history.db_queries=733"])
    (problem,) = caught.value.problems
    assert "events, more than" in problem
    assert "most: workload.mix.load_history:" in problem
