"""Docs that cannot drift: every shell command in the README and docs/ runs here.

Each ```sh block's commands run in order, in a fresh folder holding the repository's
experiments/ and data/, as `python -m simscale ...`, with shorter horizons where a command
would take minutes (SHORTER). What is not run says why (SKIPPED): the set-up commands are
the ones .ci/run itself runs, which this test checks instead.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Options appended to make a command short (a later --set or -r wins over an earlier one).
SHORTER = {
    "run": ["--set", "duration_s=20"],
    "sweep": ["-r", "2", "--set", "duration_s=20"],
    "plan": ["-r", "2", "--set", "duration_s=20"],
    "validate": ["--replications", "2"],
    "bench": ["--requests", "2000", "--repeat", "1"],
}
SKIPPED = {
    "--address": "needs a running Dask scheduler at that address",
}
SETUP = re.compile(r"^python3 -m venv ")
COMMAND_TIMEOUT_S = 300


def sh_commands(path: Path) -> list[str]:
    """The commands of a document's ```sh blocks, comments removed, in order."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", path.read_text(), re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(shlex.join(words))
    return commands


def documents_with_commands() -> list[Path]:
    return [p for p in DOCS if sh_commands(p)]


def test_the_docs_have_commands_to_check():
    names = [p.name for p in documents_with_commands()]
    assert "README.md" in names and "tui.md" in names


def test_the_readme_set_up_commands_are_those_ci_runs():
    setup = [c for c in sh_commands(ROOT / "README.md") if SETUP.match(c)]
    assert len(setup) == 2, setup
    ci = (ROOT / ".ci" / "run").read_text()
    test_install = next(c for c in setup if "pytest" in c)
    extras = re.search(r"pip install -e (\S+)", test_install).group(1)
    assert re.search(r'pip"? install -q -e ' + re.escape(extras), ci)
    assert '"$venv/bin/pytest"' in ci
    assert "ruff" in ci


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_simscale(words: list[str], cwd: Path) -> None:
    """`python -m simscale WORDS` in cwd, shortened; fails the test with its output."""
    words = [*words, *SHORTER.get(words[0], [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    proc = subprocess.run([sys.executable, "-m", "simscale", *words], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    assert proc.returncode == 0, f"simscale {shlex.join(words)}\n{proc.stdout}\n{proc.stderr}"


def run_web(words: list[str], cwd: Path) -> None:
    """`simscale tui --web`: start it on a free port, fetch its page, stop it."""
    words = list(words)
    port = free_port()
    if "--port" in words:
        words[words.index("--port") + 1] = str(port)
    else:
        words += ["--port", str(port)]
    proc = subprocess.Popen([sys.executable, "-m", "simscale", *words], cwd=cwd,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "no page"
                time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def run_tui(words: list[str], cwd: Path, monkeypatch) -> str:
    """`simscale tui ...` through the real command, its app run headless until its first
    screen is up; returns that screen's class name."""
    from simscale.cli import app
    from simscale.tui.app import SimscaleApp

    shown: list[str] = []

    def headless(self, *args, **kwargs):
        async def first_screen():
            async with self.run_test(size=(100, 30)) as pilot:
                await pilot.pause(0.5)
                shown.append(type(self.screen).__name__)

        asyncio.run(first_screen())

    monkeypatch.setattr(SimscaleApp, "run", headless)
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(app, words)
    assert result.exit_code == 0, f"simscale {shlex.join(words)}\n{result.output}"
    return shown[0]


@pytest.mark.parametrize("doc", documents_with_commands(), ids=lambda p: p.name)
def test_every_shell_command_of_the_docs_runs(doc, tmp_path, monkeypatch):
    for name in ("experiments", "data"):
        (tmp_path / name).symlink_to(ROOT / name)
    ran = 0
    for command in sh_commands(doc):
        if SETUP.match(command):
            continue  # checked against .ci/run above
        skip = next((why for flag, why in SKIPPED.items() if flag in command), None)
        if skip is not None:
            continue
        words = shlex.split(command)
        assert words[0] == "simscale", f"{doc.name}: not a simscale command: {command}"
        words = words[1:]
        if words[0] == "tui" and "--web" in words:
            run_web(words, tmp_path)
        elif words[0] == "tui":
            screen = run_tui(words, tmp_path, monkeypatch)
            runs = words.count("--run")
            expected = {0: "PickerScreen", 1: "ReplayScreen"}.get(runs, "CompareScreen")
            assert screen == expected, command
        else:
            run_simscale(words, tmp_path)
        ran += 1
    assert ran > 0
