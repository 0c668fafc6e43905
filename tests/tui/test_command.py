"""`simscale tui`: options, bad input exits 2 before any screen opens, lazy Textual import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from simscale.commands.tui import register
from tests.tui.conftest import write_run


@pytest.fixture
def cli():
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps `tui` a named subcommand
        pass

    return app


@pytest.fixture
def launched(monkeypatch):
    """Capture the app the command would run instead of running it."""
    from simscale.tui.app import SimscaleApp

    seen = []
    monkeypatch.setattr(SimscaleApp, "run", lambda self, *a, **k: seen.append(self))
    return seen


def test_help_lists_the_options(cli):
    result = CliRunner().invoke(cli, ["tui", "--help"])
    assert result.exit_code == 0
    for option in ("--run", "--dashboard", "--speed", "--experiments", "--runs"):
        assert option in result.output


def test_opens_the_picker_with_a_spec(cli, launched, tmp_path):
    (tmp_path / "x.toml").write_text("")  # its problems are the picker's to show
    result = CliRunner().invoke(cli, ["tui", str(tmp_path / "x.toml"), "--speed", "max",
                                      "--runs", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (app,) = launched
    assert app.spec_path == tmp_path / "x.toml" and app.speed is None
    assert app.runs_dir == tmp_path / "out"
    assert [w.kind for w in app.dashboard.widgets][:1] == ["chart"]


def test_run_options_load_the_runs(cli, launched, tmp_path):
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b")
    result = CliRunner().invoke(cli, ["tui", "--run", str(a), "--run", str(b)])
    assert result.exit_code == 0, result.output
    assert [r.path for r in launched[0].initial_runs] == [a, b]


@pytest.mark.parametrize(("args", "message"), [
    (["--run", "{tmp}/missing"], "missing: no such directory"),
    (["--dashboard", "{tmp}/nope.toml"], "nope.toml: no such file"),
    (["--speed", "fast"], "--speed fast: expected a positive number or 'max'"),
])
def test_bad_input_exits_2(cli, launched, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(cli, ["tui", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert launched == []


def test_registering_does_not_import_textual():
    code = ("import sys, typer; from simscale.commands.tui import register; "
            "register(typer.Typer()); print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"
