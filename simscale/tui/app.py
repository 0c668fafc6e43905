"""The simscale Textual app: screens for picking, running, replaying and comparing runs.

The app displays and controls; the model runs in simscale.model.runner on a worker thread and only
plain copies of its data reach the screens.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from simscale.monitoring.dashboard import DEFAULT_DASHBOARD, DashboardConfig
from simscale.reports.rundir import RunData
from simscale.tui.screens import (
    CompareScreen,
    HelpScreen,
    LiveScreen,
    PickerScreen,
    ReplayScreen,
    RunsScreen,
)


class SimscaleApp(App):
    """`simscale tui`: pick an experiment and run it live, or open finished runs."""

    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    TITLE = "simscale"
    SUB_TITLE = "AI-chat service simulator"
    BINDINGS = [
        Binding("question_mark,f1", "help", "Keys", key_display="?"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, *, spec_path: Path | None = None, runs: list[RunData] | None = None,
                 experiments_dir: Path = Path("experiments"), runs_dir: Path = Path("runs"),
                 dashboard: DashboardConfig | None = None, speed: float | None = 10.0,
                 pause_at_s: float | None = None) -> None:
        super().__init__()
        self.spec_path = spec_path
        self.initial_runs = runs or []
        self.experiments_dir = Path(experiments_dir)
        self.runs_dir = Path(runs_dir)
        self.dashboard = dashboard or DEFAULT_DASHBOARD
        self.speed = speed
        self.pause_at_s = pause_at_s  # a breakpoint for live runs (tests, screenshots)
        if self.dashboard.title:
            self.title = self.dashboard.title

    def on_mount(self) -> None:
        self.push_screen(PickerScreen(self.experiments_dir, self.runs_dir, self.spec_path,
                                      speed=self.speed))
        if len(self.initial_runs) == 1:
            self.open_replay(self.initial_runs[0])
        elif len(self.initial_runs) > 1:
            self.open_compare(self.initial_runs)

    # ------------------------------------------------------------ navigation

    def start_run(self, spec, speed: float | None) -> LiveScreen:
        """Run a validated spec live into a new run directory, runs/<name>/<time>-<hash>/,
        as `simscale run` does; `latest` points at it once it ends."""
        from simscale.outputs.rundirs import run_dir_for

        screen = LiveScreen(spec, run_dir_for(spec, self.runs_dir), self.dashboard, speed=speed,
                            pause_at_s=self.pause_at_s, mark_latest=True)
        self.push_screen(screen)
        return screen

    def pick_runs(self, mode: str) -> None:
        self.push_screen(RunsScreen(self.runs_dir, mode))

    def _leave_run_picker(self) -> None:
        if isinstance(self.screen, RunsScreen):
            self.pop_screen()

    def open_replay(self, data: RunData) -> None:
        self._leave_run_picker()
        self.push_screen(ReplayScreen(data, self.dashboard))
        if data.problems:
            self.notify("\n".join(data.problems[:4]), title=f"{data.path}", severity="warning",
                        timeout=6)

    def open_compare(self, runs: list[RunData]) -> None:
        self._leave_run_picker()
        self.push_screen(CompareScreen(runs, self.dashboard))

    # ------------------------------------------------------------ keys

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        screen = self.screen
        self.push_screen(HelpScreen(type(screen).__name__.replace("Screen", ""),
                                    self.keys_of(screen)))

    def keys_of(self, screen) -> list[tuple[str, str]]:
        """(keys, what they do) for a screen: its own bindings, then the app's."""
        by_description: dict[str, list[str]] = {}
        classes = [c for c in type(screen).__mro__ if c.__module__.startswith("simscale.")]
        for cls in [*classes, type(self)]:
            for binding in cls.__dict__.get("BINDINGS", []):
                if not isinstance(binding, Binding) or not binding.description:
                    continue
                shown = binding.key_display or " / ".join(
                    self.get_key_display(Binding(k.strip(), binding.action))
                    for k in binding.key.split(","))
                keys = by_description.setdefault(binding.description, [])
                if not any(shown in k for k in keys):
                    keys.append(shown)
        rows = [(" / ".join(keys), what) for what, keys in by_description.items()]
        return rows + self.screen_help(screen)

    @staticmethod
    def screen_help(screen) -> list[tuple[str, str]]:
        """Keys that are not bindings of their own."""
        from simscale.tui.screens import DashboardScreen

        if isinstance(screen, DashboardScreen):
            return [("click the timeline", "Seek")]
        if isinstance(screen, PickerScreen):
            return [("tab / shift+tab", "Next / previous field"),
                    ("↑ ↓ (list)", "Pick an experiment")]
        return []
