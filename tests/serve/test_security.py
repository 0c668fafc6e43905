"""Bearer tokens on mutating and scaling routes; per-client token buckets on monitoring."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from simscale.cli import app as cli
from simscale.errors import InputError
from simscale.serve.security import ClientLimiter, read_token, token_matches
from tests.serve.clock import wait_until
from tests.serve.conftest import AUTH, TOKEN, fleet_spec, spec_text

PROTECTED = [
    ("POST", "/api/monitoring/load-test", {"spec": "name = 'x'"}),
    ("DELETE", "/api/monitoring/load-test/some-run", None),
    ("POST", "/api/monitoring/dashboard", {"metrics": {"error_rate": 0.1}}),
    ("GET", "/api/scaling/auto-scale", None),
    ("POST", "/api/scaling/auto-scale", {"params": {}}),
    ("PUT", "/api/scaling/auto-scale/metrics", {"samples": [{"instance": "a"}]}),
]
OPEN = ["/api/health", "/api/monitoring/load-test", "/api/monitoring/dashboard?fleet=web",
        "/metrics", "/docs", "/openapi.json"]


@pytest.mark.parametrize("method, path, body", PROTECTED, ids=[f"{m} {p}" for m, p, _ in
                                                                  PROTECTED])
def test_token_is_required(api, method, path, body):
    client = api.client
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}):
        r = client.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
    r = client.request(method, path, json=body, headers=AUTH)
    assert r.status_code not in (401, 403)


def test_read_routes_are_open_and_no_cors(api):
    for path in OPEN:
        r = api.client.get(path, headers={"Origin": "https://example.org"})
        assert r.status_code == 200, path
        assert "access-control-allow-origin" not in r.headers


def test_token_compare_and_file(tmp_path):
    assert token_matches(f"Bearer {TOKEN}", TOKEN)
    assert token_matches(f"bearer  {TOKEN}", TOKEN)
    assert not token_matches(f"Bearer {TOKEN}x", TOKEN)
    assert not token_matches(None, TOKEN)
    good = tmp_path / "token"
    good.write_text(f"  {TOKEN}\n")
    assert read_token(good) == TOKEN
    for content in ("short", "two words-0123456789abcdef", ""):
        bad = tmp_path / "bad"
        bad.write_text(content)
        with pytest.raises(InputError):
            read_token(bad)
    with pytest.raises(InputError, match="cannot read"):
        read_token(tmp_path / "missing")


@pytest.mark.parametrize("args, message", [
    (["--host", "0.0.0.0"], "--host 0.0.0.0: off loopback the API needs a token"),
    (["--token-file", "missing.txt"], "missing.txt: cannot read the token file"),
    (["--fleet", "nofleet.toml"], "nofleet.toml: no such file"),
    (["--apply-command", "kubectl scale deployment/web"], "must contain {replicas}"),
    (["--rate-limit", "0"], "--rate-limit"),
])
def test_serve_refuses_bad_options_with_exit_2(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["serve", "--port", "0", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_serve_names_the_field_of_a_bad_fleet_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    head = "[autoscaling]\nenabled = true\npolicy = 'target_tracking'\n"
    (tmp_path / "web.toml").write_text(head + "scrape_interval_s = -1\n")
    (tmp_path / "api.toml").write_text(head + "params = { min_replicas = 0 }\n")
    (tmp_path / "off.toml").write_text("[autoscaling]\npolicy = 'threshold'\n")
    (tmp_path / "typo.toml").write_text(head + "[alerts]\nenabeld = false\n")
    result = CliRunner().invoke(cli, ["serve", *(f"--fleet={n}.toml" for n in
                                                 ("web", "api", "off", "typo"))])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert [line.split(": ")[:3] for line in lines] == [
        ["error", "web.toml", "autoscaling.scrape_interval_s"],
        ["error", "api.toml", "autoscaling.params"],
        ["error", "off.toml", "autoscaling.enabled"],
        ["error", "typo.toml", "alerts.enabeld"],
    ]
    assert "min_replicas must be >= 1" in lines[1]
    assert "a fleet runs its autoscaler" in lines[2]


# ---------------------------------------------------------------- rate limits

RETRY_CASES = [
    # (rate_per_s, burst, requests at once, admitted, retry-after of the first refusal)
    (0.5, 3, 5, 3, 2),
    (2.0, 1, 3, 1, 1),
    (0.1, 2, 3, 2, 10),
]


@pytest.mark.parametrize("rate, burst, requests, admitted, retry", RETRY_CASES)
def test_client_limiter_is_the_token_bucket(rate, burst, requests, admitted, retry):
    now = [100.0]
    limiter = ClientLimiter(rate, burst, clock=lambda: now[0])
    results = [limiter.admit("10.0.0.1") for _ in range(requests)]
    assert [ok for ok, _ in results] == [True] * admitted + [False] * (requests - admitted)
    assert results[admitted][1] == retry
    assert limiter.admit("10.0.0.2")[0]  # another client has its own bucket
    now[0] += retry
    assert limiter.admit("10.0.0.1")[0]  # Retry-After later, a token is there


def test_monitoring_routes_answer_429_with_retry_after(serve):
    running = serve(token=TOKEN, rate_per_s=0.5, burst=3, fleets=[fleet_spec()])
    client = running.client
    codes = [client.get("/api/monitoring/load-test").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    refused = client.get("/api/monitoring/dashboard")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"
    posted = client.post("/api/monitoring/load-test", headers=AUTH,
                         json={"spec": spec_text()})
    assert posted.status_code == 429
    # scaling routes and health are not rate limited
    for _ in range(5):
        assert client.get("/api/scaling/auto-scale", headers=AUTH).status_code == 200
        assert client.get("/api/health").status_code == 200
    exposition = client.get("/metrics").text
    assert 'simscale_serve_rate_limited_total{route="/api/monitoring/dashboard"} 1.0' in \
        exposition
    assert ('simscale_serve_requests_total{method="GET",route="/api/monitoring/dashboard",'
            'status="429"} 1.0') in exposition


def test_scaling_access_is_logged(serve, caplog):
    running = serve(token=TOKEN, fleets=[fleet_spec()])
    def lines():
        return [r.getMessage() for r in caplog.records if r.name == "simscale.serve.access"]

    with caplog.at_level("INFO", logger="simscale.serve.access"):
        running.client.get("/api/scaling/auto-scale")
        running.client.get("/api/scaling/auto-scale", headers=AUTH)
        # the line is written once the answer has gone out
        wait_until(lambda: len(lines()) == 2, what="two access lines")
    assert lines() == ["scaling access: client=127.0.0.1 GET /api/scaling/auto-scale status=401",
                       "scaling access: client=127.0.0.1 GET /api/scaling/auto-scale status=200"]


def test_an_unusable_records_folder_exits_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "web.toml").write_text("[autoscaling]\nenabled = true\n")
    (tmp_path / "taken").write_text("a file, not a folder")
    result = CliRunner().invoke(cli, ["serve", "--port", "0", "--fleet", "web.toml",
                                      "--fleets", "taken"])
    assert result.exit_code == 2
    assert "error: taken/web/wal: cannot use (Not a directory)" in result.output
