"""Dashboard config: the shipped default, validation errors, glob resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from simscale.errors import InputError
from simscale.monitoring.dashboard import DEFAULT_DASHBOARD, ChartWidget, load_dashboard, resolve

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_default_matches_built_in_default():
    assert load_dashboard(ROOT / "experiments/dashboards/default.toml") == DEFAULT_DASHBOARD


def test_default_has_the_issue_charts_and_panels():
    kinds = [w.kind for w in DEFAULT_DASHBOARD.widgets]
    assert {"chart", "events", "alerts", "instances", "stats"} <= set(kinds)
    titles = [w.title for w in DEFAULT_DASHBOARD.charts()]
    assert titles == ["Requests", "Latency", "Instances", "CPU / memory", "Cache hit rate",
                      "Errors"]


def test_order_and_columns_come_from_the_file(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text("""
title = "mine"
window = "5m"
[[widgets]]
kind = "alerts"
column = "left"
[[widgets]]
kind = "chart"
title = "p99"
metrics = ["latency_p99_s"]
column = "right"
""")
    config = load_dashboard(path)
    assert config.title == "mine" and config.window == "5m"
    assert [w.kind for w in config.in_column("left")] == ["alerts"]
    right = config.in_column("right")
    assert isinstance(right[0], ChartWidget) and right[0].height == 3


@pytest.mark.parametrize(("body", "message"), [
    ('[[widgets]]\nkind = "pie"\n', "widgets.0"),
    ('[[widgets]]\nkind = "chart"\ntitle = "x"\n', "widgets.0.chart.metrics: required field"),
    ('[[widgets]]\nkind = "events"\ncolour = "red"\n', "widgets.0.events.colour: unknown field"),
    ('window = "2h"\n[[widgets]]\nkind = "alerts"\n', "window"),
    ('title = "no widgets"\n', "widgets: required field"),
    ('[[widgets]\n', "TOML syntax error"),
])
def test_bad_config_names_file_and_field(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(InputError) as info:
        load_dashboard(path)
    text = "\n".join(info.value.problems)
    assert str(path) in text and message in text


def test_resolve_globs_in_pattern_order_once():
    available = ["instances_ready", "cpu_util_frac", "instances_booting", "cache_hit_frac"]
    assert resolve(["instances_*", "instances_ready", "memory_frac"], available) == [
        "instances_ready", "instances_booting"]
    assert resolve(["cache_hit*", "cpu_util_frac"], available) == ["cache_hit_frac",
                                                                  "cpu_util_frac"]
    assert resolve(["db_*"], available) == []
