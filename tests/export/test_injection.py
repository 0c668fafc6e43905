"""Values that would inject configuration are rejected (InputError naming the field) or
quoted, never written raw."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simscale.errors import InputError
from simscale.export.base import dns_label, image_ref, token
from simscale.export.checks import check_env
from simscale.export.env import dotenv, parse_dotenv
from simscale.export.fragment import fragment_toml
from simscale.export.plan import plan_from_spec
from simscale.export.targets import TARGETS, export_plan
from simscale.export.yamlio import load_yaml_documents
from tests.export.helpers import export, make_spec

BAD_NAMES = ["evil;x", "a{b", "two\nlines", "quote'd", 'dq"x', "$var", "a}b", "a#b", "tab\tx"]
# `$` in a pattern applied with re.match also matches before a final newline.
TRAILING_NEWLINE = ["svc\n", "svc\r\n", "svc\n\n"]
INJECTIONS = ["$(touch x)", "`touch x`", "a\ntouch x", "'; touch x; '", '"$(touch x)"',
              "a b", "x;touch x", "x&&touch x", "x|touch x", "${PATH}", "~/x", "a\\", "\r",
              "#c", "x'y"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_spec_name_that_would_inject_is_rejected_naming_the_field(name):
    spec = make_spec(name=name.replace("\n", "\r"))  # the spec itself refuses a newline
    with pytest.raises(InputError) as err:
        plan_from_spec(spec)
    assert err.value.problems[0].startswith("name: ")
    assert "--name" in err.value.problems[0]


@pytest.mark.parametrize("name", BAD_NAMES + TRAILING_NEWLINE + ["x y", "UPPER", "-lead",
                                                                  "a" * 64])
def test_a_bad_name_option_is_rejected(name):
    with pytest.raises(InputError, match=r"^--name: "):
        plan_from_spec(make_spec(), name=name)


@pytest.mark.parametrize("image", ["ai-chat:1;rm", "ai chat", "img\nx", "{x}", "Ai-Chat:1",
                                   "ai-chat:1\n"])
def test_a_bad_image_is_rejected(image):
    with pytest.raises(InputError, match=r"^--image: "):
        plan_from_spec(make_spec(), image=image)


def test_a_spec_name_is_made_dns_safe_when_it_only_differs_by_case_or_underscores():
    assert plan_from_spec(make_spec(name="Chat_Service.v2")).name == "chat-service-v2"


@pytest.mark.parametrize("value", ["a;b", "a b", "a{", "}", "a\nb", "#x", "'q'", "a\0b", "",
                                   "ok\n", "ok\r\n"])
def test_token_rejects_every_configuration_metacharacter(value):
    with pytest.raises(InputError, match=r"^some\.field: "):
        token(value, "some.field")


SAFE_NAME, SAFE_IMAGE = "ok-name", "registry.example.com/t/ai:1.2"
# a cache, so the redis and compose targets write their redis.conf too
CACHED = {"cache": {"shards": 2, "capacity_items": "none", "capacity_bytes": 2**20}}
INJECTIONS = BAD_NAMES + ["x\nEVIL=1", "x;\n}\nserver evil {", "x\n  - evil: 1"]


def safe_plan():
    return plan_from_spec(make_spec(**CACHED), name=SAFE_NAME, image=SAFE_IMAGE)


def substituted(obj, old: str, new: str):
    """`obj` (parsed YAML) with `old` replaced by `new` in every string, keys included."""
    if isinstance(obj, str):
        return obj.replace(old, new)
    if isinstance(obj, dict):
        return {substituted(k, old, new): substituted(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [substituted(v, old, new) for v in obj]
    return obj


def test_every_target_writes_the_checked_name_and_image():
    for target in TARGETS:
        exported = export_plan(safe_plan(), target)
        for fname, text in exported.files.items():
            if fname in exported.secrets:  # random passwords and tokens only
                continue
            assert SAFE_NAME in text, (target, fname)
            if fname in ("deployment.yaml", "docker-compose.yml"):
                assert SAFE_IMAGE in text, (target, fname)


@pytest.mark.parametrize("target", list(TARGETS))
@pytest.mark.parametrize("field", ["name", "image"])
def test_an_unsafe_value_is_refused_or_neutralised_in_every_written_file(target, field):
    """Each target on its own, behind plan_from_spec's checks: a plan whose name or image
    would inject is refused naming the field, or the value is harmless in every file it
    writes. A YAML file reads back as the safe export's documents with the value in place of
    the safe one (a quoted scalar, no new keys or documents); any other file must not
    contain it at all."""
    plan = safe_plan()
    safe_value = getattr(plan, field)
    safe = export_plan(plan, target)
    safe_files, exported_secrets = safe.files, safe.secrets
    for bad in INJECTIONS:
        try:
            files = export_plan(dataclasses.replace(plan, **{field: bad}), target).files
        except InputError as err:
            assert err.problems[0].startswith(f"{field}: {bad!r}"), err.problems
            continue
        assert files.keys() == safe_files.keys()
        for fname, text in files.items():
            if fname in exported_secrets:  # fresh random passwords and tokens only
                continue
            if fname.endswith((".yaml", ".yml")):
                want = substituted(load_yaml_documents(safe_files[fname], fname), safe_value,
                                   bad)
                assert load_yaml_documents(text, fname) == want, (target, fname, bad)
            else:
                assert bad not in text, (target, fname, bad)


def test_yaml_quotes_strings_that_would_read_back_as_something_else():
    from simscale.export.yamlio import dump_yaml, load_yaml_documents

    tricky = {"a": "true", "b": "080", "c": "1e3", "d": "null", "e": "- x", "f": "a: b",
              "g": "#x", "h": "line\nbreak", "i": "{x}", "j": "no"}
    assert load_yaml_documents(dump_yaml(tricky), "t") == [tricky]


def test_toml_fragment_quotes_keys_and_strings():
    import tomllib

    fragment = {"balancer": {"policy": 'x"\n]\n[evil]', "params": {"we ird": "a\\b"}}}
    assert tomllib.loads(fragment_toml(fragment, "header\n[not a table]")) == fragment


def test_kubernetes_names_come_only_from_the_checked_name():
    exported = export(make_spec(name="Chat_1"), "kubernetes")
    assert "name: chat-1" in exported.files["deployment.yaml"]


@pytest.mark.parametrize("value", TRAILING_NEWLINE)
def test_checked_names_and_images_refuse_a_trailing_newline(value):
    with pytest.raises(InputError):
        dns_label(value, "--name")
    with pytest.raises(InputError):
        image_ref(f"ai-chat:1{value[3:]}")


def _sourced(path, cwd) -> dict[str, str]:
    """The variables a shell sets when it sources `path` (with an empty environment)."""
    script = 'set -a; . "$1"; set +a; env -0'
    proc = subprocess.run(["env", "-i", "bash", "--norc", "--noprofile", "-c", script, "sh",
                           str(path)], cwd=cwd, capture_output=True, check=True, timeout=10)
    pairs = (item.split(b"=", 1) for item in proc.stdout.split(b"\0") if item)
    ignore = {b"PWD", b"SHLVL", b"_", b"OLDPWD"}
    return {k.decode(): v.decode() for k, v in pairs if k not in ignore}


needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")


@needs_bash
@settings(max_examples=40, deadline=None)
@given(st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=12))
@example("$(touch x)")
@example("`touch x`")
@example("a\ntouch x")
@example("'; touch x; '")
@example("x;touch x")
@example("~/x")
@example("a\\")
def test_a_dotenv_value_is_refused_or_read_back_literally_by_a_shell(tmp_path_factory, value):
    """Whatever the value, dotenv() either refuses it naming the variable, or writes a file a
    shell sources into exactly that value, running nothing, and parse_dotenv reads the same."""
    try:
        text = dotenv({"VALUE": value, "AFTER": "1"}, "header")
    except InputError as err:
        assert err.problems[0].startswith("VALUE: ")
        return
    folder = tmp_path_factory.mktemp("source")
    path = folder / "x.env"
    path.write_text(text)
    assert _sourced(path, folder) == {"VALUE": value, "AFTER": "1"}
    assert sorted(os.listdir(folder)) == ["x.env"]  # no command ran
    assert parse_dotenv(text) == ({"VALUE": value, "AFTER": "1"}, [])


@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_strings_are_quoted_or_refused(value):
    """Each holds a character a shell treats specially: single-quoted, or refused when it
    cannot be single-quoted (a quote, a backslash, a control character)."""
    if any(c in "'\\" or ord(c) < 32 or ord(c) == 127 for c in value):
        with pytest.raises(InputError, match=r"^K: "):
            dotenv({"K": value}, "h")
    else:
        assert dotenv({"K": value}, "h").splitlines()[1] == f"K='{value}'"


BAD_LINES = ["KEY=$(touch x)", "KEY=`touch x`", "touch x", "KEY=a b", "export KEY=1",
             'KEY="a"', "KEY='a'b", " KEY=1", "KEY =1", "1KEY=1", "KEY='a", "KEY=~/x",
             "(exported by simscale); start it with --port 3000", "KEY=1\r", "KEY=a;b"]


@pytest.mark.parametrize("line", BAD_LINES)
def test_the_env_check_names_every_line_that_is_not_key_equals_value(line):
    good = ("AUTO_SCALING_ENABLED=true\nMIN_INSTANCES=2\nMAX_INSTANCES=4\n"
            "INSTANCE_1_URL='http://localhost:3000'\nINSTANCE_ID=instance-1\n")
    assert check_env({"a.env": good}) == []
    problems = check_env({"a.env": good.replace("INSTANCE_ID", f"{line}\nINSTANCE_ID")})
    assert problems and problems[0].startswith("a.env:5: not KEY=value"), problems


def test_export_with_a_trailing_newline_in_the_name_exits_2_and_writes_nothing(tmp_path):
    from typer.testing import CliRunner

    from tests.export.test_command import AFFINITY, app

    for target in ("env", "nginx", "haproxy"):
        res = CliRunner().invoke(app, ["export", str(AFFINITY), "--target", target, "--out",
                                       str(tmp_path / target), "--name", "svc\n", "--validate"])
        assert res.exit_code == 2, res.output
        assert "error: --name: 'svc\\n' is not a DNS-1123 label" in res.output
        assert not (tmp_path / target).exists()


def test_validate_fails_an_env_file_a_shell_would_run_commands_from(tmp_path):
    from simscale.export.validate import FAILED, validate_files

    (tmp_path / "instance-1.env").write_text(
        "# Environment of svc\n (exported by simscale)\nAUTO_SCALING_ENABLED=true\n"
        "MIN_INSTANCES=1\nMAX_INSTANCES=1\nINSTANCE_1_URL=x\nINSTANCE_ID=i\n")
    [result] = validate_files("env", tmp_path, ["instance-1.env"])
    assert result.status == FAILED
    assert "instance-1.env:2: not KEY=value" in result.detail
