"""Redis Cluster export: the node settings, the create script, and a check with real servers.

With `cache.placement = "redis_cluster"` the shards are the masters of one Redis Cluster
(Redis Cluster specification; redis.conf's CLUSTER section): every node runs the shard's
redis.conf with `cluster-enabled yes`, and `cluster-create.sh` makes the cluster with
`redis-cli --cluster create HOST:PORT … --cluster-replicas 0`, which gives master i the slot
range simscale's SlotMap predicts (policies/caches/slots.py). redis-cli refuses fewer than
three masters, so the export does too (naming cache.shards). The script resolves host names
to addresses first (CLUSTER MEET takes addresses), reads the password from REDIS_PASSWORD
(redis-cli takes it from REDISCLI_AUTH, so it is on no command line), and does nothing when
the cluster is already up.

The check (`cluster_check`) starts one redis-server per master on 127.0.0.1 with the
exported redis.conf, on ports the OS hands out (asked all at once so that they differ, then
released; a start that loses a port to another process is retried with new ports), runs the
exported script, waits for cluster_state:ok, and confirms that the slot ranges are the
predicted ones and that keys land where the simulator predicted: CLUSTER KEYSLOT equals
simscale's slot, and a SET on the predicted master is served there (no MOVED).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from simscale.errors import InputError
from simscale.export.plan import Plan

MIN_MASTERS = 3
NODE_TIMEOUT_MS = 5000
SCRIPT = "cluster-create.sh"
TOOL = "redis-cli --cluster create"
# Keys the check places: the simulator's own key names and Redis's hash-tag examples.
SAMPLE_KEYS = ("somekey", "foo{hash_tag}", "bar{hash_tag}", "{user1000}.following",
               *(f"user:{i}" for i in range(40)), *(f"session:{i}" for i in range(40)),
               *(f"conversation:{i}" for i in range(40)), *(f"response:{i}" for i in range(10)))


def is_cluster(plan: Plan) -> bool:
    return plan.cache is not None and plan.cache.placement == "redis_cluster"


def node_lines(plan: Plan) -> tuple[str, ...]:
    """The redis.conf lines of a cluster node (InputError below three masters)."""
    shards = plan.cache.shards
    if shards < MIN_MASTERS:
        raise InputError(f"cache.shards: {shards}: a Redis Cluster needs at least "
                         f"{MIN_MASTERS} masters (redis-cli --cluster create refuses fewer); "
                         'use placement = "ring" or more shards')
    return ("# Redis Cluster node (cache.placement = redis_cluster): create the cluster with "
            f"{SCRIPT}",
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            f"cluster-node-timeout {NODE_TIMEOUT_MS}",
            # a master lost for good leaves its slots unserved; the others go on serving
            "cluster-require-full-coverage no")


def create_script(nodes: list[str]) -> str:
    """cluster-create.sh: `sh cluster-create.sh [HOST:PORT …]` (default `nodes`, in master
    order) with REDIS_PASSWORD in the environment."""
    default = " ".join(nodes)
    return f"""#!/bin/sh
# Create the Redis Cluster of the cache shards (exported by simscale). Master i gets the
# slot range simscale predicted for shard i. Usage, with the password in the environment
# (set -a; . ./redis.env; set +a):
#   sh {SCRIPT} [HOST:PORT ...]      default: {default}
set -eu
: "${{REDIS_PASSWORD:?set REDIS_PASSWORD (redis.env)}}"
REDISCLI_AUTH="$REDIS_PASSWORD"
export REDISCLI_AUTH
[ "$#" -gt 0 ] || set -- {default}
addresses=""
for node in "$@"; do
    host="${{node%:*}}"
    port="${{node##*:}}"
    address="$(getent hosts "$host" | awk '{{print $1; exit}}')"
    [ -n "$address" ] || {{ echo "cannot resolve $host" >&2; exit 1; }}
    addresses="$addresses $address:$port"
done
first="${{addresses# }}"
first="${{first%% *}}"
if redis-cli -h "${{first%:*}}" -p "${{first##*:}}" cluster info | grep -q '^cluster_state:ok'
then
    echo "the cluster is already up"
    exit 0
