"""`simscale tui --web`: the same app served in a browser page by textual-serve, on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return response.read().decode()


async def first_screen(url: str) -> str:
    """Connect as the page does and collect what the app writes for a few seconds."""
    import aiohttp

    seen = b""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and b"Experiments" not in seen:
                try:
                    message = await ws.receive(timeout=2)
                except TimeoutError:
                    continue
                if message.type == aiohttp.WSMsgType.BINARY:
                    seen += message.data
                elif message.type == aiohttp.WSMsgType.TEXT:
                    seen += message.data.encode()
                elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
    return seen.decode(errors="replace")


def test_the_web_page_is_served_on_loopback_and_runs_the_app(tmp_path):
    port = free_port()
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "one.toml").write_text((ROOT / "experiments" / "quickstart.toml").read_text())
    proc = subprocess.Popen(
        [sys.executable, "-m", "simscale", "tui", "--web", "--port", str(port),
         "--experiments", str(experiments), "--runs", str(tmp_path / "runs")],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        page, deadline = None, time.monotonic() + START_TIMEOUT_S
        while page is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                page = fetch(f"http://127.0.0.1:{port}/")
            except OSError:
                time.sleep(0.2)
        assert page is not None, proc.stdout.read().decode() if proc.poll() is not None else ""
        assert "<title>simscale</title>" in page or "simscale" in page
        assert f"ws://127.0.0.1:{port}/ws" in page  # the app's socket, on loopback
        screen = asyncio.run(first_screen(f"ws://127.0.0.1:{port}/ws?width=100&height=30"))
        assert "Experiments" in screen  # the picker of the real app, drawn for the page
        with socket.socket() as other:  # nothing listens beyond loopback
            other.settimeout(1)
            addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None,
                                                                   socket.AF_INET)}
            outside = [a for a in addresses if not a.startswith("127.")]
            if outside:
                assert other.connect_ex((outside[0], port)) != 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
