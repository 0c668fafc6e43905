"""Docs that cannot drift: every shell command in the README and docs/ runs here.

A document is checked section by section (its `## ` headings): each section's commands run
in order in a fresh folder holding a copy of the repository's experiments/ and links to its
data/, tests/, pyproject.toml and the running virtual environment (as .venv). The commands
are the lines of its ```sh blocks and the `example` column of its route tables.

- `simscale ...` runs as `python -m simscale ...`, with shorter horizons where a command
  would take minutes (SHORTER); `simscale tui` headless until its first screen is up;
  `simscale tui --web` and `simscale serve` in the background on a free port, waited on
  until they answer and stopped (by process group) when the section ends. While a server
  runs, the documented address 127.0.0.1:8000 in later commands is its real one.
- Every other command runs in one bash per section (so a variable one line sets reaches the
  next), stdin closed, within SHELL_TIMEOUT_S, and must exit 0; a `curl` must get a 2xx.
- A route table's `ID` is the id of the run its POST example started; a DELETE example gets
  a long run of its own to cancel (a finished run cannot be cancelled).
- A `kind="recorded"` example replays a fleet folder that the section starts with: a week of
  metrics rows written by simscale's own fleet store (simscale.serve.store), as an earlier
  `simscale serve` would have left it.

What is not run says why (SKIPPED); the set-up commands are the ones .ci/run itself runs,
which this test checks instead.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.docs_processes import (
    Background,
    Shell,
    environment,
    http_statuses,
    run_web,
    start_serve,
)

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
# The same for shell commands: (pattern, replacement) on the command's text.
SHORTER_SHELL = [(re.compile(r"\bSIMSCALE_FUZZ_EXAMPLES=\d+"), "SIMSCALE_FUZZ_EXAMPLES=3")]
SKIPPED = {
    "--address": "needs a running Dask scheduler at that address",
    "experiments/phase3/refresh.py": "rewrites the repository's README and stored results "
                                     "from a 47-minute sweep; tests/sweep/test_phase3.py "
                                     "checks what it writes",
}
SETUP = re.compile(r"^python3 -m venv ")
DOCUMENTED_ADDRESS = "127.0.0.1:8000"
COMMAND_TIMEOUT_S = 100


@dataclass(frozen=True)
class Command:
    """One command of a document: its text as a shell reads it, and where it is."""

    text: str
    line: int
    table: bool = False  # from a route table's example column

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    @property
    def exit_code(self) -> int:
        """The exit code its comment documents (`# … exit 1`), else 0."""
        found = re.search(r"#.*\bexit (\d+)\b", self.text)
        return int(found.group(1)) if found else 0


def sections(path: Path) -> list[tuple[str, list[Command]]]:
    """(heading, commands) of each `## ` section of a document that has commands."""
    out: list[tuple[str, list[Command]]] = [(path.name, [])]
    block: list[str] | None = None
    example_column = False
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if block is not None:
            if line.startswith("```"):
                out[-1][1].extend(_block_commands(block, number - len(block)))
                block = None
            else:
                block.append(line)
        elif line.startswith("```sh"):
            block = []
        elif line.startswith("## "):
            out.append((line[3:].strip(), []))
        elif line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if cells and cells[-1] == "example":
                example_column = True
            elif example_column and re.fullmatch(r"`.+`", cells[-1]):
                text = cells[-1][1:-1].replace("\\|", "|")
                out[-1][1].append(Command(text, number, table=True))
        else:
            example_column = False
    return [(heading, commands) for heading, commands in out if commands]


def _block_commands(block: list[str], first_line: int) -> list[Command]:
    commands, pending, start = [], "", first_line
    for offset, line in enumerate(block):
        if not pending:
            start = first_line + offset
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if shlex.split(text, comments=True):
            commands.append(Command(text, start))
    return commands


def sh_commands(path: Path) -> list[str]:
    """The commands of a document's ```sh blocks and route tables, in order."""
    return [c.text for _, commands in sections(path) for c in commands]


def documents_with_commands() -> list[Path]:
    return [p for p in DOCS if sections(p)]


