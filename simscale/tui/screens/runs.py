"""Choosing finished runs: one to replay, or two or more to compare side by side."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from simscale.errors import InputError
from simscale.outputs.rundirs import LATEST, resolve_run_dir
from simscale.reports.rundir import find_runs, load_run

OPEN, COMPARE = "open", "compare"


class RunsScreen(Screen):
    """A list of run directories under runs/, and a path field for any other."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+r", "go", "Open / compare", priority=True),
    ]

    def __init__(self, runs_dir: Path, mode: str = OPEN, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs_dir = Path(runs_dir)
        self.mode = mode
        self.runs = find_runs(self.runs_dir)

    def compose(self) -> ComposeResult:
        verb = "Open a finished run" if self.mode == OPEN else "Compare runs (pick two or more)"
        with Vertical(id="runs-box"):
            yield Label(verb, classes="section-title")
            if self.mode == OPEN:
                yield OptionList(*[Option(self._label(p), id=str(i))
                                   for i, p in enumerate(self.runs)], id="run-list")
            else:
                yield SelectionList[int](*[(self._label(p), i) for i, p in enumerate(self.runs)],
                                         id="run-list")
            yield Input(placeholder="…or a run directory path, then Enter", id="run-path")
            yield Static("", id="run-problems")
            with Horizontal(id="buttons"):
                yield Button("Open" if self.mode == OPEN else "Compare", id="go",
                             variant="primary", compact=True)
                yield Button("Back", id="back", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        if not self.runs:
            self.say(f"no run directories under {self.runs_dir}/ — type a path", "yellow")

    def _label(self, path: Path) -> Text:
        """`name/<time>-<hash>` under the runs folder (any other path in full); the newest
        run of an experiment is marked latest."""
        try:
            shown = str(path.relative_to(self.runs_dir))
        except ValueError:
            shown = str(path)
        text = Text(shown)
        latest = path.parent / LATEST
        if latest.exists() and resolve_run_dir(latest).resolve() == path.resolve():
            text.append("  latest", style="green")
        return text

    def say(self, message: str, style: str = "red") -> None:
        self.query_one("#run-problems", Static).update(Text(message, style=style))

    def chosen(self) -> list[Path]:
        typed = self.query_one("#run-path", Input).value.strip()
        paths = [Path(p) for p in typed.split()] if typed else []
        run_list = self.query_one("#run-list")
        if isinstance(run_list, SelectionList):
            paths = [self.runs[i] for i in run_list.selected] + paths
        elif run_list.highlighted is not None and not paths:
            paths = [self.runs[run_list.highlighted]]
        return paths

    def open(self, paths: list[Path]) -> None:
        need = 1 if self.mode == OPEN else 2
        if len(paths) < need:
            self.say("pick a run" if need == 1 else "pick two or more runs")
            return
        loaded = []
        for path in paths[: 1 if self.mode == OPEN else None]:
            try:
                loaded.append(load_run(path))
            except InputError as exc:
                self.say("\n".join(exc.problems))
                return
        if self.mode == OPEN:
            self.app.open_replay(loaded[0])
        else:
            self.app.open_compare(loaded)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if self.mode == OPEN and event.option.id is not None:
            self.open([self.runs[int(event.option.id)]])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.open(self.chosen())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "go":
            self.open(self.chosen())
        elif event.button.id == "back":
            self.dismiss()

    def action_go(self) -> None:
        self.open(self.chosen())

    def action_back(self) -> None:
        self.dismiss()
