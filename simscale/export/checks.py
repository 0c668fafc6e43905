"""simscale's own checks on exported files: the rules the real validators do not enforce.

`haproxy -c` accepts `slowstart` with static algorithms where it does nothing; nginx accepts
a second balancing method with only a warning; Redis, dotenv, Compose, Prometheus and
Grafana files are checked for what their tools would take but the service would not.
Kubernetes objects have their own module (kube_checks). Each check returns one line per
problem, naming the file and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from simscale.export.yamlio import load_yaml_documents

REDIS_POLICIES = ("noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru",
                  "volatile-lfu", "volatile-random", "volatile-ttl")
NGINX_METHODS = ("least_conn", "random", "hash", "ip_hash", "least_time")
NGINX_PLUS_ONLY = ("health_check", "least_time", "sticky", "zone_sync", "ntlm")
HAPROXY_STATIC = ("static-rr", "source", "uri", "url_param", "hdr", "rdp-cookie")
# Files a compose service may mount that the user provides (the TLS certificate folder).
USER_FILES = ("tls", "tls-key")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _digits(text: str) -> int:
    """A whole number written in at most 20 ASCII digits, else -1 ('²'.isdigit() is True, and
    int() of thousands of digits raises)."""
    return int(text) if re.fullmatch(r"[0-9]{1,20}", text) else -1


# ---------------------------------------------------------------- proxies


def _statements(text: str) -> Iterable[list[str]]:
    """nginx statements as word lists (comments dropped; braces end statements too)."""
    text = re.sub(r"#[^\n]*", "", text)
    for raw in re.split(r"[;{}]", text):
        words = raw.split()
        if words:
            yield words


def check_nginx(text: str, source: str = "nginx.conf") -> list[str]:
    """One balancing method per upstream, weights >= 1, no NGINX Plus-only directives."""
    problems = []
    upstreams = re.findall(r"upstream\s+(\S+)\s*\{(.*?)\}", text, flags=re.S)
    if not upstreams:
        problems.append(f"{source}: no upstream block")
    for name, body in upstreams:
        methods = [w[0] for w in _statements(body) if w[0] in NGINX_METHODS]
        if len(methods) > 1:
            problems.append(f"{source}: upstream {name}: more than one balancing method "
                            f"({', '.join(methods)}); nginx would use only the last")
        for words in _statements(body):
            if words[0] in NGINX_PLUS_ONLY:
                problems.append(f"{source}: upstream {name}: {words[0]} is NGINX Plus only")
            if words[0] != "server":
                continue
            for param in words[2:]:
                if param.startswith("weight=") and _digits(param[7:]) < 1:
                    problems.append(f"{source}: upstream {name}: {param}: weight must be >= 1")
                if param.startswith("slow_start="):
                    problems.append(f"{source}: upstream {name}: slow_start is NGINX Plus only")
                if param == "backup" and methods and methods[0] in ("hash", "ip_hash", "random"):
                    problems.append(f"{source}: upstream {name}: backup is not allowed with "
                                    f"{methods[0]}")
        if not re.search(rf"proxy_pass\s+http://{re.escape(name)}\s*;", text):
            problems.append(f"{source}: upstream {name} is not used by any proxy_pass")
    return problems


def check_haproxy(text: str, source: str = "haproxy.cfg") -> list[str]:
    """slowstart only with dynamic algorithms (a hash is dynamic with hash-type consistent);
    weights 0..256; hash-balance-factor 0 or > 100."""
    problems = []
    sections = re.split(r"^(?=\S)", text, flags=re.M)
    for section in sections:
        lines = [ln.strip() for ln in section.splitlines() if ln.strip()
                 and not ln.strip().startswith("#")]
        if not lines or not lines[0].startswith("backend"):
            continue
        name = lines[0].split()[1] if len(lines[0].split()) > 1 else "?"
        balance = next((ln.split()[1] for ln in lines if ln.startswith("balance ")), "roundrobin")
        algorithm = balance.split("(")[0]
        consistent = any(ln.split()[:2] == ["hash-type", "consistent"] for ln in lines)
        for line in lines:
            words = line.split()
            if "slowstart" in words and algorithm in HAPROXY_STATIC and not consistent:
                problems.append(f"{source}: backend {name}: slowstart has no effect with the "
                                f"static algorithm {balance}")
            if "weight" in words:
                value = words[words.index("weight") + 1] if words[-1] != "weight" else ""
                if not 0 <= _digits(value) <= 256:
                    problems.append(f"{source}: backend {name}: weight {value!r} must be 0..256")
            if words[0] == "hash-balance-factor":
                value = words[1] if len(words) > 1 else ""
                if not (_digits(value) == 0 or _digits(value) > 100):
                    problems.append(f"{source}: backend {name}: hash-balance-factor {value!r} "
                                    "must be 0 or greater than 100")
    if not any(s.startswith(("frontend", "listen")) for s in sections):
        problems.append(f"{source}: no frontend or listen section")
    return problems


# ---------------------------------------------------------------- redis, env, compose


def check_redis(text: str, source: str = "redis.conf") -> list[str]:
    problems = []
    settings = {}
    for line in text.splitlines():
        parts = line.split(maxsplit=1)
        if parts and not parts[0].startswith("#"):
            settings[parts[0]] = parts[1] if len(parts) > 1 else ""
    if "requirepass" in settings or "masterauth" in settings:
        problems.append(f"{source}: a password is written into the file (requirepass or "
                        "masterauth); it belongs in the secret env file")
    memory = settings.get("maxmemory", "")
    if _digits(memory) < 1:
        problems.append(f"{source}: maxmemory {memory!r} must be a positive number of bytes")
    if settings.get("maxmemory-policy") not in REDIS_POLICIES:
        problems.append(f"{source}: maxmemory-policy {settings.get('maxmemory-policy')!r} is "
                        f"not one of {', '.join(REDIS_POLICIES)}")
    return problems


def check_secret_env(text: str, source: str) -> list[str]:
    """A secret env file: KEY=value lines only, each secret at least 32 characters."""
    from simscale.export.env import parse_dotenv

    values, problems = parse_dotenv(text, source)
    if not values:
        problems.append(f"{source}: holds no KEY=value line")
    for key, value in values.items():
        if len(value) < 32:
            problems.append(f"{source}: {key} is shorter than 32 characters")
    return problems


def check_env(files: dict[str, str]) -> list[str]:
    """Each instance file: every line a comment or KEY=value that a shell reads as one
    assignment (nothing else), MIN_INSTANCES <= MAX_INSTANCES, INSTANCE_n_URL numbered 1..N,
    one INSTANCE_ID per instance."""
    from simscale.export.env import parse_dotenv

    problems = []
    ids = set()
    for name, text in files.items():
        env, syntax = parse_dotenv(text, name)
        problems += syntax
        low, high = env.get("MIN_INSTANCES", ""), env.get("MAX_INSTANCES", "")
        if not 0 <= _digits(low) <= _digits(high):
            problems.append(f"{name}: MIN_INSTANCES ({low}) must not exceed MAX_INSTANCES "
                            f"({high})")
        urls = sorted(int(k.split("_")[1]) for k in env if re.fullmatch(r"INSTANCE_\d+_URL", k))
        if urls != list(range(1, len(urls) + 1)) or not urls:
            problems.append(f"{name}: INSTANCE_n_URL must be numbered 1..N")
        if env.get("AUTO_SCALING_ENABLED") not in ("true", "false"):
            problems.append(f"{name}: AUTO_SCALING_ENABLED must be true or false")
        ids.add(env.get("INSTANCE_ID"))
    if len(ids) != len(files):
        problems.append("env: every instance needs its own INSTANCE_ID")
    return problems


def check_compose(files: dict[str, str]) -> list[str]:
    """docker-compose.yml: services, images, mounted and env files present, depends_on
    resolvable and waiting for a health check, the nginx upstream naming app services, ports
    as strings, and the cache wiring (below)."""
    source = "docker-compose.yml"
    docs = load_yaml_documents(files[source], source)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return [f"{source}: must hold one mapping"]
    services = docs[0].get("services")
    if not isinstance(services, dict) or not services:
        return [f"{source}: services: at least one service is needed"]
    problems = []
    for name, service in services.items():
        where = f"{source}: services.{name}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", str(name)):
            problems.append(f"{where}: not a valid service name")
        if not isinstance(service, dict) or not isinstance(service.get("image"), str):
            problems.append(f"{where}.image: required")
            continue
        problems += _compose_service(service, services, files, where)
    if "nginx" not in services:
        problems.append(f"{source}: services.nginx: required (the load balancer)")
    if not any(str(n).startswith("redis") for n in services):
        problems.append(f"{source}: a redis service is required")
    conf = files.get("nginx.conf", "")
    for host in re.findall(r"^\s*server\s+([^\s:;]+):\d+", conf, flags=re.M):
        if host not in services:
            problems.append(f"nginx.conf: upstream server {host} is not a compose service")
    return problems + _compose_cache(services, files, source)


def _compose_service(service: dict, services: dict, files: dict[str, str],
                     where: str) -> list[str]:
    problems = []
    depends = service.get("depends_on", {})
    for dep in depends:
        condition = depends[dep].get("condition") if isinstance(depends, dict) else None
        if dep not in services:
            problems.append(f"{where}.depends_on: no service {dep!r}")
        elif condition == "service_completed_successfully" and \
                services[dep].get("restart") == "no":
            continue
        elif condition != "service_healthy":
            problems.append(f"{where}.depends_on.{dep}: must wait for condition "
                            "service_healthy")
        elif "healthcheck" not in services[dep]:
            problems.append(f"{where}.depends_on.{dep}: {dep} has no healthcheck")
    for volume in service.get("volumes", []):
        host = volume.split(":")[0]
        if host.startswith("./") and host[2:] not in files and host[2:] not in USER_FILES:
            problems.append(f"{where}.volumes: {host} is not among the exported files")
    for env_file in service.get("env_file", []):
        if env_file not in files:
            problems.append(f"{where}.env_file: {env_file} is not among the exported files")
    for port in service.get("ports", []):
        if not isinstance(port, str):
            problems.append(f"{where}.ports: {port!r} must be a quoted string")
    environment = service.get("environment", {})
    if not isinstance(environment, dict) or not all(isinstance(v, str)
                                                     for v in environment.values()):
        problems.append(f"{where}.environment: values must be strings")
    elif any(k.endswith(("PASSWORD", "TOKEN")) for k in environment):
        problems.append(f"{where}.environment: a secret is written into the file; it belongs "
                        "in an env_file")
    return problems


def _compose_cache(services: dict, files: dict[str, str], source: str) -> list[str]:
    """Every app knows every Redis shard (REDIS_NODES, at the port redis.conf sets) and
    reads the password file Redis reads; every Redis needs that password."""
    problems = []
    redis_names = sorted(n for n in services if str(n).startswith("redis"))
    port = "6379"
    for line in files.get("redis.conf", "").splitlines():
        if line.startswith("port "):
            port = line.split()[1]
    for name in redis_names:
        service = services[name]
        command = " ".join(service.get("command", []))
        if '--requirepass "$$REDIS_PASSWORD"' not in command or \
                "redis.env" not in service.get("env_file", []):
            problems.append(f"{source}: services.{name}: must start with --requirepass from "
                            "redis.env")
    for name, service in services.items():
        env = service.get("environment") or {}
        if not isinstance(env, dict) or "REDIS_NODES" not in env:
            continue
        nodes = env["REDIS_NODES"].split(",")
        wanted = [f"{n}:{port}" for n in redis_names]
        if sorted(nodes) != wanted:
            problems.append(f"{source}: services.{name}.environment.REDIS_NODES: "
                            f"{env['REDIS_NODES']!r} must list {', '.join(wanted)}")
        if "redis.env" not in service.get("env_file", []):
            problems.append(f"{source}: services.{name}.env_file: must read redis.env (the "
                            "Redis password)")
    return problems


# ---------------------------------------------------------------- prometheus


def check_prometheus(files: dict[str, str]) -> list[str]:
    """The rules file: a recording and an alerting group; every alert reads a recorded
    series of the file, has a known severity and a valid `for`; the PrometheusRule holds the
    same groups; the unit tests read the rules file."""
    from simscale.export import prometheus as prom

    source = prom.RULES_FILE
    docs = load_yaml_documents(files[source], source)
    if len(docs) != 1 or not isinstance(docs[0].get("groups"), list):
        return [f"{source}: must hold one mapping with a list of groups"]
    groups = docs[0]["groups"]
    problems = []
    records = {r.get("record") for g in groups for r in g.get("rules") or [] if "record" in r}
    for g in groups:
        for n, rule in enumerate(g.get("rules") or []):
            if "alert" not in rule:
                continue
            where = f"{source}: {g.get('name')}.rules[{n}] ({rule['alert']})"
            record = str(rule.get("expr", "")).split("{", 1)[0]
            if record not in records:
                problems.append(f"{where}: expr reads {record!r}, which no rule records")
            if (rule.get("labels") or {}).get("severity") not in prom.SEVERITIES:
                problems.append(f"{where}: labels.severity must be warning or critical")
            try:
                prom.parse_duration(rule.get("for", "0s"))
            except ValueError as exc:
                problems.append(f"{where}: for: {exc}")
    manifest = load_yaml_documents(files[prom.MANIFEST_FILE], prom.MANIFEST_FILE)[0]
    if (manifest.get("spec") or {}).get("groups") != groups:
        problems.append(f"{prom.MANIFEST_FILE}: spec.groups differ from {source}")
    tests = load_yaml_documents(files[prom.TESTS_FILE], prom.TESTS_FILE)[0]
    if tests.get("rule_files") != [source]:
        problems.append(f"{prom.TESTS_FILE}: rule_files must be [{source}]")
    return problems


# ---------------------------------------------------------------- grafana

GRAFANA_PANELS = ("timeseries", "stat", "alertlist", "table", "annolist", "text")
GRAFANA_TOP = {"uid": str, "title": str, "tags": list, "schemaVersion": int, "time": dict,
               "templating": dict, "annotations": dict, "panels": list}


def check_grafana(text: str, source: str = "dashboard.json") -> list[str]:
    """A dashboard in Grafana's classic JSON model: the top-level fields and their types; a
    uid of at most 40 characters; panels with unique ids, a known type, a title, a gridPos
    inside the 24-column grid that overlaps no other panel, and queries with unique refIds,
    a Prometheus data source and an expression."""
    import json

    try:
        doc = json.loads(text)
    except ValueError as exc:
        return [f"{source}: not JSON ({exc})"]
    problems = [f"{source}: {key}: must be a {kind.__name__}" for key, kind in
                GRAFANA_TOP.items() if not isinstance(doc.get(key), kind)]
    if problems:
        return problems
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", doc["uid"]):
        problems.append(f"{source}: uid {doc['uid']!r}: 1-40 letters, digits, '-' or '_'")
    ids, cells = set(), set()
    for n, panel in enumerate(doc["panels"]):
        where = f"{source}: panels[{n}]"
        if not is_int(panel.get("id")) or panel["id"] in ids:
            problems.append(f"{where}.id: {panel.get('id')!r} must be a unique whole number")
        ids.add(panel.get("id"))
        if panel.get("type") not in GRAFANA_PANELS:
            problems.append(f"{where}.type: {panel.get('type')!r} is not a known panel type")
        if not isinstance(panel.get("title"), str):
            problems.append(f"{where}.title: required")
        grid = panel.get("gridPos") or {}
        if not all(is_int(grid.get(k)) for k in "hwxy") or grid["w"] < 1 or grid["h"] < 1 \
                or grid["x"] < 0 or grid["y"] < 0 or grid["x"] + grid["w"] > 24:
            problems.append(f"{where}.gridPos: {grid} is not inside the 24-column grid")
            continue
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        if mine & cells:
            problems.append(f"{where}.gridPos: {grid} overlaps another panel")
        cells |= mine
        refs = [t.get("refId") for t in panel.get("targets", [])]
        if len(set(refs)) != len(refs):
            problems.append(f"{where}.targets: refIds must be unique")
        for m, target in enumerate(panel.get("targets", [])):
            if not (isinstance(target.get("expr"), str) and target["expr"].strip()):
                problems.append(f"{where}.targets[{m}].expr: required")
            if (target.get("datasource") or {}).get("type") != "prometheus":
                problems.append(f"{where}.targets[{m}].datasource: must be prometheus")
    return problems