def test_the_docs_have_commands_to_check():
    names = [p.name for p in documents_with_commands()]
    assert "README.md" in names and "tui.md" in names
    readme = dict(sections(ROOT / "README.md"))
    serve = readme["The management API: simscale serve"]
    assert sum(c.table for c in serve) >= 10  # the route table's curl examples
    assert any('kind="recorded"' in c.text for c in serve)
    assert sum(c.words[:2] == ["simscale", "export"] for c in readme["Export"]) >= 8


def test_the_readme_set_up_commands_are_those_ci_runs():
    setup = [c for c in sh_commands(ROOT / "README.md") if SETUP.match(c)]
    assert len(setup) == 2, setup
    ci = (ROOT / ".ci" / "run").read_text()
    test_install = next(c for c in setup if "pytest" in c)
    extras = re.search(r"pip install -e (\S+)", test_install).group(1)
    assert re.search(r'pip"? install -q -e ' + re.escape(extras), ci)
    assert '"$venv/bin/pytest"' in ci
    assert "ruff" in ci


def run_simscale(words: list[str], cwd: Path, exit_code: int = 0) -> None:
    """`python -m simscale WORDS` in cwd, shortened; fails the test with its output unless
    it exits with exit_code."""
    words = [*words, *SHORTER.get(words[0], [])]
    proc = subprocess.run([sys.executable, "-m", "simscale", *words], cwd=cwd,
                          env=environment(), capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_S)
    assert proc.returncode == exit_code, \
        f"simscale {shlex.join(words)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr


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


