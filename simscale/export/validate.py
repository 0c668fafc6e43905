"""Run the real tools on exported files: nginx -t, haproxy -c, kubernetes-validate, redis-server.

Each check returns ToolResult values: "ok", "failed" (with the tool's output) or "skipped"
(the tool is not installed, or has no schema for the object). Nothing here listens on a
network interface: `nginx -t` and `haproxy -c` bind nothing, and redis-server is started
with `--port 0` and a unix socket in a temporary folder, then stopped by its process id.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = "1.33.0"
TOOL_TIMEOUT_S = 30.0
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass(frozen=True)
class ToolResult:
    """One tool run on one file."""

    tool: str
    file: str
    status: str
    detail: str = ""

    def __str__(self) -> str:
        text = f"{self.status}: {self.tool} {self.file}"
        return f"{text}: {self.detail}" if self.detail else text


def _missing(tool: str, file: Path) -> ToolResult:
    return ToolResult(tool, file.name, SKIPPED, f"{tool} is not installed")


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                          check=False)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key in `folder` (openssl req -x509); the key
    is also written beside the certificate as tls.crt.key (where HAProxy looks for it)."""
    cert, key = folder / "tls.crt", folder / "tls.key"
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
          "-subj", "/CN=simscale-check", "-keyout", str(key), "-out", str(cert)])
    if not cert.is_file():
        raise OSError("openssl did not write a certificate")
    (folder / "tls.crt.key").write_bytes(key.read_bytes())
    return cert, key


def edge_files(text: str, out_dir: Path, tmp: Path) -> tuple[str, list[str]]:
    """The proxy configuration `text` with what exists only where it is deployed put in
    place for a check: certificate files that are not on this machine become a throwaway
    self-signed pair, and the management token file is the exported one. Returns the text
    and a note per substitution."""
    notes: list[str] = []
    patterns = [r"(ssl_certificate\s+)(\S+)(;)", r"(ssl_certificate_key\s+)(\S+)(;)",
                r"(\bssl crt\s+)(\S+)()"]
    made: list[Path] = []

    def certificate(match: re.Match) -> str:
        path = Path(match.group(2))
        present = path.is_file() and ("crt " not in match.group(1) or
                                      Path(f"{path}.key").is_file())
        if present:
            return match.group(0)
        if not made:
            made.extend(self_signed(tmp))
            notes.append("a self-signed certificate in place of the one not on this machine")
        chosen = made[1] if "key" in match.group(1) else made[0]
        return f"{match.group(1)}{chosen}{match.group(3)}"

    for pattern in patterns:
        text = re.sub(pattern, certificate, text)
    for name, deployed in (("management-tokens.map", "/etc/nginx/management-tokens.map"),
                           ("management-tokens.lst", "/etc/haproxy/management-tokens.lst")):
        if deployed in text:
            local = Path(out_dir) / name
            if not local.is_file():
                local = tmp / name
                local.write_text('"Bearer check" 1;\n' if name.endswith(".map") else
                                 "Bearer check\n")
            text = text.replace(deployed, str(local.resolve()))
            notes.append(f"{name} from {local.parent.name or '.'}")
    return text, notes


def nginx_test(conf: Path) -> ToolResult:
    """`nginx -t -q -c ABS`; the pid file and error log are redirected to a temporary place,
    the certificate and token file put in place (edge_files)."""
    ran = _proxy_tool("nginx", "nginx -t", conf, "nginx.conf", lambda binary, tmp, copy: [
        binary, "-t", "-q", "-e", "stderr", "-p", tmp, "-g", f"pid {tmp}/nginx.pid;", "-c",
        str(copy)])
    if isinstance(ran, ToolResult):
        return ran
    proc, notes = ran
    if proc.returncode == 0:
        return ToolResult("nginx -t", conf.name, OK, "; ".join(notes))
    return ToolResult("nginx -t", conf.name, FAILED, (proc.stderr + proc.stdout).strip())


