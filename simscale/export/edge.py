"""The edge (nginx, HAProxy): TLS on port 443, port 80 redirected, a bearer-token check in front
of the service's management routes (/api/scaling/, /api/monitoring/).

The certificate and key paths are parameters (`--tls-cert`, `--tls-key`: where the load
balancer finds them; default /etc/ssl/simscale/tls.crt and tls.key). HAProxy 2.6 reads the
key from the certificate file itself or from CERT.key (checked: with the key elsewhere it
stops with "No Private Key found in 'CERT.key'"), so its configuration says where to put it.

The token check (`--management-auth token`, the default; `none` turns it off): a request
to a management route must carry `Authorization: Bearer TOKEN` with a TOKEN listed in a
file that is not part of the configuration: nginx includes it into a `map` (lines `"Bearer
TOKEN" 1;`), HAProxy reads it as an ACL pattern file (lines `Bearer TOKEN`). The export writes
that file with one fresh random token (mode 0600; an existing one is kept); anything else
gets 401.
"""

from __future__ import annotations

from simscale.export.base import new_secret, token
from simscale.export.plan import MANAGEMENT_ROUTES, Plan

NGINX_TOKENS = "/etc/nginx/management-tokens.map"
HAPROXY_TOKENS = "/etc/haproxy/management-tokens.lst"
NGINX_TOKENS_FILE = "management-tokens.map"
HAPROXY_TOKENS_FILE = "management-tokens.lst"
TLS_PROTOCOLS = "TLSv1.2 TLSv1.3"


def guarded(plan: Plan) -> bool:
    return plan.edge.management_auth == "token"


def nginx_tokens() -> str:
    return ("# Bearer tokens allowed on the management routes (exported by simscale); one "
            'line each: "Bearer TOKEN" 1;\n'
            f'"Bearer {new_secret()}" 1;\n')


def haproxy_tokens() -> str:
    return f"Bearer {new_secret()}\n"


def nginx_http_lines(plan: Plan) -> list[str]:
    """http-level lines: the token map."""
    if not guarded(plan):
        return []
    # a key "Bearer " + 64 hex digits is longer than the default bucket (64 bytes on x86-64)
    return ["map_hash_bucket_size 128;",
            "map $http_authorization $management_token_ok {", "    default 0;",
            f"    include {NGINX_TOKENS};", "}"]


def nginx_servers(plan: Plan, location: list[str]) -> list[str]:
    """The two server blocks: port 80 redirecting, port 443 with TLS proxying (`location`:
    the proxy lines of a location), the management routes guarded."""
    cert = token(plan.edge.tls_certificate, "--tls-cert")
    key = token(plan.edge.tls_certificate_key, "--tls-key")
    out = ["server {", "    listen 80;", "    return 301 https://$host$request_uri;", "}",
           "server {", "    listen 443 ssl;", f"    ssl_certificate {cert};",
           f"    ssl_certificate_key {key};", f"    ssl_protocols {TLS_PROTOCOLS};",
           "    location / {"]
    out += [f"        {line}" for line in location]
    out.append("    }")
    if guarded(plan):
        for route in MANAGEMENT_ROUTES:
            out += [f"    location {route} {{",
                    "        if ($management_token_ok = 0) {", "            return 401;",
                    "        }"]
            out += [f"        {line}" for line in location]
            out.append("    }")
    out.append("}")
    return out


def haproxy_frontend(plan: Plan) -> list[str]:
    """The frontend's lines after its name: binds, redirect, the management check."""
    cert = token(plan.edge.tls_certificate, "--tls-cert")
    lines = [f"# TLS: HAProxy reads the key from {cert} itself or from {cert}.key",
             "bind :80", f"bind :443 ssl crt {cert} ssl-min-ver TLSv1.2",
             "http-request redirect scheme https code 301 unless { ssl_fc }"]
    if guarded(plan):
        lines += [f"acl management path_beg {' '.join(MANAGEMENT_ROUTES)}",
                  f"acl management_token req.hdr(authorization) -m str -f {HAPROXY_TOKENS}",
                  "http-request deny deny_status 401 if management !management_token"]
    return lines
