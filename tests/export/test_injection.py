"""Values that would inject configuration are rejected (InputError naming the field) or
quoted, never written raw."""

from __future__ import annotations

import dataclasses

import pytest

from simscale.errors import InputError
from simscale.export.base import token
from simscale.export.importer import fragment_toml
from simscale.export.plan import plan_from_spec
from simscale.export.targets import TARGETS, export_plan
from simscale.export.yamlio import load_yaml_documents
from tests.export.helpers import export, make_spec

BAD_NAMES = ["evil;x", "a{b", "two\nlines", "quote'd", 'dq"x', "$var", "a}b", "a#b", "tab\tx"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_spec_name_that_would_inject_is_rejected_naming_the_field(name):
    spec = make_spec(name=name.replace("\n", "\r"))  # the spec itself refuses a newline
    with pytest.raises(InputError) as err:
        plan_from_spec(spec)
    assert err.value.problems[0].startswith("name: ")
    assert "--name" in err.value.problems[0]


@pytest.mark.parametrize("name", BAD_NAMES + ["x y", "UPPER", "-lead", "a" * 64])
def test_a_bad_name_option_is_rejected(name):
    with pytest.raises(InputError, match=r"^--name: "):
        plan_from_spec(make_spec(), name=name)


@pytest.mark.parametrize("image", ["ai-chat:1;rm", "ai chat", "img\nx", "{x}", "Ai-Chat:1"])
def test_a_bad_image_is_rejected(image):
    with pytest.raises(InputError, match=r"^--image: "):
        plan_from_spec(make_spec(), image=image)


def test_a_spec_name_is_made_dns_safe_when_it_only_differs_by_case_or_underscores():
    assert plan_from_spec(make_spec(name="Chat_Service.v2")).name == "chat-service-v2"


@pytest.mark.parametrize("value", ["a;b", "a b", "a{", "}", "a\nb", "#x", "'q'", "a\0b", ""])
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
        for fname, text in export_plan(safe_plan(), target).files.items():
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
    safe_files = export_plan(plan, target).files
    for bad in INJECTIONS:
        try:
            files = export_plan(dataclasses.replace(plan, **{field: bad}), target).files
        except InputError as err:
            assert err.problems[0].startswith(f"{field}: {bad!r}"), err.problems
            continue
        assert files.keys() == safe_files.keys()
        for fname, text in files.items():
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
