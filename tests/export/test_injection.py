"""Values that would inject configuration are rejected (InputError naming the field) or
quoted, never written raw."""

from __future__ import annotations

import pytest

from simscale.errors import InputError
from simscale.export.base import token
from simscale.export.importer import fragment_toml
from simscale.export.plan import plan_from_spec
from simscale.export.targets import TARGETS
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


def test_every_target_writes_only_safe_names():
    plan = plan_from_spec(make_spec(), name="ok-name", image="registry.example.com/t/ai:1.2")
    for target in TARGETS:
        if target == "redis":
            continue
        from simscale.export.targets import export_plan

        for text in export_plan(plan, target).files.values():
            assert "ok-name" in text or target == "env"


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
