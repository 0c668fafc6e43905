"""Is the exported cache reachable the way the app containers reach it? A check in network
namespaces.

Containers reach Redis over a network, from an address that is not loopback; Redis's
protected mode refuses exactly such clients when the server has no password, so a check that
connects over 127.0.0.1 (or a unix socket) cannot see that defect. This check rebuilds the
path: in a network namespace made for it (`unshare --net`), a veth pair joins a "cache"
side (10.231.0.1) to a "client" side (10.231.0.2, in a second namespace); redis-server is
started there by the compose service's own command, environment and redis.conf; from the
client side, with the first app service's REDIS_NODES port and its password (from its
env_file), a client must AUTH, PING, SET and GET, and the server must see it come from
10.231.0.2; the same client without the password, or with a wrong one, must be refused; the
service's health check command must pass. The addresses exist only inside the namespaces,
which vanish with their processes.

Creating namespaces needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) and util-linux's unshare
and nsenter, and iproute2's ip: where that is not possible the result says so (skipped,
with the reason), never "ok".
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER_ADDRESS = "10.231.0.1"
CLIENT_ADDRESS = "10.231.0.2"
PREFIX = 30
TIMEOUT_S = 60.0
TOOLS = ("unshare", "nsenter", "ip", "redis-server", "redis-cli")
TOOL = "redis-server in a network namespace"


# ---------------------------------------------------------------- outside: plan and verdict


def compose_job(out_dir: Path, tmp: Path) -> dict:
    """What to run, read from the exported docker-compose.yml, redis.conf and env files:
    the first Redis service's command (redis.conf mapped to a local file that includes the
    exported one), its environment and health check; the first app's cache address and
    password."""
    from simscale.export.compose import REDIS_CONF_PATH
    from simscale.export.env import parse_dotenv
    from simscale.export.yamlio import load_yaml_documents

    doc = load_yaml_documents((out_dir / "docker-compose.yml").read_text(), "compose")[0]
    services = doc["services"]
    redis_name = sorted(n for n in services if n.startswith("redis"))[0]
    app_name = next(n for n in services if n.startswith("app-"))

    def environment(service: dict) -> dict[str, str]:
        env: dict[str, str] = {}
        for name in service.get("env_file", []):
            values, problems = parse_dotenv((out_dir / name).read_text(), name)
            if problems:
                raise ValueError("; ".join(problems))
            env.update(values)
        env.update(service.get("environment") or {})
        return env

    redis_service, app = services[redis_name], services[app_name]
    wrapper = tmp / "redis.conf"
    lines = [f"dir {tmp}", 'logfile ""', "daemonize no"]
    if (out_dir / "redis.conf").is_file():
        lines.insert(0, f"include {(out_dir / 'redis.conf').resolve()}")
    wrapper.write_text("\n".join(lines) + "\n")
    script = redis_service["command"][-1].replace("$$", "$")
    script = script.replace(REDIS_CONF_PATH, str(wrapper)).replace("'' --appendonly",
                                                                   f"'' --dir {tmp} "
                                                                   "--appendonly")
    app_env = environment(app)
    host, _, port = app_env["REDIS_NODES"].split(",")[0].rpartition(":")
    return {
        "service": redis_name, "app": app_name, "host": host, "port": int(port),
        "server_script": script, "server_env": environment(redis_service),
        "health": redis_service["healthcheck"]["test"][-1].replace("$$", "$"),
        "password": app_env.get("REDIS_PASSWORD", ""),
        "cluster": app_env.get("REDIS_CLUSTER") == "true",
    }


def compose_reach(out_dir: Path):
    """The check on an exported compose folder: a ToolResult (ok, failed or skipped)."""
    from simscale.export.validate import FAILED, OK, SKIPPED, ToolResult

    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return ToolResult(TOOL, "docker-compose.yml", SKIPPED,
                          f"{', '.join(missing)} not installed: the cache's reachability from "
                          "another container was NOT checked")
    with tempfile.TemporaryDirectory(prefix="simscale-reach-") as tmp:
        job = compose_job(Path(out_dir), Path(tmp))
        (Path(tmp) / "job.json").write_text(json.dumps(job))
        try:
            proc = subprocess.run(
                ["unshare", "--net", "--", sys.executable, "-m", "simscale.export.reach",
                 str(Path(tmp) / "job.json")],
                capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            return ToolResult(TOOL, "docker-compose.yml", FAILED,
                              f"no answer within {TIMEOUT_S:g} s")
    if proc.returncode == 3 or "unshare failed" in proc.stderr:
        return ToolResult(TOOL, "docker-compose.yml", SKIPPED,
                          "cannot make a network namespace here "
                          f"({proc.stderr.strip()[-300:]}): the cache's reachability from "
                          "another container was NOT checked")
    try:
        report = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return ToolResult(TOOL, "docker-compose.yml", FAILED,
                          f"rc {proc.returncode}: {(proc.stderr + proc.stdout).strip()[-2000:]}")
    problems = verdict(report)
    detail = (f"{job['app']} → {job['service']} ({job['host']}:{job['port']} as "
              f"{SERVER_ADDRESS}) from {CLIENT_ADDRESS}")
    if problems:
        return ToolResult(TOOL, "docker-compose.yml", FAILED, f"{detail}: {'; '.join(problems)}")
    return ToolResult(TOOL, "docker-compose.yml", OK,
                      f"{detail}: AUTH + PING/SET/GET ok; refused without the password "
                      f"({report['anonymous']}) and with a wrong one; health check passes")


def verdict(report: dict) -> list[str]:
    """What is wrong in the inner run's report (empty: the cache works as deployed)."""
    problems = []
    if report.get("error"):
        return [report["error"]]
    if report.get("authenticated") != "ok":
        problems.append(f"the app's client was not served: {report.get('authenticated')}")
    elif CLIENT_ADDRESS not in report.get("client_info", ""):
        problems.append(f"the server did not see the client at {CLIENT_ADDRESS}: "
                        f"{report.get('client_info')}")
    if not str(report.get("anonymous", "")).startswith("NOAUTH"):
        problems.append("a client without the password was not refused "
                        f"({report.get('anonymous')})")
    if not str(report.get("wrong_password", "")).startswith("WRONGPASS"):
        problems.append("a wrong password was not refused "
                        f"({report.get('wrong_password')})")
    if report.get("health_rc") != 0:
        problems.append(f"the health check failed (rc {report.get('health_rc')})")
    return problems


