"""`simscale report`: one run's time series as a PNG and a self-contained HTML page."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simscale.cli import app
from simscale.reports.plot import alert_spans

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def hot_run(tmp_path_factory) -> Path:
    """The quickstart at 175 rps: CPU above 80% for minutes, so HighCPU fires."""
    out = tmp_path_factory.mktemp("report") / "run"
    result = CliRunner().invoke(app, [
        "run", str(ROOT / "experiments" / "quickstart.toml"), "--out", str(out), "--quiet",
        "--set", "duration_s=180", "--set", "workload.arrivals.rate_rps=175"])
    assert result.exit_code == 0, result.output
    return out


def decode_png(data: bytes):
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_png_and_html_are_written_and_self_contained(hot_run, tmp_path):
    png, page = tmp_path / "run.png", tmp_path / "run.html"
    result = CliRunner().invoke(app, ["report", str(hot_run), "--png", str(png),
                                      "--html", str(page)])
    assert result.exit_code == 0, result.output
    image = decode_png(png.read_bytes())
    assert image.format == "PNG" and image.size[0] >= 800 and image.size[1] >= 600
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "url(" not in text and "@import" not in text
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(embedded) == 1
    assert decode_png(base64.b64decode(embedded[0])).size == image.size
    assert "HighCPU" in text and "warning" in text  # the alert that fired is listed
    for group in ("traffic", "latency", "errors", "capacity and cost"):
        assert f">{group}<" in text


def test_without_outputs_it_prints_the_grouped_summary_and_alerts(hot_run):
    result = CliRunner().invoke(app, ["report", str(hot_run)])
    assert result.exit_code == 0, result.output
    assert "latency_p95_s" in result.output and "capacity and cost" in result.output
    assert re.search(r"alert HighCPU \(warning\): \d+ s", result.output)


def test_a_missing_run_or_an_unwritable_target_exits_2(tmp_path, hot_run):
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope"), "--png",
                                      str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "no such directory" in result.output
    result = CliRunner().invoke(app, ["report", str(hot_run), "--html",
                                      str(tmp_path / "no" / "dir" / "x.html")])
    assert result.exit_code == 2 and "no such directory" in result.output


def test_alert_spans_run_from_firing_to_resolved_at_their_worst_severity():
    events = [(60.0, "alert", "HighCPU", "Firing:warning cpu_util_frac=0.85>0.8"),
              (90.0, "alert", "HighCPU", "Firing:critical cpu_util_frac=0.95>0.9"),
              (120.0, "alert", "HighCPU", "Resolved"),
              (100.0, "instance", "0", "Ready"),
              (150.0, "alert", "HighErrorRate", "Firing:warning error_rate=0.06>0.05")]
    spans = alert_spans(events, end_s=200.0)
    assert [(s.rule, s.severity, s.start_s, s.end_s, s.still_firing) for s in spans] == [
        ("HighCPU", "critical", 60.0, 120.0, False),
        ("HighErrorRate", "warning", 150.0, 200.0, True)]