def haproxy_check(cfg: Path) -> ToolResult:
    """`haproxy -c -f FILE`: 0 valid; 2 (valid, no listener) counts as a failure here because
    the export always has a frontend. The certificate and token file are put in place."""
    ran = _proxy_tool("haproxy", "haproxy -c", cfg, "haproxy.cfg",
                      lambda binary, tmp, copy: [binary, "-c", "-f", str(copy)])
    if isinstance(ran, ToolResult):
        return ran
    proc, notes = ran
    if proc.returncode == 0:
        return ToolResult("haproxy -c", cfg.name, OK, "; ".join(notes))
    return ToolResult("haproxy -c", cfg.name, FAILED,
                      f"rc {proc.returncode}: {(proc.stderr + proc.stdout).strip()}")


def _proxy_tool(binary_name: str, label: str, path: Path, copy_name: str,
                args: Callable[[str, str, Path], list[str]],
                ) -> tuple[subprocess.CompletedProcess, list[str]] | ToolResult:
    """Run a proxy's own check on a copy of `path` (named copy_name) in a temporary folder,
    with the edge's certificate and token file in place (edge_files): the finished process
    and the edge's notes, or a ToolResult when the tool or the test certificate is missing.
    `args(binary, folder, copy)` is the command line."""
    binary = shutil.which(binary_name)
    if binary is None:
        return _missing(binary_name, path)
    with tempfile.TemporaryDirectory(prefix=f"simscale-{binary_name}-") as tmp:
        try:
            text, notes = edge_files(Path(path).read_text(), Path(path).parent, Path(tmp))
        except (OSError, subprocess.SubprocessError) as exc:
            return ToolResult(label, path.name, SKIPPED, f"no test certificate ({exc})")
        copy = Path(tmp) / copy_name
        copy.write_text(text)
        return _run(args(binary, tmp, copy)), notes


def kubernetes_check(path: Path, version: str = KUBERNETES_VERSION) -> list[ToolResult]:
    """kubernetes-validate --strict on every document of a YAML file."""
    from simscale.export.yamlio import load_yaml_documents

    try:
        import kubernetes_validate
    except ImportError:
        return [_missing("kubernetes-validate", path)]
    results = []
    for doc in load_yaml_documents(Path(path).read_text(), path.name):
        what = f"{path.name} ({doc.get('kind')})"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            results.append(ToolResult("kubernetes-validate", what, SKIPPED,
                                      f"no bundled schema for {doc.get('apiVersion')} "
                                      f"{doc.get('kind')} (simscale's own checks apply)"))
            continue
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            results.append(ToolResult("kubernetes-validate", what, FAILED,
                                      f"{where}: {exc.message}"))
            continue
        results.append(ToolResult("kubernetes-validate", what, OK))
    return results


# ---------------------------------------------------------------- redis