fi
# shellcheck disable=SC2086
redis-cli --cluster create $addresses --cluster-replicas 0 --cluster-yes
"""


# ---------------------------------------------------------------- the check


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports the OS has free on 127.0.0.1 now (held open together while
    asking, then released: another process may still take one, so starts are retried)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _cli(port: int, password: str, *args: str, timeout_s: float = 10.0) -> str:
    proc = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args],
                          env={**os.environ, "REDISCLI_AUTH": password}, capture_output=True,
                          text=True, timeout=timeout_s, check=False)
    return (proc.stdout + proc.stderr).strip()


class _Nodes:
    """One redis-server per master on 127.0.0.1, stopped by pid."""

    def __init__(self, conf: Path, password: str, masters: int, tmp: Path) -> None:
        self.conf, self.password, self.masters, self.tmp = conf, password, masters, tmp
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []

    def start(self, attempts: int = 5) -> None:
        for _ in range(attempts):
            ports = _free_ports(2 * self.masters)
            self.ports = ports[:self.masters]
            if self._start_all(ports[self.masters:]):
                return
            self.stop()
        raise RuntimeError(f"could not start {self.masters} nodes on free ports")

    def _start_all(self, bus_ports: list[int]) -> bool:
        for i, (port, bus) in enumerate(zip(self.ports, bus_ports)):
            folder = self.tmp / f"node-{i}"
            folder.mkdir(exist_ok=True)
            wrapper = folder / "node.conf"
            wrapper.write_text(f"include {self.conf.resolve()}\nbind 127.0.0.1\nport {port}\n"
                               f"cluster-port {bus}\ndir {folder}\nlogfile node.log\n"
                               "daemonize no\n")
            self.procs.append(subprocess.Popen(
                ["redis-server", str(wrapper), "--requirepass", self.password,
                 "--masterauth", self.password], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10.0
        for proc, port in zip(self.procs, self.ports):
            while _cli(port, self.password, "PING") != "PONG":
                if proc.poll() is not None or time.monotonic() > deadline:
                    return False    # a port was taken meanwhile (or the server failed)
                time.sleep(0.05)
        return True

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs = []


class _Connections:
    """One authenticated RESP connection per node; `ask(i, *words)` → the reply or error."""

    def __init__(self, nodes: _Nodes) -> None:
        self.conns = []
        for port in nodes.ports:
            conn = socket.create_connection(("127.0.0.1", port), timeout=5.0)
            self.conns.append((conn, conn.makefile("rb")))
            self.ask(len(self.conns) - 1, "AUTH", nodes.password)

    def ask(self, i: int, *words: str):
        from simscale.export.validate import _read_reply, _resp_command

        conn, reader = self.conns[i]
        conn.sendall(_resp_command(*words))
        try:
            return _read_reply(reader)
        except RuntimeError as exc:  # an error reply (MOVED, CLUSTERDOWN…)
            return str(exc)

    def close(self) -> None:
        for conn, reader in self.conns:
            reader.close()
            conn.close()


def _slot_owners(conns: _Connections, ports: list[int]) -> dict[tuple[int, int], int]:
    """{(first, last): port of its master} from CLUSTER SLOTS as the first node reports."""
    return {(int(first), int(last)): int(master[1])
            for first, last, master, *_ in conns.ask(0, "CLUSTER", "SLOTS")}


def _placement(masters: int):
    """The simulator's own placement of `masters` shards (as the model builds it)."""
    from policies import registry

    slots = registry.build("placement", "redis_cluster")
    for i in range(masters):
        slots.add(f"cache-{i}")
    return slots


def _confirm(nodes: _Nodes) -> list[str]:
    """What differs from the simulator's prediction: slot ranges, key slots, key owners."""
    from policies.caches import key_hash_slot

    predicted = _placement(nodes.masters)
    expected = {(a, b): nodes.ports[int(shard[6:])] for a, b, shard in predicted.ranges()}
    problems = []
    conns = _Connections(nodes)
    try:
        got = _slot_owners(conns, nodes.ports)
        if got != expected:
            problems.append(f"slot ranges {sorted(got.items())} differ from the predicted "
                            f"{sorted(expected.items())}")
        for key in SAMPLE_KEYS:
            slot = conns.ask(0, "CLUSTER", "KEYSLOT", key)
            if slot != key_hash_slot(key):
                problems.append(f"CLUSTER KEYSLOT {key} = {slot}, simscale: "
                                f"{key_hash_slot(key)}")
            owner = int(predicted.shard_for(key)[6:])
            answer = conns.ask(owner, "SET", key, "1")
            if answer != "OK":
                problems.append(f"SET {key} on the predicted master :{nodes.ports[owner]}: "
                                f"{answer}")
    finally:
        conns.close()
    return problems


def _wait_ok(nodes: _Nodes, deadline_s: float) -> bool:
    while time.monotonic() < deadline_s:
        if all("cluster_state:ok" in _cli(p, nodes.password, "CLUSTER", "INFO")
               for p in nodes.ports):
            return True
        time.sleep(0.1)
    return False


def cluster_check(out_dir: Path, masters: int):
    """Start the exported nodes, create the cluster with the exported script, confirm the
    simulator's placement. A ToolResult."""
    from simscale.export.env import parse_dotenv
    from simscale.export.validate import FAILED, OK, SKIPPED, ToolResult

    missing = [t for t in ("redis-server", "redis-cli", "getent") if shutil.which(t) is None]
    if missing:
        return ToolResult(TOOL, SCRIPT, SKIPPED, f"{', '.join(missing)} not installed")
    out_dir = Path(out_dir)
    password = parse_dotenv((out_dir / "redis.env").read_text())[0]["REDIS_PASSWORD"]
    with tempfile.TemporaryDirectory(prefix="simscale-cluster-") as tmp:
        nodes = _Nodes(out_dir / "redis.conf", password, masters, Path(tmp))
        try:
            nodes.start()
            proc = subprocess.run(
                ["sh", str((out_dir / SCRIPT).resolve()),
                 *(f"127.0.0.1:{p}" for p in nodes.ports)],
                env={**os.environ, "REDIS_PASSWORD": password}, capture_output=True,
                text=True, timeout=60, check=False)
            if proc.returncode != 0:
                return ToolResult(TOOL, SCRIPT, FAILED, f"rc {proc.returncode}: "
                                  f"{(proc.stdout + proc.stderr).strip()[-1500:]}")
            if not _wait_ok(nodes, time.monotonic() + 20.0):
                return ToolResult(TOOL, SCRIPT, FAILED, "cluster_state did not become ok")
            problems = _confirm(nodes)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
            return ToolResult(TOOL, SCRIPT, FAILED, str(exc))
        finally:
            nodes.stop()
    if problems:
        return ToolResult(TOOL, SCRIPT, FAILED, "; ".join(problems[:10]))
    return ToolResult(TOOL, SCRIPT, OK,
                      f"{masters} masters on 127.0.0.1: slot ranges as predicted; "
                      f"{len(SAMPLE_KEYS)} keys on their predicted slots and masters")
