"""422s name the field path of every problem; bodies and ids have bounds."""

from __future__ import annotations

import http.client
import json

import pytest

from simscale.serve.posted import problem_detail
from tests.serve.conftest import AUTH, TOKEN, fleet_spec, spec_text


def post_spec(client, body):
    return client.post("/api/monitoring/load-test", headers=AUTH, json=body)


def fields(response) -> list[str]:
    assert response.status_code == 422, response.text
    return [d["field"] for d in response.json()["detail"]]


def test_a_spec_is_validated_as_simscale_run_validates_it(api):
    client = api.client
    bad = {"name": "bad", "duration_s": -5, "instances": {"count": 2, "slots": 0, "extra": 1},
           "workload": {"arrivals": {"kind": "poisson", "rate_rps": -1}}}
    r = post_spec(client, {"spec": bad})
    assert sorted(fields(r)) == ["duration_s", "instances.extra", "instances.slots",
                                 "workload.arrivals.rate_rps"]
    by_field = {d["field"]: d for d in r.json()["detail"]}
    assert by_field["instances.extra"]["msg"] == "unknown field"
    assert by_field["workload.arrivals.rate_rps"]["loc"] == [
        "body", "spec", "workload", "arrivals", "rate_rps"]


def test_toml_text_errors_name_line_and_column(api):
    client = api.client
    r = post_spec(client, {"spec": 'name = "x"\nduration_s = = 3\n'})
    detail = r.json()["detail"]
    assert r.status_code == 422 and len(detail) == 1
    assert detail[0]["source"] == "spec:2:14"
    assert detail[0]["msg"].startswith("TOML syntax error")


def test_overrides_and_seed_are_checked(api):
    client = api.client
    r = post_spec(client, {"spec": spec_text(), "set": ["instances.count=0"]})
    assert fields(r) == ["instances.count"]
    assert r.json()["detail"][0]["loc"] == ["body", "set", "instances.count"]
    r = post_spec(client, {"spec": spec_text(), "set": ["no-equals-sign"]})
    assert r.status_code == 422 and "expected PATH=VALUE" in r.json()["detail"][0]["msg"]
    r = post_spec(client, {"spec": spec_text(), "seed": -1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "seed"]
    r = post_spec(client, {"spec": spec_text(), "bogus": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "bogus"]


@pytest.mark.parametrize("path", ["/etc/hostname", "../outside.csv", "sub/../../outside.csv"])
def test_files_a_spec_names_stay_inside_the_spec_folder(api, path):
    client = api.client
    spec = spec_text().replace(
        'service = { kind = "exponential", mean_s = 0.02 }',
        f'service = {{ kind = "empirical", path = "{path}" }}')
    r = post_spec(client, {"spec": spec})
    assert fields(r) == ["workload.service.path"]
    assert "inside the server's spec folder" in r.json()["detail"][0]["msg"]


def test_a_missing_file_inside_the_folder_is_a_field_problem(api):
    client = api.client
    spec = spec_text().replace(
        'service = { kind = "exponential", mean_s = 0.02 }',
        'service = { kind = "empirical", path = "missing.txt" }')
    r = post_spec(client, {"spec": spec})
    assert fields(r) == ["workload.service.path"]


SAMPLE_CASES = [
    ({"instance": "a", "cpu_util_frac": float("nan")}, ["body", "samples", 0, "cpu_util_frac"]),
    ({"instance": "a", "cpu_util_frac": 101}, ["body", "samples", 0, "cpu_util_frac"]),
    ({"instance": "a", "latency_s": -1}, ["body", "samples", 0, "latency_s"]),
    ({"instance": "../etc"}, ["body", "samples", 0, "instance"]),
    ({"instance": "a", "state": "gone"}, ["body", "samples", 0, "state"]),
    ({"instance": "a", "gpu": 1.0}, ["body", "samples", 0, "gpu"]),
]


@pytest.mark.parametrize("sample, loc", SAMPLE_CASES)
def test_samples_are_bounded(api, sample, loc):
    client = api.client
    content = json.dumps({"samples": [sample]})  # NaN is written as NaN: JSON's extension
    r = client.put("/api/scaling/auto-scale/metrics", headers={**AUTH,
                   "content-type": "application/json"}, content=content)
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [loc]


def test_pushes_are_bounded(api):
    client = api.client
    many = {"samples": [{"instance": f"i{i}"} for i in range(1001)]}
    r = client.put("/api/scaling/auto-scale/metrics", headers=AUTH, json=many)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "samples"]
    assert client.put("/api/scaling/auto-scale/metrics", headers=AUTH,
                      json={"samples": []}).status_code == 422
    r = client.post("/api/monitoring/dashboard", headers=AUTH,
                    json={"metrics": {"Bad-Name": 1.0}})
    assert r.status_code == 422
    r = client.post("/api/monitoring/dashboard", headers=AUTH,
                    json={"metrics": {"error_rate": 1e13}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "metrics"]


def test_bodies_beyond_the_limit_are_refused(serve):
    client = serve(token=TOKEN, max_body_bytes=4096, fleets=[fleet_spec()]).client
    big = {"spec": "# " + "x" * 5000}
    assert post_spec(client, big).status_code == 413

    def chunks():  # no Content-Length: the limit counts what arrives
        for _ in range(10):
            yield b" " * 1000

    r = client.put("/api/scaling/auto-scale/metrics", headers=AUTH, content=chunks())
    assert r.status_code == 413


@pytest.mark.parametrize("run_id", [
    "..", ".serve", "-x", "x" * 200, "a/b/c", "probe/latest", "probe/..", "../x", "a/.serve",
    "a/-x", "a//b", "a%2F..%2F..%2Fetc", "%2Fetc%2Fpasswd", "a\\b", "x" * 200 + "/y"])
def test_run_ids_never_become_paths(api, run_id):
    client = api.client
    for method in ("GET", "DELETE"):  # the path as sent: no client folds `..` away first
        conn = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=30)
        try:
            conn.request(method, f"/api/monitoring/load-test/{run_id}", headers=AUTH)
            status = conn.getresponse().status
        finally:
            conn.close()
        assert status in (404, 422), (method, status)
    r = client.get("/api/monitoring/dashboard", params={"run": run_id})
    assert r.status_code == (404 if run_id.endswith("/latest") else 422)  # a pointer, no run


def test_dashboard_arguments_are_checked(api):
    client = api.client
    assert client.get("/api/monitoring/dashboard?run=x&window=2h").status_code == 422
    assert client.get("/api/monitoring/dashboard?run=x&fleet=web").status_code == 422  # both
    assert client.get("/api/monitoring/dashboard?run=nope").status_code == 404
    assert client.get("/api/monitoring/load-test?limit=0").status_code == 422


@pytest.mark.parametrize("line, detail", [
    ("spec: workload.arrivals.rate_rps: Input should be greater than 0",
     (["body", "spec", "workload", "arrivals", "rate_rps"], "workload.arrivals.rate_rps",
      "Input should be greater than 0")),
    ("--set instances.count: Input should be greater than 0",
     (["body", "set", "instances.count"], "instances.count", "Input should be greater than 0")),
    ("spec:3:1: TOML syntax error: Invalid statement",
     (["body", "spec"], "", "TOML syntax error: Invalid statement")),
    ("body: params: min_replicas must be >= 1, got 0",
     (["body", "params"], "params", "min_replicas must be >= 1, got 0")),
])
def test_problem_lines_become_422_entries(line, detail):
    entry = problem_detail(line)
    assert (entry["loc"], entry["field"], entry["msg"]) == detail
