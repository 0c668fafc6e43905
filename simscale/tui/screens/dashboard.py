"""The dashboard: a live run (LiveScreen) or a finished one (ReplayScreen), laid out by config.

Both show the same widgets over a DashboardState; they differ in where the rows come from.
A live run is simulated on a Textual thread worker by LiveRun; its updates arrive as
messages (at most ten a second, coalesced) and the screen redraws live data at most four
times a second, so that an as-fast-as-possible run leaves the interface most of its time.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from simscale.monitoring.alerts import spec_rules
from simscale.monitoring.dashboard import DashboardConfig
from simscale.reports.rundir import RunData
from simscale.tui.live import (
    FAILED,
    FINISHED,
    PAUSED,
    RUNNING,
    SPEEDS,
    STOPPED,
    LiveDone,
    LiveRun,
    LiveUpdate,
    speed_label,
)
from simscale.tui.state import DashboardState, View, replay_state
from simscale.tui.timeline import Timeline, cursor_fraction, timeline_bindings
from simscale.tui.widgets import DashboardWidget, SummaryPanel, build_widget

STATE_MARKS = {RUNNING: ("▶", "bold green"), PAUSED: ("‖", "bold yellow"),
               FINISHED: ("■", "bold cyan"), STOPPED: ("■", "bold yellow"),
               FAILED: ("✖", "bold red")}


class DashboardScreen(Screen):
    """Status line, timeline slider, two columns of configured widgets, key footer."""

    BINDINGS = [*timeline_bindings(end_action="follow", end_label="Latest"),
                Binding("u", "toggle_summary", "Summary")]

    REDRAW_S = 0.25  # live data is redrawn at most 4 times a second; keys redraw at once

    def __init__(self, config: DashboardConfig, title: str, rules=(), **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.run_title = title
        self.state = DashboardState(rules, window=config.window)
        self.problems: list[str] = []
        self._dirty = False

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        yield Timeline(id="timeline")
        yield Static("", id="problems")
        panel = SummaryPanel("", id="run-summary")
        panel.display = False
        yield panel
        with Horizontal(id="columns"):
            for column in ("left", "right"):
                widgets = self.config.in_column(column)
                scroll = VerticalScroll(id=column, classes="dash-column", can_focus=False)
                scroll.display = bool(widgets)
                with scroll:
                    for cfg in widgets:
                        yield build_widget(cfg)
        yield Footer()

    def on_mount(self) -> None:
        self.set_focus(None)
        self.set_interval(self.REDRAW_S, self._refresh_if_dirty)
        self.show_problems()
        self.refresh_view()

    # ------------------------------------------------------------ drawing

    def mark_dirty(self) -> None:
        """Ask for a redraw at the next tick (coalesces bursts of updates)."""
        self._dirty = True

    def _refresh_if_dirty(self) -> None:
        if self._dirty:
            self.refresh_view()

    def refresh_view(self) -> None:
        self._dirty = False
        view = self.state.view()
        for widget in self.query(DashboardWidget).results():
            widget.update_view(view)
        self.query_one("#status", Static).update(self.status_text(view))
        self.query_one(Timeline).set(self.progress(view), self.cursor_position(view),
                                     self.timeline_label(view))

    def show_problems(self) -> None:
        banner = self.query_one("#problems", Static)
        banner.display = bool(self.problems)
        banner.update(Text("\n".join(self.problems), style="bold"))

    def status_text(self, view: View) -> Text:  # overridden
        return Text(self.run_title)

    def progress(self, view: View) -> float:
        return 1.0

    def cursor_position(self, view: View) -> float | None:
        """Where the timeline draws the cursor (fraction of the rows; None: nowhere)."""
        return cursor_fraction(view)

    def timeline_label(self, view: View) -> str:
        if view.index is None:
            return "no rows yet"
        return f"t={view.at_s:,.0f}s row {view.index + 1}/{view.rows}"

    def cursor_text(self, view: View) -> str:
        if view.index is None:
            return ""
        if view.following:
            return "latest row"
        return f"cursor row {view.index + 1}/{view.rows}"

    # ------------------------------------------------------------ keys

    def action_scrub(self, delta: int) -> None:
        self.state.move(delta)
        self.refresh_view()

    def action_seek_start(self) -> None:
        self.state.seek(0)
        self.refresh_view()

    def action_follow(self) -> None:
        self.state.follow()
        self.refresh_view()

    def action_window(self) -> None:
        self.state.cycle_window()  # the status line shows it
        self.refresh_view()

    def action_back(self) -> None:
        self.dismiss()

    def action_toggle_summary(self) -> None:
        panel = self.query_one(SummaryPanel)
        if getattr(panel, "summary", None):
            panel.display = not panel.display

    def on_timeline_seek(self, message: Timeline.Seek) -> None:
        self.state.seek_fraction(message.fraction)
        self.refresh_view()


class LiveScreen(DashboardScreen):
    """A run started from the TUI: simulated off the UI thread, paced, paused, stopped."""

    BINDINGS = [
        Binding("space", "toggle_pause", "Pause"),
        Binding("s", "stop", "Stop"),
        Binding("plus,equals_sign", "speed(1)", "Speed", key_display="+/-"),
        Binding("minus", "speed(-1)", "Slower", show=False),
    ]

    class Progress(Message):
        def __init__(self, update: LiveUpdate) -> None:
            super().__init__()
            self.update = update

    class Ended(Message):
        def __init__(self, done: LiveDone) -> None:
            super().__init__()
            self.done = done

    def __init__(self, spec, out_dir: Path | None, config: DashboardConfig, *,
                 speed: float | None = 10.0, pause_at_s: float | None = None,
                 mark_latest: bool = False, **kwargs) -> None:
        rules = spec_rules(spec)
        super().__init__(config, spec.name, rules, **kwargs)
        self.spec = spec
        self.out_dir = out_dir
        self.live = LiveRun(spec, out_dir, self._publish, speed=speed, pause_at_s=pause_at_s)
        self.run_state = RUNNING
        self.sim_t_s = 0.0
        self.end_s = float(spec.duration_s)
        self.wall_s = 0.0
        self.done: LiveDone | None = None
        self.mark_latest = mark_latest

    def on_mount(self) -> None:
        super().on_mount()
        self.simulate()

    @work(thread=True, exclusive=True, name="simulation", exit_on_error=False)
    def simulate(self) -> None:
        worker = get_current_worker()
        self.live.cancel_when(lambda: worker.is_cancelled)
        done = self.live.run()
        self.post_message(self.Ended(done))

    def _publish(self, update: LiveUpdate) -> None:
        """Called on the simulating thread: hand the update to the UI thread."""
        self.post_message(self.Progress(update))

    def on_live_screen_progress(self, message: LiveScreen.Progress) -> None:
        update = message.update
        self.state.add_rows(update.rows)
        self.state.add_events(update.events)
        self.state.set_instances(update.instances)
        self.sim_t_s, self.end_s, self.wall_s = update.sim_t_s, update.end_s, update.wall_s
        if self.done is None:
            self.run_state = update.state
        self.mark_dirty()

    def on_live_screen_ended(self, message: LiveScreen.Ended) -> None:
        done = message.done
        self.done = done
        self.run_state = done.state
        if self.mark_latest and done.out_dir is not None:
            from simscale.outputs.rundirs import mark_latest

            mark_latest(done.out_dir)
        if done.state == FAILED:
            self.problems = [f"run failed: {done.error}"]
            self.notify(f"run failed: {done.error}", severity="error", timeout=8)
        elif done.state == STOPPED:
            self.notify(f"run stopped; partial outputs in {done.out_dir}/", timeout=4)
        else:
            self.notify(f"run finished; outputs in {done.out_dir}/", timeout=4)
        self.show_problems()
        self.query_one(SummaryPanel).show_summary(done.summary, self.summary_title(done))
        self.refresh_view()

    @staticmethod
    def summary_title(done: LiveDone) -> str:
        where = f" · {done.out_dir}/" if done.out_dir is not None else ""
        return f"Run summary ({done.state}){where}"

    @property
    def running(self) -> bool:
        return self.done is None

    # ------------------------------------------------------------ drawing

    def progress(self, view: View) -> float:
        return min(1.0, self.sim_t_s / self.end_s) if self.end_s else 1.0

    def status_text(self, view: View) -> Text:
        mark, style = STATE_MARKS.get(self.run_state, ("·", ""))
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f" {mark} {self.run_state} ", style=f"{style} reverse")
        text.append(f" {self.run_title} ", style="bold")
        text.append(f" t={self.sim_t_s:,.0f}/{max(self.end_s, self.sim_t_s):,.0f}s ")
        text.append(f" speed {speed_label(self.live.speed)} ")
        text.append(f" window {self.state.window} ")
        if self.wall_s > 0:
            text.append(f" {self.sim_t_s / self.wall_s:,.0f} sim-s/s ", style="dim")
        cursor = self.cursor_text(view)
        if cursor:
            text.append(f" {cursor}", style="dim" if view.following else "bold yellow")
        return text

    def timeline_label(self, view: View) -> str:
        pct = 100 * self.progress(view)
        base = super().timeline_label(view)
        return f"{pct:3.0f}% {base}"

    # ------------------------------------------------------------ keys

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in ("toggle_pause", "stop", "speed") and not self.running:
            return None  # shown dimmed: the run is over
        return True

    def action_toggle_pause(self) -> None:
        if not self.running:
            return
        paused = self.live.toggle_pause()
        self.run_state = PAUSED if paused else RUNNING
        self.refresh_view()

    def action_stop(self) -> None:
        if self.running:
            self.live.stop()
            self.notify("stopping…", timeout=1.5)

    def action_speed(self, step: int) -> None:
        if not self.running:
            return
        try:
            i = SPEEDS.index(self.live.speed)
        except ValueError:
            i = len(SPEEDS) - 1
        speed = SPEEDS[max(0, min(len(SPEEDS) - 1, i + step))]
        self.live.set_speed(speed)
        self.notify(f"speed: {speed_label(speed)}", timeout=1.5)
        self.refresh_view()

    def action_back(self) -> None:
        if self.running:
            self.live.stop()
        self.dismiss()

    def on_unmount(self) -> None:
        self.live.stop()


class ReplayScreen(DashboardScreen):
    """A finished run read from its directory; the cursor scrubs through its rows."""

    def __init__(self, data: RunData, config: DashboardConfig, **kwargs) -> None:
        super().__init__(config, data.name, **kwargs)
        self.data = data
        self.problems = [f"⚠ {p}" for p in data.problems]
        self.state = replay_state(data, config.window)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(SummaryPanel).show_summary(self.data.summary,
                                                  f"Run summary · {self.data.path.name}/")

    def status_text(self, view: View) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        complete = self.data.complete
        text.append(" ◆ replay ", style="bold cyan reverse" if complete else "bold yellow reverse")
        text.append(f" {self.run_title} ", style="bold")
        end = self.data.summary.get("simulated_s") if self.data.summary else None
        if end is not None:
            text.append(f" t={view.at_s:,.0f}/{float(end):,.0f}s ")
        else:
            text.append(f" t={view.at_s:,.0f}s ")
        text.append(f" window {self.state.window} ")
        cursor = self.cursor_text(view)
        if cursor:
            text.append(f" {cursor}", style="dim" if view.following else "bold yellow")
        if not complete:
            text.append("  incomplete", style="bold yellow")
        return text

    def progress(self, view: View) -> float:
        return 1.0

    def cursor_position(self, view: View) -> float | None:
        if view.index is None:
            return None
        return view.index / max(1, view.rows - 1)
