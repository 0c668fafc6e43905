"""TLS and the management routes' token check at the edge (nginx, HAProxy, compose), checked by
the real validators with a self-signed certificate made here."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from simscale.commands import export as export_command
from simscale.errors import InputError
from simscale.export import edge
from simscale.export.plan import EdgePlan, plan_from_spec
from simscale.export.targets import export_plan, write_export
from simscale.export.validate import OK, haproxy_check, nginx_test
from simscale.export.yamlio import load_yaml_documents
from tests.export.helpers import make_spec, needs_haproxy, needs_nginx


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate and key, the key also as CERT.key for HAProxy."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    shutil.copy(key, folder / "tls.crt.key")
    return cert, key


def _export(target, out, auth="token", cert="/etc/ssl/simscale/tls.crt",
            key="/etc/ssl/simscale/tls.key"):
    plan = plan_from_spec(make_spec(), edge=EdgePlan(str(cert), str(key), auth))
    exported = export_plan(plan, target)
    write_export(exported, out)
    return exported


def test_the_cli_defaults_are_the_plan_defaults():
    assert (export_command.TLS_CERT, export_command.TLS_KEY,
            export_command.MANAGEMENT_AUTH) == (
        EdgePlan.tls_certificate, EdgePlan.tls_certificate_key, EdgePlan.management_auth)


def test_nginx_listens_with_tls_redirects_http_and_guards_management_routes(tmp_path):
    # Before: `listen 80` only, no TLS, no check in front of /api/scaling/.
    text = _export("nginx", tmp_path).files["nginx.conf"]
    assert "listen 443 ssl;" in text and "return 301 https://$host$request_uri;" in text
    assert "ssl_certificate /etc/ssl/simscale/tls.crt;" in text
    for route in ("/api/scaling/", "/api/monitoring/"):
        block = text.split(f"location {route} {{", 1)[1].split("\n    }", 1)[0]
        assert "if ($management_token_ok = 0)" in block and "return 401;" in block
        assert "proxy_pass http://chat;" in block
    tokens = (tmp_path / edge.NGINX_TOKENS_FILE)
    assert stat.S_IMODE(os.stat(tokens).st_mode) == 0o600
    token_line = tokens.read_text().splitlines()[-1]
    assert token_line.startswith('"Bearer ') and token_line.endswith('" 1;')
    assert token_line.split()[1].rstrip('"') not in text


def test_haproxy_binds_tls_redirects_and_denies_management_without_a_token(tmp_path):
    text = _export("haproxy", tmp_path).files["haproxy.cfg"]
    assert "bind :443 ssl crt /etc/ssl/simscale/tls.crt ssl-min-ver TLSv1.2" in text
    assert "http-request redirect scheme https code 301 unless { ssl_fc }" in text
    assert "http-request deny deny_status 401 if management !management_token" in text
    assert (tmp_path / edge.HAPROXY_TOKENS_FILE).read_text().startswith("Bearer ")


def test_without_management_auth_there_is_no_token_file(tmp_path):
    exported = _export("nginx", tmp_path, auth="none")
    assert "management_token_ok" not in exported.files["nginx.conf"]
    assert list(exported.files) == ["nginx.conf"]
    with pytest.raises(InputError, match="--management-auth"):
        plan_from_spec(make_spec(), edge=EdgePlan(management_auth="basic-ish"))
    with pytest.raises(InputError, match="--tls-cert: 'tls.crt' must be an absolute path"):
        plan_from_spec(make_spec(), edge=EdgePlan(tls_certificate="tls.crt"))


@needs_nginx
def test_nginx_t_passes_with_a_self_signed_certificate_made_here(tmp_path, certificate):
    cert, key = certificate
    _export("nginx", tmp_path, cert=cert, key=key)
    result = nginx_test(tmp_path / "nginx.conf")
    assert result.status == OK, result.detail
    assert "self-signed" not in result.detail      # the real files were used as they are


@needs_haproxy
def test_haproxy_c_passes_with_a_self_signed_certificate_made_here(tmp_path, certificate):
    cert, key = certificate
    _export("haproxy", tmp_path, cert=cert, key=key)
    result = haproxy_check(tmp_path / "haproxy.cfg")
    assert result.status == OK, result.detail
    assert "self-signed" not in result.detail


@needs_nginx
def test_a_certificate_that_is_not_one_fails_nginx_t(tmp_path, certificate):
    cert, _ = certificate
    _export("nginx", tmp_path, cert=cert, key=cert)       # the certificate as its own key
    assert nginx_test(tmp_path / "nginx.conf").status != OK


def test_compose_publishes_443_and_mounts_the_certificates_and_tokens(tmp_path):
    exported = _export("compose", tmp_path)
    nginx = load_yaml_documents(exported.files["docker-compose.yml"], "c")[0]["services"]["nginx"]
    assert nginx["ports"] == ["80:80", "443:443"]
    assert "./tls:/etc/ssl/simscale:ro" in nginx["volumes"]
    assert f"./{edge.NGINX_TOKENS_FILE}:{edge.NGINX_TOKENS}:ro" in nginx["volumes"]
    assert set(exported.secrets) == {"redis.env", edge.NGINX_TOKENS_FILE}