def _resp_command(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read_reply(reader) -> object:
    """One RESP reply (simple string, error, integer, bulk string or array)."""
    line = reader.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body.decode()
    if kind == b"-":
        raise RuntimeError(body.decode())
    if kind == b":":
        return int(body)
    if kind == b"$":
        size = int(body)
        if size < 0:
            return None
        data = reader.read(size + 2)
        return data[:-2].decode()
    if kind == b"*":
        return [_read_reply(reader) for _ in range(int(body))]
    raise RuntimeError(f"unexpected reply {line!r}")


def redis_config_get(sock_path: str, names: list[str]) -> dict[str, str]:
    """CONFIG GET each name over a unix socket; {name: value}."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(5.0)
        conn.connect(sock_path)
        reader = conn.makefile("rb")
        values = {}
        for name in names:
            conn.sendall(_resp_command("CONFIG", "GET", name))
            reply = _read_reply(reader)
            pairs = dict(zip(reply[::2], reply[1::2])) if isinstance(reply, list) else {}
            values[name] = pairs.get(name)
        return values


def redis_check(conf: Path, expected: dict[str, str] | None = None) -> ToolResult:
    """Start redis-server with the file (no TCP port, a unix socket, no persistence), read the
    settings back with CONFIG GET, compare them with the file's, stop the server by pid."""
    from simscale.export.redis import expected_settings

    binary = shutil.which("redis-server")
    if binary is None:
        return _missing("redis-server", conf)
    if expected is None:
        expected = expected_settings(Path(conf).read_text())
    with tempfile.TemporaryDirectory(prefix="simscale-redis-") as tmp:
        sock = os.path.join(tmp, "redis.sock")
        args = [binary, str(Path(conf).resolve()), "--port", "0", "--bind", "127.0.0.1",
                "--unixsocket", sock, "--unixsocketperm", "700", "--dir", tmp,
                "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        try:
            deadline = time.monotonic() + 10.0
            while True:  # the socket file exists a moment before the server accepts on it
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.communicate(timeout=5)[0] if proc.poll() is not None else ""
                    return ToolResult("redis-server", conf.name, FAILED,
                                      f"did not start: {output.strip()[-2000:]}")
                if os.path.exists(sock):
                    try:
                        got = redis_config_get(sock, sorted(expected))
                        break
                    except (ConnectionRefusedError, FileNotFoundError):
                        pass
                time.sleep(0.02)
        except (OSError, RuntimeError) as exc:
            return ToolResult("redis-server", conf.name, FAILED, str(exc))
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
    wrong = {k: (v, got.get(k)) for k, v in expected.items() if got.get(k) != v}
    if wrong:
        detail = "; ".join(f"{k}: file {a!r}, CONFIG GET {b!r}" for k, (a, b) in wrong.items())
        return ToolResult("redis-server CONFIG GET", conf.name, FAILED, detail)
    shown = ", ".join(f"{k}={v}" for k, v in sorted(got.items()))
    return ToolResult("redis-server CONFIG GET", conf.name, OK, shown)


# ---------------------------------------------------------------- per target


def compose_nginx_check(conf: Path, port: int = 3000) -> ToolResult:
    """nginx -t on the compose nginx.conf with each `server app-n:PORT` replaced by
    127.0.0.1:PORT+n-1 (compose service names only resolve inside Docker's network)."""
    text = Path(conf).read_text()

    def local(match: re.Match) -> str:
        n = int(match.group(2))
        return f"{match.group(1)}127.0.0.1:{port + n - 1}"

    local_text = re.sub(r"^(\s*server\s+)app-(\d+):\d+", local, text, flags=re.M)
    tokens = Path(conf).parent / "management-tokens.map"
    with tempfile.TemporaryDirectory(prefix="simscale-compose-") as tmp:
        copy = Path(tmp) / "nginx.conf"
        copy.write_text(local_text)
        if tokens.is_file():
            shutil.copy(tokens, Path(tmp) / tokens.name)
        result = nginx_test(copy)
    return ToolResult(result.tool, f"{conf.name} (service names as 127.0.0.1)", result.status,
                      result.detail)


def promtool(args: list[str], file: Path) -> ToolResult:
    """`promtool check rules FILE` or `promtool test rules FILE` (run in the file's folder)."""
    binary = shutil.which("promtool")
    tool = "promtool " + " ".join(args)
    if binary is None:
        return ToolResult(tool, file.name, SKIPPED, "promtool is not installed (Debian package "
                                                    "prometheus)")
    proc = subprocess.run([binary, *args, file.name], capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT_S * 4, check=False, cwd=file.parent)
    if proc.returncode == 0:
        summary = next((ln.strip() for ln in proc.stdout.splitlines() if "SUCCESS" in ln), "")
        return ToolResult(tool, file.name, OK, summary)
    return ToolResult(tool, file.name, FAILED,
                      f"rc {proc.returncode}: {(proc.stdout + proc.stderr).strip()[-3000:]}")


def dashboard_queries(path: Path) -> ToolResult:
    """Every panel query of a dashboard through promtool's PromQL parser (each one a
    recording rule of a temporary rules file: `promtool check rules`)."""
    import json

    from simscale.export.yamlio import dump_yaml

    doc = json.loads(Path(path).read_text())
    rules = [{"record": f"panel_{p['id']}_{t['refId']}", "expr": t["expr"]}
             for p in doc.get("panels", []) for t in p.get("targets", [])]
    with tempfile.TemporaryDirectory(prefix="simscale-grafana-") as tmp:
        file = Path(tmp) / "queries.rules.yml"
        file.write_text(dump_yaml({"groups": [{"name": "dashboard", "rules": rules}]}))
        result = promtool(["check", "rules"], file)
    return ToolResult("promtool (panel queries)", Path(path).name, result.status,
                      result.detail.replace("rules found", "queries parsed"))


def prometheus_rule_check(path: Path) -> ToolResult:
    """A PrometheusRule manifest (a CRD kubernetes-validate has no schema for): its
    apiVersion and kind, and its `spec` — a Prometheus rules file — through `promtool check
    rules`, which is what the Prometheus operator loads."""
    from simscale.export.yamlio import dump_yaml, load_yaml_documents

    (doc,) = load_yaml_documents(Path(path).read_text(), Path(path).name)
    what = f"{Path(path).name} (PrometheusRule spec)"
    if (doc.get("apiVersion"), doc.get("kind")) != ("monitoring.coreos.com/v1",
                                                    "PrometheusRule"):
        return ToolResult("promtool check rules", what, FAILED,
                          "not a monitoring.coreos.com/v1 PrometheusRule")
    with tempfile.TemporaryDirectory(prefix="simscale-promrule-") as tmp:
        file = Path(tmp) / "spec.rules.yml"
        file.write_text(dump_yaml(doc.get("spec") or {}))
        result = promtool(["check", "rules"], file)
    return ToolResult(result.tool, what, result.status, result.detail)


def _script_default(out_dir: Path) -> str:
    """The default node list of an exported cluster-create.sh (its `set -- …` line)."""
    for line in (Path(out_dir) / "cluster-create.sh").read_text().splitlines():
        if line.startswith('[ "$#" -gt 0 ] || set -- '):
            return line.split("set -- ", 1)[1]
    return ""


def validate_files(target: str, out_dir: Path, names: list[str]) -> list[ToolResult]:
    """The real tools for one target's written files."""
    out_dir = Path(out_dir)
    results: list[ToolResult] = []
    for name in names:
        path = out_dir / name
        if target == "nginx" and name == "nginx.conf":
            results.append(nginx_test(path))
        elif target == "haproxy" and name == "haproxy.cfg":
            results.append(haproxy_check(path))
        elif target == "prometheus" and name == "alerts.rules.yml":
            results.append(promtool(["check", "rules"], path))
        elif target == "prometheus" and name == "alerts.test.yml":
            results.append(promtool(["test", "rules"], path))
        elif target == "prometheus" and name == "prometheusrule.yaml":
            results.append(prometheus_rule_check(path))
        elif target == "grafana" and name == "dashboard.json":
            from simscale.export.checks import check_grafana

            problems = check_grafana(path.read_text())
            results.append(ToolResult("dashboard JSON model", name, FAILED if problems else OK,
                                      "; ".join(problems)))
            results.append(dashboard_queries(path))
        elif target == "kubernetes":
            results += kubernetes_check(path)
        elif target in ("redis", "compose") and name == "redis.conf" and \
                "cluster-create.sh" in names:
            from simscale.export.cluster import cluster_check

            masters = len(re.findall(r"\S+:\d+", _script_default(out_dir)))
            results.append(cluster_check(out_dir, masters))
        elif target in ("redis", "compose") and name == "redis.conf":
            results.append(redis_check(path))
        elif target == "compose" and name == "nginx.conf":
            results.append(compose_nginx_check(path))
        elif target == "env":
            from simscale.export.checks import check_env

            problems = check_env({name: path.read_text()})
            results.append(ToolResult("dotenv structure", name, FAILED if problems else OK,
                                      "; ".join(problems)))
        elif target == "compose" and name == "docker-compose.yml":
            from simscale.export.checks import check_compose

            files = {n: (out_dir / n).read_text() for n in names}
            problems = check_compose(files)
            results.append(ToolResult("compose structure", name, FAILED if problems else OK,
                                      "; ".join(problems)))
            if not problems:
                from simscale.export.reach import compose_reach

                results.append(compose_reach(out_dir))
    return results
