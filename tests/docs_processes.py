"""Processes for the docs test: a background simscale command, one bash for a section's
shell commands, and HTTP checks against what they start."""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHELL_TIMEOUT_S = 100
START_TIMEOUT_S = 30
# curl as the docs call it, with the HTTP status written after the body
CURL_STATUS = "curl() { command curl --write-out '\\n__http_status %{http_code}\\n' \"$@\"; }"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment() -> dict[str, str]:
    """The commands' environment: this interpreter's scripts first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120", "PATH": path}


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