# ---------------------------------------------------------------- inside the namespaces


def _ip(*args: str, netns_pid: int | None = None) -> None:
    prefix = ["nsenter", f"--net=/proc/{netns_pid}/ns/net", "--"] if netns_pid else []
    subprocess.run([*prefix, "ip", *args], check=True, capture_output=True, timeout=10)


def _network(client_pid: int) -> None:
    """lo up on both sides; a veth pair from this namespace into the client's."""
    _ip("link", "set", "lo", "up")
    _ip("link", "add", "s0", "type", "veth", "peer", "name", "c0")
    _ip("link", "set", "c0", "netns", str(client_pid))
    _ip("addr", "add", f"{SERVER_ADDRESS}/{PREFIX}", "dev", "s0")
    _ip("link", "set", "s0", "up")
    _ip("link", "set", "lo", "up", netns_pid=client_pid)
    _ip("addr", "add", f"{CLIENT_ADDRESS}/{PREFIX}", "dev", "c0", netns_pid=client_pid)
    _ip("link", "set", "c0", "up", netns_pid=client_pid)


def _wait_listening(port: int, server: subprocess.Popen, deadline_s: float) -> None:
    while time.monotonic() < deadline_s:
        if server.poll() is not None:
            raise RuntimeError(f"redis-server exited (rc {server.returncode}): "
                               f"{server.communicate()[0][-1500:]}")
        try:
            with socket.create_connection((SERVER_ADDRESS, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on {SERVER_ADDRESS}:{port}")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_job(job: dict) -> dict:
    """In the cache-side namespace: network, server, the client's probes, the health check."""
    client_side = server = None
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    try:
        client_side = subprocess.Popen(["unshare", "--net", "--", "sleep", str(TIMEOUT_S)])
        time.sleep(0.05)
        _network(client_side.pid)
        server = subprocess.Popen(["sh", "-c", job["server_script"]],
                                  env={**env, **job["server_env"]}, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _wait_listening(job["port"], server, time.monotonic() + 15.0)
        probe = subprocess.run(
            ["nsenter", f"--net=/proc/{client_side.pid}/ns/net", "--", sys.executable, "-m",
             "simscale.export.reach", "--client", json.dumps(job)],
            capture_output=True, text=True, timeout=30, check=False)
        report = json.loads(probe.stdout.strip().splitlines()[-1]) if probe.stdout.strip() \
            else {"error": f"client probe failed: {probe.stderr.strip()[-1000:]}"}
        health = subprocess.run(["sh", "-c", job["health"]], env={**env, **job["server_env"]},
                                capture_output=True, text=True, timeout=15, check=False)
        report["health_rc"] = health.returncode
        return report
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        detail = detail.decode(errors="replace") if isinstance(detail, bytes) else detail
        return {"error": f"{exc} {detail}".strip()}
    finally:
        _stop(server)
        _stop(client_side)


def _command(conn: socket.socket, reader, *words: str) -> str:
    from simscale.export.validate import _read_reply, _resp_command

    try:
        conn.sendall(_resp_command(*words))
    except OSError:
        pass  # the server may have answered and closed already (protected mode): read it
    try:
        return str(_read_reply(reader))
    except RuntimeError as exc:  # an error reply
        return str(exc)
    except OSError as exc:
        return f"connection closed ({exc})"


def probe(job: dict) -> dict:
    """On the client side: the app's connection (with its password), then one without a
    password and one with a wrong password."""
    address = (SERVER_ADDRESS, job["port"])
    report = {}
    with socket.create_connection(address, timeout=5.0) as conn:
        reader = conn.makefile("rb")
        steps = [_command(conn, reader, "AUTH", job["password"]),
                 _command(conn, reader, "PING")]
        if job.get("cluster"):  # a node holds no slots before the cluster is created
            steps.append(_command(conn, reader, "CLUSTER", "MYID"))
            wanted = steps[:2] == ["OK", "PONG"] and len(steps[2]) == 40
        else:
            steps += [_command(conn, reader, "SET", "simscale:reach", "1"),
                      _command(conn, reader, "GET", "simscale:reach")]
            wanted = steps == ["OK", "PONG", "OK", "1"]
        report["authenticated"] = "ok" if wanted else str(steps)
        report["client_info"] = _command(conn, reader, "CLIENT", "INFO")
    with socket.create_connection(address, timeout=5.0) as conn:
        report["anonymous"] = _command(conn, conn.makefile("rb"), "GET", "simscale:reach")
    with socket.create_connection(address, timeout=5.0) as conn:
        report["wrong_password"] = _command(conn, conn.makefile("rb"), "AUTH",
                                            "not-the-password")
    return report


def main(argv: list[str]) -> int:
    if argv[:1] == ["--client"]:
        try:
            report = probe(json.loads(argv[1]))
        except OSError as exc:
            report = {"authenticated": f"cannot connect: {exc}"}
        print(json.dumps(report))
        return 0
    print(json.dumps(run_job(json.loads(Path(argv[0]).read_text()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
