"""`simscale import` on bad input: every mutation of the fixtures (tests/export/fixtures) ends
in exit 0 or exit 2 with a message naming the file and the line or field, never a traceback
or a hang. Hypothesis runs SIMSCALE_FUZZ_EXAMPLES examples per strategy (40 in the suite;
tests/fuzz/settings.py, shared by every fuzz property)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from simscale.errors import InputError
from simscale.export.importer import MAX_IMPORT_BYTES
from simscale.export.yamlio import load_yaml_documents
from tests.export.test_command import app
from tests.fuzz.settings import fuzz

FIXTURES = Path(__file__).parent / "fixtures"
MANIFESTS = ("hpa.yaml", "hpa-list.json", "scaledobject.yaml")
FUZZ = fuzz(40, example_s=20, deadline=timedelta(seconds=20))


def import_exit(path: Path) -> tuple[int, str]:
    """(exit code, output) of `simscale import PATH`; fails on any exception (a traceback)."""
    res = CliRunner().invoke(app, ["import", str(path)])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise AssertionError(f"import raised {res.exception!r}") from res.exception
    return res.exit_code, res.output


def assert_clean(path: Path) -> None:
    """Exit 0, or exit 2 where every error line names the file and then a line number, a
    field path or what is wrong with the whole file."""
    code, output = import_exit(path)
    assert code in (0, 2), output
    event(f"exit {code}")
    if code == 2:
        errors = [ln for ln in output.splitlines() if ln.startswith("error: ")]
        assert errors, output
        for line in errors:
            assert line.startswith(f"error: {path}:"), line


def _paths(data, prefix=()) -> list[tuple]:
    """Every path into nested dicts and lists (the root included)."""
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for n, value in enumerate(data):
            out += _paths(value, (*prefix, n))
    return out


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


weird = st.one_of(
    st.none(), st.booleans(), st.integers(),
    st.sampled_from([2**31, 2**63, 10**30, -1, 0, 10**5000]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["", "abc", "1e3", "250m", "1e999", "²", "nan", "inf", "Pods", "Percent",
                     "Resource", "cpu", "AverageValue", "Utilization", "autoscaling/v1",
                     "HorizontalPodAutoscaler", "ScaledObject", "List", "prometheus",
                     "http_requests_in_flight", "2024-13-45"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.integers(1, 120).map(_nested))


def _mutate(data, path: tuple, action: str, value):
    data = copy.deepcopy(data)
    if not path:
        return value if action == "replace" else [data]
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "replace":
        parent[key] = value
    elif action == "delete":
        del parent[key]
    elif action == "wrap":
        parent[key] = [parent[key]]
    else:  # nest the value deeply
        parent[key] = _nested(200) + [parent[key]]
    return data


@st.composite
def manifest_mutations(draw) -> tuple[str, str]:
    """(file name, text): a fixture manifest with one value replaced, deleted or wrapped."""
    name = draw(st.sampled_from(MANIFESTS))
    data = yaml.safe_load((FIXTURES / name).read_text())
    path = draw(st.sampled_from(_paths(data)))
    action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "wrap", "nest"]))
    mutated = _mutate(data, path, action, draw(weird))
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # to write a 5000-digit integer
    try:
        if name.endswith(".json"):
            return name, json.dumps(mutated, allow_nan=True)
        return name, yaml.safe_dump(mutated, sort_keys=False)
    finally:
        sys.set_int_max_str_digits(limit)


NGINX_WORDS = ["0", "-1", "²", "1ms", "1500ms", "99999999999999999999s", "9" * 400, "weight=0",
               "weight=" + "9" * 30, "max_fails=x", "fail_timeout=", "fail_timeout=1ms",
               "zone=nope", "rate=0r/s", "rate=99999999999999999999r/s", "burst=-1",
               "burst=" + "9" * 25, "two", "least_conn", "random", "hash", "ip_hash",
               "$http_x_session_id", '"', "'", "{", "}", ";", "#", "upstream", "server",
               "location", "proxy_pass", "http://chat", "http://x", "off", "\\"]


@st.composite
def nginx_mutations(draw) -> str:
    """The nginx fixture with one line's word replaced, or a line deleted, duplicated or
    wrapped in blocks."""
    lines = (FIXTURES / "nginx.conf").read_text().splitlines()
    n = draw(st.integers(0, len(lines) - 1))
    action = draw(st.sampled_from(["word", "word", "word", "delete", "duplicate", "blocks"]))
    if action == "word":
        words = lines[n].split() or [""]
        words[draw(st.integers(0, len(words) - 1))] = draw(st.one_of(
            st.sampled_from(NGINX_WORDS), st.text(max_size=8)))
        lines[n] = " ".join(words)
    elif action == "delete":
        del lines[n]
    elif action == "duplicate":
        lines.insert(n, lines[n])
    else:
        depth = draw(st.integers(1, 60))
        lines[n] = "a {" * depth + lines[n] + "}" * depth
    return "\n".join(lines) + "\n"


@st.composite
def text_mutations(draw) -> tuple[str, str]:
    """Any fixture with a slice cut out, or a snippet of YAML or nginx syntax put in."""
    name = draw(st.sampled_from([*MANIFESTS, "nginx.conf"]))
    text = (FIXTURES / name).read_text()
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 40)))
    snippet = draw(st.one_of(
        st.text(max_size=10),
        st.sampled_from(["&a [1]", "*a", "*nope", "!!python/object:os.system", "? [a]: b",
                         "{", "}", "[", "]", ": :", "- -", "\t", "\0", "\ufeff", "---\n",
                         "%YAML 1.1\n", "'", '"', "#", ";", "\\", "\n" * 50,
                         "key: " + "9" * 5000, "a: 2024-13-45"])))
    return name, text[:start] + snippet + text[end:]


@FUZZ
@given(manifest_mutations())
def test_a_mutated_manifest_imports_or_exits_2_naming_the_place(tmp_path_factory, mutation):
    name, text = mutation
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_text(text)
    assert_clean(path)


@FUZZ
@given(nginx_mutations())
def test_a_mutated_nginx_config_imports_or_exits_2_naming_the_place(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("fuzz") / "nginx.conf"
    path.write_text(text)
    assert_clean(path)


@FUZZ
@given(text_mutations())
def test_a_mutated_text_imports_or_exits_2_naming_the_place(tmp_path_factory, mutation):
    name, text = mutation
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    assert_clean(path)


# ---------------------------------------------------------------- the defects, one by one


@pytest.mark.parametrize("name", [*MANIFESTS, "nginx.conf"])
def test_every_fixture_imports(name):
    code, output = import_exit(FIXTURES / name)
    assert code == 0, output


HPA_FIELD = [  # (YAML path in hpa.yaml, value, the words of the error)
    (("spec",), "abc", "spec: 'abc': must be a mapping"),
    (("spec", "metrics"), 5, "spec.metrics: 5: must be a list"),
    (("spec", "metrics", 0), "x", "spec.metrics[0]: 'x': must be a mapping"),
    (("spec", "metrics", 0, "resource"), [], "spec.metrics[0].resource: must be a mapping"),
    (("spec", "metrics", 0, "resource", "target"), 3,
     "spec.metrics[0].resource.target: 3: must be a mapping"),
    (("spec", "metrics", 0, "resource", "target", "averageUtilization"), 1.5,
     "averageUtilization: 1.5: must be a whole number"),
    (("spec", "metrics", 1, "pods", "metric"), None, "spec.metrics[1].pods.metric: None"),
    (("spec", "metrics", 1, "pods", "target", "averageValue"), [1],
     "spec.metrics[1].pods.target.averageValue"),
    (("spec", "behavior"), "x", "spec.behavior: 'x': must be a mapping"),
    (("spec", "behavior", "scaleUp"), 7, "spec.behavior.scaleUp: 7: must be a mapping"),
    (("spec", "behavior", "scaleUp", "policies"), {"a": 1},
     "spec.behavior.scaleUp.policies: must be a list"),
    (("spec", "behavior", "scaleUp", "policies", 0), 5,
     "spec.behavior.scaleUp.policies[0]: 5: must be a mapping"),
    (("spec", "behavior", "scaleDown", "stabilizationWindowSeconds"), "300",
     "stabilizationWindowSeconds: '300': must be a whole number"),
    (("spec", "minReplicas"), True, "spec.minReplicas: True: must be a whole number"),
    (("spec", "maxReplicas"), 2**31, "spec.maxReplicas: 2147483648"),
    (("spec", "behavior", "scaleUp", "tolerance"), "1e999",
     "spec.behavior.scaleUp.tolerance: not a finite quantity"),
    (("apiVersion",), "autoscaling/v1", "apiVersion: 'autoscaling/v1'"),
]


@pytest.mark.parametrize(("path", "value", "words"), HPA_FIELD)
def test_a_wrong_type_in_an_hpa_exits_2_naming_the_field(tmp_path, path, value, words):
    data = yaml.safe_load((FIXTURES / "hpa.yaml").read_text())
    target = tmp_path / "hpa.yaml"
    target.write_text(yaml.safe_dump(_mutate(data, path, "replace", value)))
    code, output = import_exit(target)
    assert code == 2 and f"error: {target}: " in output and words in output, output


SCALED_FIELD = [
    (("spec", "triggers"), "x", "spec.triggers: 'x': must be a list"),
    (("spec", "triggers", 0), 5, "spec.triggers[0]: 5: must be a mapping"),
    (("spec", "triggers", 0, "metadata"), [], "spec.triggers[0].metadata: must be a mapping"),
    (("spec", "triggers", 0, "metadata", "threshold"), 6,
     "spec.triggers[0].metadata.threshold: 6: must be a string"),
    (("spec", "triggers", 0, "metadata", "threshold"), "nan",
     "spec.triggers[0].metadata.threshold: 'nan': a positive number is needed"),
    (("spec", "advanced"), "x", "spec.advanced: 'x': must be a mapping"),
    (("spec", "advanced", "horizontalPodAutoscalerConfig"), 3,
     "spec.advanced.horizontalPodAutoscalerConfig: 3: must be a mapping"),
    (("spec", "cooldownPeriod"), 1e300, "spec.cooldownPeriod: 1e+300: must be a whole number"),
]


@pytest.mark.parametrize(("path", "value", "words"), SCALED_FIELD)
def test_a_wrong_type_in_a_scaled_object_exits_2_naming_the_field(tmp_path, path, value, words):
    data = yaml.safe_load((FIXTURES / "scaledobject.yaml").read_text())
    target = tmp_path / "scaledobject.yaml"
    target.write_text(yaml.safe_dump(_mutate(data, path, "replace", value)))
    code, output = import_exit(target)
    assert code == 2 and words in output, output


@pytest.mark.parametrize(("text", "words"), [
    ("[" * 5000 + "]" * 5000, "YAML syntax error"),
    ("a:\n" + "".join(" " * (i + 1) + "- \n" for i in range(100)), "nested deeper than 64"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg")),
     "more than 500,000 values"),
    ("kind: List\nitems: 5\n", "items: must be a list"),
    ("key: " + "9" * 5000 + "\n", "a value cannot be read"),
])
def test_a_hostile_yaml_exits_2(tmp_path, text, words):
    target = tmp_path / "x.yaml"
    target.write_text(text)
    code, output = import_exit(target)
    assert code == 2 and words in output, output


@pytest.mark.parametrize(("old", "new", "words"), [
    ("max_fails=3", "max_fails=²", "max_fails: '²': a whole number 0..2^63 - 1 is needed"),
    ("weight=3", "weight=" + "9" * 30, "weight: '999999999999999999999999999999'"),
    ("fail_timeout=15s", "fail_timeout=1500ms", "is not an nginx time (whole seconds"),
    ("proxy_read_timeout 4s", "proxy_read_timeout " + "9" * 5000, "is not an nginx time"),
    ("proxy_read_timeout 4s", "proxy_read_timeout 106751991167301d",
     "exceeds nginx's largest time"),
    ("burst=19", "burst=" + "9" * 25, "limit_req burst"),
    ("rate=50r/s", "rate=0r/s", "limit_req_zone: expected KEY"),
    ("http {", "http {" + "a {" * 40 + "}" * 40, "blocks nested deeper than 32"),
])
def test_a_bad_nginx_number_exits_2_naming_the_line(tmp_path, old, new, words):
    text = (FIXTURES / "nginx.conf").read_text()
    assert old in text
    target = tmp_path / "nginx.conf"
    target.write_text(text.replace(old, new, 1))
    code, output = import_exit(target)
    assert code == 2 and f"error: {target}:" in output and words in output, output


@pytest.mark.parametrize(("text", "words"), [
    ("[" * 5000 + "]" * 5000, "nested deeper than 64"),
    ("a:\n" + "".join(" " * (i + 1) + "- \n" for i in range(100)), "nested deeper than 64"),
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg")),
     "more than 500,000 values"),
])
def test_without_libyaml_the_same_limits_hold(text, words):
    """PyYAML's pure-Python loader recurses per level and scans deep flow collections in
    quadratic time; the limits are checked before it builds anything."""
    with pytest.raises(InputError, match=words):
        load_yaml_documents(text, "x.yaml", pure_python=True)


def test_a_problem_in_a_later_document_names_the_document_and_list_item(tmp_path):
    hpa = yaml.safe_load((FIXTURES / "hpa.yaml").read_text())
    hpa["spec"]["maxReplicas"] = "ten"
    target = tmp_path / "all.yaml"
    target.write_text("kind: Namespace\n---\n" + yaml.safe_dump(
        {"apiVersion": "v1", "kind": "List", "items": [{"kind": "Service"}, hpa]}))
    code, output = import_exit(target)
    assert code == 2, output
    assert f"error: {target}: document 2: items[1].spec.maxReplicas: 'ten': must be a " \
           "whole number" in output


def test_a_file_over_the_limit_is_refused_without_reading_it_whole(tmp_path):
    target = tmp_path / "big.yaml"
    with open(target, "wb") as handle:
        handle.truncate(MAX_IMPORT_BYTES + 1)
    code, output = import_exit(target)
    assert code == 2 and "larger than 4 MiB" in output, output


def test_a_file_that_is_not_utf8_exits_2(tmp_path):
    target = tmp_path / "x.yaml"
    target.write_bytes(b"kind: \xff\xfe\n")
    code, output = import_exit(target)
    assert code == 2 and "not UTF-8 text (byte 6)" in output, output


def test_a_file_of_blank_lines_at_the_size_limit_does_not_hang(tmp_path):
    """Finding the upstream block was quadratic in a run of blank lines (3 MB: hours). A hang
    guard, not a speed measurement: the limit is two orders of magnitude above a normal run."""
    target = tmp_path / "blank.yaml"
    target.write_text((FIXTURES / "hpa.yaml").read_text() + "\n" * (MAX_IMPORT_BYTES - 2000))
    proc = subprocess.run([sys.executable, "-m", "simscale", "import", str(target)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "[autoscaling]" in proc.stdout
