"""Kubernetes manifests that hang together: every name one object refers to exists.

kubernetes-validate checks each object alone; the API server accepts a Deployment whose
Secret or ConfigMap is missing (its pods then fail to start) and a Service or a
PodDisruptionBudget that selects nothing. `check_references` reads all the exported objects
together and names each dangling reference.
"""

from __future__ import annotations


def _pod_templates(docs: list[dict]) -> list[tuple[str, dict, dict]]:
    """(workload, pod labels, pod spec) of every Deployment, StatefulSet and Job."""
    out = []
    for doc in docs:
        if doc.get("kind") in ("Deployment", "StatefulSet", "Job"):
            template = (doc.get("spec") or {}).get("template") or {}
            out.append((f"{doc['kind']} {_name(doc)}",
                        (template.get("metadata") or {}).get("labels") or {},
                        template.get("spec") or {}))
    return out


def _name(doc: dict) -> str | None:
    return (doc.get("metadata") or {}).get("name")


def _selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_references(where: str, pod: dict, by_kind: dict, hosts: set[str]) -> list[str]:
    problems = []
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    for volume in volumes.values():
        config = (volume.get("configMap") or {}).get("name")
        if config is not None and config not in by_kind.get("ConfigMap", {}):
            problems.append(f"{where}: volume {volume['name']}: no ConfigMap {config!r}")
    for container in pod.get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") not in volumes:
                problems.append(f"{where}: volumeMount {mount.get('name')!r}: no such volume")
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref is not None:
                secret = by_kind.get("Secret", {}).get(ref.get("name"))
                keys = set((secret or {}).get("stringData") or {}) | set(
                    (secret or {}).get("data") or {})
                if ref.get("key") not in keys:
                    problems.append(f"{where}: env {env['name']}: no Secret "
                                    f"{ref.get('name')!r} with key {ref.get('key')!r}")
            if env.get("name") == "REDIS_NODES":
                for node in env.get("value", "").split(","):
                    if node.rpartition(":")[0] not in hosts:
                        problems.append(f"{where}: env REDIS_NODES: {node!r} is no "
                                        "StatefulSet pod behind its headless Service")
        for arg in container.get("command") or []:
            host = arg.rpartition(":")[0]
            if arg.endswith(":6379") and host not in hosts:
                problems.append(f"{where}: command: {arg!r} is no StatefulSet pod")
    return problems


def check_references(docs: list[dict]) -> list[str]:
    """Every name a manifest refers to exists: Services and PodDisruptionBudgets select some
    pods; a StatefulSet's serviceName is a headless Service selecting its pods; Secrets (and
    their keys) and ConfigMaps used by pods exist; volume mounts name volumes; the cache hosts
    in REDIS_NODES and the create Job are StatefulSet pods; the HPA's target exists."""
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc.get("kind"), {})[_name(doc)] = doc
    pods = _pod_templates(docs)
    problems, hosts = [], set()
    for name, sts in by_kind.get("StatefulSet", {}).items():
        spec = sts.get("spec") or {}
        service = by_kind.get("Service", {}).get(spec.get("serviceName"))
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if service is None or (service.get("spec") or {}).get("clusterIP") != "None":
            problems.append(f"StatefulSet {name}: serviceName {spec.get('serviceName')!r} is "
                            "no headless Service")
        elif not _selects(service["spec"].get("selector") or {}, labels):
            problems.append(f"Service {_name(service)} does not select the pods "
                            f"of StatefulSet {name}")
        hosts.update(f"{name}-{i}.{spec.get('serviceName')}" for i in
                     range(spec.get("replicas", 1)))
    for kind in ("Service", "PodDisruptionBudget"):
        for name, doc in by_kind.get(kind, {}).items():
            spec = doc.get("spec") or {}
            selector = spec.get("selector") or {}
            selector = selector.get("matchLabels", selector) if kind != "Service" else selector
            if not any(_selects(selector, labels) for _, labels, _ in pods):
                problems.append(f"{kind} {name}: its selector {selector} matches no pods")
    for where, _, pod in pods:
        problems += _pod_references(where, pod, by_kind, hosts)
    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        target = ((hpa.get("spec") or {}).get("scaleTargetRef") or {}).get("name")
        if target not in by_kind.get("Deployment", {}):
            problems.append(f"HorizontalPodAutoscaler {name}: no Deployment {target!r}")
    return problems