def record_fleet_week(folder: Path, fleet_spec: Path, start_s: float, end_s: float) -> int:
    """Fill a fleet folder as `simscale serve` leaves it: one metrics row every scrape
    interval from start_s to end_s, a daily cycle of arrivals between 2 and 16 req/s,
    written by the fleet's own store. Returns the number of rows."""
    from simscale.serve.fleetspec import load_fleet
    from simscale.serve.store import AppendStore
    from simscale.serve.tables import FLEET_SCHEMAS, metrics_record

    spec = load_fleet(fleet_spec)
    interval_s = spec.autoscaling.scrape_interval_s
    store = AppendStore(folder, FLEET_SCHEMAS,
                        metadata={"simscale.fleet": spec.model_dump_json()})
    rows = []
    for k in range(int((end_s - start_s) // interval_s)):
        t_s = start_s + k * interval_s
        day_frac = (t_s % 86400) / 86400
        rate_rps = 9.0 - 7.0 * math.cos(2 * math.pi * (day_frac - 0.1))
        rows.append(metrics_record({
            "t_s": t_s, "interval_s": interval_s, "instances": 2, "instances_ready": 2,
            "desired_replicas": 2, "cpu_util_frac": rate_rps / 30, "in_flight": rate_rps / 3,
            "throughput_rps": rate_rps, "arrivals_rps": rate_rps, "latency_s": 0.3}))
    store.append("metrics", rows, now_s=end_s)
    store.close()
    return len(rows)


def recorded_fleets(commands: list[Command], cwd: Path) -> list[tuple[Path, Path, float, float]]:
    """(fleet folder, its spec, start_s, end_s) of every `kind="recorded"` workload a
    command sets, the folder relative to the spec as the spec reads it."""
    out = []
    for command in commands:
        for override in re.findall(r"\{[^{}]*kind\s*=\s*\"recorded\"[^{}]*\}", command.text):
            fields = dict(re.findall(r"(\w+)\s*=\s*\"?([^\",}]+)\"?", override))
            spec = cwd / next(w for w in command.words if w.endswith(".toml"))
            folder = Path(os.path.normpath(spec.parent / fields["path"]))
            out.append((folder, spec, float(fields["start_s"]), float(fields["end_s"])))
    return out


def post_long_run(where: str, token_file: Path | None) -> str:
    """Start a load test that runs until it is cancelled; its id."""
    body = {"spec": (ROOT / "experiments" / "quickstart.toml").read_text(),
            "set": ["duration_s=86400"]}
    headers = {"content-type": "application/json"}
    if token_file is not None:
        headers["Authorization"] = f"Bearer {token_file.read_text().strip()}"
    request = urllib.request.Request(f"http://{where}/api/monitoring/load-test",
                                     data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
        return json.loads(response.read())["id"]


def prepare_folder(cwd: Path) -> None:
    """A copy of experiments/ (a spec's relative paths stay inside the folder) and links to
    data/, tests/, pyproject.toml and this interpreter's environment as .venv."""
    shutil.copytree(ROOT / "experiments", cwd / "experiments", symlinks=True)
    for name in ("data", "tests", "pyproject.toml"):
        (cwd / name).symlink_to(ROOT / name)
    (cwd / ".venv").symlink_to(Path(sys.prefix))


def skipped(command: Command) -> bool:
    return bool(SETUP.match(command.text)) or any(flag in command.text for flag in SKIPPED)


class SectionRunner:
    """Runs one section's commands in order; what it starts is stopped by close()."""

    def __init__(self, cwd: Path, monkeypatch) -> None:
        self.cwd, self.monkeypatch = cwd, monkeypatch
        self.shell: Shell | None = None
        self.servers: list[Background] = []
        self.where: str | None = None  # host:port of the running `simscale serve`
        self.token_file: Path | None = None
        self.run_id: str | None = None  # the run a route table's POST example started
        self.ran = 0

    def run(self, command: Command) -> None:
        if skipped(command):
            return
        words = command.words
        if words[0] == "simscale" and not command.table:
            self.simscale(words[1:], command)
        else:
            self.shell_command(command)
        self.ran += 1

    def simscale(self, words: list[str], command: Command) -> None:
        if words[0] == "tui" and "--web" in words:
            run_web(words, self.cwd)
        elif words[0] == "tui":
            screen = run_tui(words, self.cwd, self.monkeypatch)
            runs = words.count("--run")
            expected = {0: "PickerScreen", 1: "ReplayScreen"}.get(runs, "CompareScreen")
            assert screen == expected, command.text
        elif words[0] == "serve":
            server, self.where = start_serve(words, self.cwd)
            self.servers.append(server)
            if "--token-file" in words:
                self.token_file = self.cwd / words[words.index("--token-file") + 1]
        else:
            run_simscale(words, self.cwd, command.exit_code)

    def shell_command(self, command: Command) -> None:
        text = command.text
        for pattern, replacement in SHORTER_SHELL:
            text = pattern.sub(replacement, text)
        if self.where is not None:
            text = text.replace(DOCUMENTED_ADDRESS, self.where)
        if command.table and re.search(r"\bID\b", text):
            text = re.sub(r"\bID\b", self.id_for(text, command), text)
        if self.shell is None:
            self.shell = Shell(self.cwd)
        status, output = self.shell.run(text)
        where = f"line {command.line}: {text}\n{output}"
        assert status == command.exit_code, f"exit {status}: {where}"
        statuses = http_statuses(output)
        assert all(200 <= s < 300 for s in statuses), f"HTTP {statuses}: {where}"
        if command.table:
            assert statuses, f"no HTTP request made: {where}"
            if re.search(r"-X POST \S*/load-test", text):
                body = output[:output.rindex("__http_status")]
                self.run_id = json.loads(body)["id"]

    def id_for(self, text: str, command: Command) -> str:
        """The run an example names as ID: a DELETE gets a run of its own that is still
        running (or queued); the others the run the POST example started."""
        assert self.where is not None, f"line {command.line}: no server runs for: {text}"
        if "-X DELETE" in text:
            return post_long_run(self.where, self.token_file)
        assert self.run_id is not None, f"line {command.line}: no load test was POSTed yet"
        return self.run_id

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        if self.shell is not None:
            self.shell.close()


def checked_sections() -> list:
    return [pytest.param(doc, heading, id=f"{doc.name}#{heading}")
            for doc in DOCS for heading, commands in sections(doc)
            if not all(skipped(c) for c in commands)]


@pytest.mark.parametrize("doc, heading", checked_sections())
def test_every_command_of_the_docs_runs(doc, heading, tmp_path, monkeypatch):
    commands = dict(sections(doc))[heading]
    prepare_folder(tmp_path)
    for folder, spec, start_s, end_s in recorded_fleets(commands, tmp_path):
        assert record_fleet_week(folder, spec, start_s, end_s) > 0
    runner = SectionRunner(tmp_path, monkeypatch)
    try:
        for command in commands:
            runner.run(command)
    finally:
        runner.close()
    assert runner.ran > 0
