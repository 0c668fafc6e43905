"""Run the app on uvicorn over a socket bound here, so that port 0 gives a known free port."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

from simscale.errors import InputError


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; InputError naming the address when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say they are TCP
    # (with proto 0 every response waited ~40 ms for a delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InputError(f"--host {host} --port {port}: cannot listen ({exc.strerror})") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class Server:
    """uvicorn over `app` on a bound socket; run() blocks, start()/stop() use a thread."""

    def __init__(self, app, sock: socket.socket, log_level: str = "warning") -> None:
        import uvicorn

        self.sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level=log_level, lifespan="on", access_log=False,
                                timeout_graceful_shutdown=5)
        self.uvicorn = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until stopped (Ctrl+C or SIGTERM: a graceful shutdown)."""
        self.uvicorn.run(sockets=[self.sock])

    def start(self, timeout_s: float = 30.0) -> None:
        """Serve on a thread; return once the server accepts requests."""
        self._thread = threading.Thread(target=self.run, name="uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.uvicorn.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)

    def stop(self, timeout_s: float = 30.0) -> None:
        self.uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
