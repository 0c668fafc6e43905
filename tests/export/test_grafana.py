"""--target grafana: the dashboard TOML as Grafana dashboard JSON, one panel per widget, checked
against the dashboard JSON model; its queries parsed by promtool."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from simscale.export import grafana
from simscale.export.checks import check_grafana
from simscale.export.plan import plan_from_spec
from simscale.export.targets import export_plan, write_export
from simscale.export.validate import OK, validate_files
from simscale.monitoring.dashboard import DEFAULT_DASHBOARD, load_dashboard
from tests.conftest import ROOT
from tests.export.helpers import loss_fields, make_spec

BOARD = ROOT / "experiments" / "dashboards" / "default.toml"


def _export(dashboard=None):
    plan = plan_from_spec(make_spec(cache={"shards": 2}), dashboard=dashboard)
    return export_plan(plan, "grafana")


def _doc(exported) -> dict:
    return json.loads(exported.files[grafana.FILE])


def test_one_panel_per_widget_in_file_order_and_column():
    # Before: no grafana target ("unknown target").
    config = load_dashboard(BOARD)
    doc = _doc(_export(config))
    assert len(doc["panels"]) == len(config.widgets)
    for widget, panel in zip(config.widgets, doc["panels"]):
        assert panel["type"] == grafana.PANEL_TYPES[widget.kind]
        assert panel["gridPos"]["x"] == (0 if widget.column == "left" else 12)
    latency = next(p for p in doc["panels"] if p["title"] == "Latency")
    assert [t["legendFormat"] for t in latency["targets"]] == [
        "latency_p50_s", "latency_p95_s", "latency_p99_s"]
    assert latency["fieldConfig"]["defaults"]["unit"] == "s"
    assert "histogram_quantile(0.95" in latency["targets"][1]["expr"]
    cpu = next(p for p in doc["panels"] if p["title"] == "CPU / memory")
    assert cpu["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert check_grafana(_export(config).files[grafana.FILE]) == []


def test_the_default_dashboard_is_the_tui_default():
    assert _export().files == _export(DEFAULT_DASHBOARD).files


def test_a_metric_without_a_series_is_a_warning_and_its_panel_stays():
    exported = _export()
    assert "dashboard.widgets.9.metrics" in loss_fields(exported)   # db_*, errors
    stats = _doc(exported)["panels"][9]
    assert stats["type"] == "stat" and stats["targets"]


def _broken(change) -> list[str]:
    doc = copy.deepcopy(_doc(_export()))
    change(doc)
    return check_grafana(json.dumps(doc))


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["panels"][1].update(id=1), "must be a unique whole number"),
    (lambda d: d["panels"][1]["gridPos"].update(y=0), "overlaps another panel"),
    (lambda d: d["panels"][0]["gridPos"].update(x=20), "not inside the 24-column grid"),
    (lambda d: d.update(uid="x" * 41), "uid"),
    (lambda d: d["panels"][0]["targets"][1].update(refId="A"), "refIds must be unique"),
    (lambda d: d["panels"][0].update(type="graphite-thing"), "not a known panel type"),
    (lambda d: d.pop("schemaVersion"), "schemaVersion: must be a int"),
    (lambda d: d["panels"][0]["targets"][0].update(expr=" "), "expr: required"),
])
def test_the_structure_check_names_what_breaks_the_json_model(change, message):
    assert any(message in p for p in _broken(change)), _broken(change)


def test_promtool_parses_every_panel_query(tmp_path):
    if shutil.which("promtool") is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    exported = _export(load_dashboard(BOARD))
    write_export(exported, tmp_path)
    results = validate_files("grafana", tmp_path, list(exported.files))
    assert [r.status for r in results] == [OK, OK], [str(r) for r in results]
    assert "queries parsed" in results[1].detail
