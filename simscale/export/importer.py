"""`simscale import`: read production configuration back into a spec fragment.

Two inputs are understood:

- a Kubernetes HorizontalPodAutoscaler (autoscaling/v2, YAML or JSON, possibly among other
  documents or in a List) → [autoscaling] with policy "target_tracking"; a KEDA ScaledObject
  with one in-flight Prometheus trigger → policy "concurrency"
  (simscale.export.import_kubernetes);
- Prometheus alerting rules (a rules file or a PrometheusRule) → [alerts]
  (simscale.export.import_prometheus);
- an nginx configuration with an `upstream` block → [balancer], [instances] count,
  [resilience.outlier_detection] (max_fails / fail_timeout), [resilience.retry]
  (proxy_next_upstream_tries), [resilience.rate_limit] (limit_req) and [timeouts]
  (simscale.export.import_nginx).

The fragment holds exactly what the file expresses (for example outlier detection with a
fixed ejection time), so exporting it again writes the same file. A file is read only up to
MAX_IMPORT_BYTES; everything after reading is linear in the file's size. Problems are
InputErrors naming the file and the line, directive or field.
"""

from __future__ import annotations

import re
from pathlib import Path

from simscale.errors import InputError
from simscale.inputs import read_limited

MAX_IMPORT_BYTES = 4 * 1024 * 1024
# An upstream block opening a line; [ \t] rather than \s so that no match can run across
# lines (with \s a run of blank lines made this search quadratic).
_UPSTREAM = re.compile(r"^[ \t]*upstream[ \t]+[^\s{]+\s*\{", re.M)
# A Prometheus rules file (top-level `groups:`) or a PrometheusRule manifest.
_GROUPS = re.compile(r"^(?:groups:|kind:[ \t]*PrometheusRule\b)", re.M)


def read_text(path: Path, limit_bytes: int = MAX_IMPORT_BYTES) -> str:
    """The UTF-8 text of `path`; InputError if it is missing, unreadable, not UTF-8 or
    larger than `limit_bytes` (checked while reading, so a huge file is never read whole)."""
    data = read_limited(path, limit_bytes, f"larger than {limit_bytes // (1024 * 1024)} MiB, "
                        "the most simscale import reads (an HPA manifest or nginx config is "
                        "far smaller)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def import_file(path: Path) -> tuple[dict, list[str]]:
    """(spec fragment, warnings) read from an HPA/ScaledObject manifest or an nginx config."""
    path = Path(path)
    text = read_text(path)
    if _UPSTREAM.search(text):
        from simscale.export.import_nginx import import_nginx

        return import_nginx(text, str(path))
    if _GROUPS.search(text):
        from simscale.export.import_prometheus import import_rules

        return import_rules(text, str(path))
    from simscale.export.import_kubernetes import import_manifest

    return import_manifest(text, str(path))
