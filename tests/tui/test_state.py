"""DashboardState: cursor, windows, alerts and events at the cursor."""

from __future__ import annotations

from simscale.monitoring.alerts import CRITICAL, DEFAULT_RULES
from tests.tui.conftest import synthetic_rows


def make_state():
    from simscale.tui.state import DashboardState

    state = DashboardState(DEFAULT_RULES)
    state.add_rows(synthetic_rows())
    state.add_events([(15.0, "autoscaler", "hpa", "ScaleUp:cpu"),
                      (250.0, "balancer", "p2c", "Ejected:5xx")])
    return state


def test_follows_the_newest_row_until_moved():
    state = make_state()
    view = state.view()
    assert view.following and view.index == 29 and view.at_s == 300.0
    state.move(-5)
    assert not state.following and state.view().index == 24
    state.move(-100)
    assert state.view().index == 0
    state.follow()
    assert state.view().index == 29


def test_alerts_and_events_at_the_cursor():
    state = make_state()
    state.seek(4)  # t 40..50: nothing hot yet
    view = state.view()
    assert view.firing == () and [e[3] for e in view.events] == ["ScaleUp:cpu"]
    state.seek(16)  # hot since t=100 (row 10); the rules need 60 s: firing from t=160
    firing = {a.rule: a.severity for a in state.view().firing}
    assert firing == {"HighResponseTime": CRITICAL, "HighCPU": CRITICAL}
    state.seek(25)  # cooled at t=200: resolved
    view = state.view()
    assert view.firing == ()
    assert [t.reason for t in view.transitions][-1] == "Resolved"


def test_windows_cycle_and_follow_the_cursor():
    state = make_state()
    assert state.window == "all"
    assert [state.cycle_window() for _ in range(4)] == ["1m", "5m", "1h", "all"]
    state.cycle_window()  # 1m
    state.seek(9)
    view = state.view()
    assert len(view.window_rows) == 6 and view.window_data().end_s == 100.0
    assert view.series("x") == [None] * 6
    assert [r["t_s"] for r in view.window_rows] == [40.0, 50.0, 60.0, 70.0, 80.0, 90.0]
    assert view.window_data("5m", ["errors"]).value("errors") == 10


def test_kept_rows_stay_aligned_with_their_alerts():
    """keep_s bounds memory (a fleet's dashboard runs for months); what is kept is what an
    unbounded state shows for the same rows."""
    from simscale.tui.state import DashboardState

    full = make_state()
    kept = DashboardState(DEFAULT_RULES, keep_s=100.0)
    kept.add_rows(synthetic_rows())
    kept.add_events([(15.0, "autoscaler", "hpa", "ScaleUp:cpu"),
                     (250.0, "balancer", "p2c", "Ejected:5xx")])
    assert kept.view().rows == 10 and kept.rows[0]["t_s"] == 200.0
    assert [e[3] for e in kept.events] == ["Ejected:5xx"]
    assert kept.transitions == full.transitions  # the rules saw every row
    for back in range(10):
        full.seek(29 - back)
        kept.seek(9 - back)
        a, b = full.view(), kept.view()
        assert (a.row, a.firing, a.transitions) == (b.row, b.firing, b.transitions)
