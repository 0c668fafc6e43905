"""The registry of export targets, and `export_plan`, which renders and checks one of them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simscale.errors import InputError
from simscale.export import (
    checks,
    compose,
    edge,
    env,
    grafana,
    haproxy,
    kube_checks,
    kubernetes,
    nginx,
    prometheus,
    redis,
)
from simscale.export.base import Export, Losses
from simscale.export.plan import Plan


@dataclass(frozen=True)
class Target:
    """An export target: its name, what it writes, how it renders and how it is checked."""

    name: str
    summary: str
    render: Callable[[Plan, Losses], dict[str, str]]
    check: Callable[[dict[str, str]], list[str]]
    secrets: tuple[str, ...] = ()      # files that hold a secret (written 0600, kept if present)


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("env", "the service's environment variables, one dotenv file per instance",
           env.render, checks.check_env),
    Target("kubernetes", "Deployment, Service, PodDisruptionBudget, HPA autoscaling/v2 (or "
                         "KEDA ScaledObject); Redis StatefulSets, Services and Secret",
           kubernetes.render, kube_checks.check_kubernetes, secrets=("redis-secret.yaml",)),
    Target("nginx", "nginx.conf: an upstream for the balancer, passive health, TLS, the "
                    "management routes' token check",
           nginx.render, lambda files: checks.check_nginx(files["nginx.conf"]),
           secrets=(edge.NGINX_TOKENS_FILE,)),
    Target("haproxy", "haproxy.cfg: frontend and backend, balance, checks, slowstart, TLS, the "
                      "management routes' token check",
           haproxy.render, lambda files: checks.check_haproxy(files["haproxy.cfg"]),
           secrets=(edge.HAPROXY_TOKENS_FILE,)),
    Target("redis", "redis.conf of one cache shard: maxmemory and maxmemory-policy; "
                    "redis.env: its password",
           redis.render,
           lambda files: (checks.check_redis(files["redis.conf"])
                          + checks.check_secret_env(files[redis.SECRET_FILE],
                                                    redis.SECRET_FILE)),
           secrets=(redis.SECRET_FILE,)),
    Target("compose", "docker-compose.yml: app instances behind nginx, and Redis with a "
                      "password",
           compose.render,
           lambda files: (checks.check_compose(files)
                          + checks.check_nginx(files["nginx.conf"])
                          + checks.check_secret_env(files[redis.SECRET_FILE],
                                                    redis.SECRET_FILE)
                          + (checks.check_redis(files["redis.conf"])
                             if "redis.conf" in files else [])),
           secrets=(redis.SECRET_FILE, edge.NGINX_TOKENS_FILE)),
    Target("prometheus", "alerts.rules.yml (recording + alerting rules), alerts.test.yml "
                         "(promtool unit tests), prometheusrule.yaml",
           prometheus.render, checks.check_prometheus),
    Target("grafana", "dashboard.json: the dashboard TOML as a Grafana dashboard, one panel "
                      "per widget",
           grafana.render, lambda files: checks.check_grafana(files[grafana.FILE])),
)}


def get_target(name: str) -> Target:
    """The target called `name`; InputError listing the known targets otherwise."""
    try:
        return TARGETS[name]
    except KeyError:
        raise InputError(f"--target: unknown target {name!r} (known: "
                         f"{', '.join(sorted(TARGETS))})") from None


def export_plan(plan: Plan, target: str, strict: bool = False) -> Export:
    """Render `target` for `plan` and run simscale's own checks on the result.

    Raises InputError for an unknown target, for values that cannot be written safely, for
    files that fail the checks (each problem names the file and field) and, with `strict`,
    for every policy feature the target cannot express.
    """
    chosen = get_target(target)
    losses = Losses(chosen.name)
    files = chosen.render(plan, losses)
    problems = chosen.check(files)
    if problems:
        raise InputError([f"{chosen.name}: {p}" for p in problems])
    if strict and losses.items:
        raise InputError([f"{loss} (--strict)" for loss in losses.items])
    return Export(chosen.name, files, tuple(losses.items),
                  tuple(n for n in chosen.secrets if n in files))


def write_export(export: Export, out_dir: Path) -> list[Path]:
    """Write every file under `out_dir`, each to a temporary name first and then renamed, so
    no file is ever left half-written under its final name. A secret file (a password) is
    written with mode 0600, and one already in `out_dir` is kept, so exporting again does
    not change a deployed password. Returns the paths written (kept secrets are not)."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out: cannot create {out_dir} ({exc.strerror})") from None
    written = []
    for name, text in export.files.items():
        final = out_dir / name
        secret = name in export.secrets
        if secret and final.is_file():
            continue
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.partial")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o666)
        with os.fdopen(fd, "w") as handle:
            if secret:
                os.fchmod(handle.fileno(), 0o600)
            handle.write(text)
        os.replace(tmp, final)
        written.append(final)
    return written
