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
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
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
SHELL_TIMEOUT_S = 100
START_TIMEOUT_S = 30
# curl as the docs call it, with the HTTP status written after the body
CURL_STATUS = "curl() { command curl --write-out '\\n__http_status %{http_code}\\n' \"$@\"; }"


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment() -> dict[str, str]:
    """The commands' environment: this interpreter's scripts first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120", "PATH": path}


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


class Background:
    """A simscale command running in its own process group, its output in a log file."""

    def __init__(self, words: list[str], cwd: Path, name: str) -> None:
        self.words = words
        self.log = cwd / f".{name}.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "simscale", *words], cwd=cwd,
                                         env=environment(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until(self, ready, what: str, timeout_s: float = START_TIMEOUT_S):
        """Poll ready() until it returns a value; fails when the process ends or time is up."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = ready()
            if value is not None:
                return value
            assert self.proc.poll() is None, f"simscale {shlex.join(self.words)} ended " \
                                             f"before {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {what} within {timeout_s} s:\n" \
                                                f"{self.output()}"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def run_web(words: list[str], cwd: Path) -> None:
    """`simscale tui --web`: start it on a free port, fetch its page, stop it."""
    words = list(words)
    port = free_port()
    if "--port" in words:
        words[words.index("--port") + 1] = str(port)
    else:
        words += ["--port", str(port)]
    web = Background(words, cwd, "web")
    try:
        web.wait_until(lambda: True if get(f"http://127.0.0.1:{port}/")[0] == 200 else None,
                       "page")
    finally:
        web.stop()


def start_serve(words: list[str], cwd: Path) -> tuple[Background, str]:
    """`simscale serve` on a port the system picks (--port 0), read back from its first
    line; returns once /api/health answers 200, with the server's host:port."""
    words = [w for i, w in enumerate(words)
             if w != "--port" and (i == 0 or words[i - 1] != "--port")] + ["--port", "0"]
    server = Background(words, cwd, "serve")
    listening = re.compile(r"listening on http://(127\.0\.0\.1:\d+)")

    def address():
        found = listening.search(server.output())
        return found.group(1) if found else None

    where = server.wait_until(address, "listening line")
    server.wait_until(lambda: True if get(f"http://{where}/api/health")[0] == 200 else None,
                      "healthy answer")
    return server, where


class Shell:
    """One bash for a section's shell commands, so that a variable one line sets reaches
    the next, as when they are typed one after the other."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=cwd,
                                     env=environment(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        status, output = self.run(CURL_STATUS)
        assert status == 0, output

    def run(self, command: str, timeout_s: float = SHELL_TIMEOUT_S) -> tuple[int, str]:
        """(exit status, output) of one command, stdin closed; fails after timeout_s."""
        marker = f"__done_{uuid.uuid4().hex}"
        self.proc.stdin.write(f"{{\n{command}\n}} </dev/null 2>&1\n"
                              f"printf '\\n{marker} %d\\n' $?\n".encode())
        self.proc.stdin.flush()
        done = re.compile(rb"\n" + marker.encode() + rb" (\d+)\n")
        out, fd = b"", self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while (found := done.search(out)) is None:
            left = deadline - time.monotonic()
            assert left > 0, f"no end within {timeout_s} s: {command}\n{out.decode()}"
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                assert chunk, f"bash ended during: {command}\n{out.decode()}"
                out += chunk
        return int(found.group(1)), out[:found.start()].decode(errors="replace")

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc.stdin.close()
        self.proc.stdout.close()


def http_statuses(output: str) -> list[int]:
    return [int(s) for s in re.findall(r"^__http_status (\d+)$", output, re.M)]


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
