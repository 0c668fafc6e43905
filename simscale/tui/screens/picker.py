"""The start screen: pick an experiment, edit its main parameters, start it.

Edits become `--set`-style overrides and are validated by simscale.spec.load_spec as they
are typed; a spec that does not validate shows its problems under the form and cannot start.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from simscale.tui.catalog import (
    FORM_FIELDS,
    Experiment,
    choices,
    find_experiments,
    form_fields,
    load_experiment,
    overrides_for,
    problem_fields,
    spec_data,
)
from simscale.tui.live import SPEEDS, parse_speed, speed_label


class PickerScreen(Screen):
    """Experiments on the left, the selected one's form on the right."""

    BINDINGS = [
        Binding("ctrl+r", "start", "Start", priority=True),
        Binding("o", "open_run", "Open run"),
        Binding("c", "compare", "Compare runs"),
        Binding("f5", "rescan", "Rescan", show=False),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self, experiments_dir: Path, runs_dir: Path, spec_path: Path | None = None,
                 speed: float | None = 10.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.experiments_dir = Path(experiments_dir)
        self.runs_dir = Path(runs_dir)
        self.spec_path = Path(spec_path) if spec_path is not None else None
        self.speed = speed
        self.paths: list[Path] = []
        self.current_path: Path | None = None
        self.initial: dict[str, str] = {}
        self.experiment: Experiment | None = None
        self.overrides: list[str] = []

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="picker"):
            with Vertical(id="catalog"):
                yield Label("Experiments", classes="section-title")
                yield OptionList(id="experiments")
                yield Static("", id="skipped")
            with VerticalScroll(id="form"):
                yield Static("", id="spec-title")
                for f in FORM_FIELDS:
                    with Horizontal(classes="field-row", id=f"row-{f.widget_id}"):
                        yield Label(f.label, classes="field-label")
                        if f.kind == "choice":
                            options = [(name, name) for name in choices(f)]
                            yield Select(options, id=f.widget_id, compact=True,
                                         allow_blank=True, prompt="(from spec)")
                        else:
                            yield Input(id=f.widget_id, compact=True,
                                        type="integer" if f.kind == "int" else "number",
                                        placeholder="(from spec)")
                with Horizontal(classes="field-row"):
                    yield Label("Speed", classes="field-label")
                    yield Select([(speed_label(s), speed_label(s)) for s in SPEEDS],
                                 value=speed_label(self.speed), id="speed", compact=True,
                                 allow_blank=False)
                yield Static("", id="problems-form")
                with Horizontal(id="buttons"):
                    yield Button("Start", id="start", variant="success", compact=True)
                    yield Button("Open run", id="open-run", compact=True)
                    yield Button("Compare", id="compare-runs", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        if self.spec_path is not None:  # a spec named on the command line opens at once
            self.show_experiments([], [], scanning=True)
        else:
            self.query_one("#skipped", Static).update(Text("scanning experiments…", "dim"))
        self.rescan()

    # ------------------------------------------------------------ experiments

    def rescan(self) -> None:
        """Validate every spec under the experiments folder off the UI thread."""
        self._scan()

    @work(thread=True, exclusive=True, group="scan")
    def _scan(self) -> None:
        valid, skipped = find_experiments(self.experiments_dir)
        try:
            self.app.call_from_thread(self.show_experiments, valid, skipped)
        except RuntimeError:
            pass  # the app closed while scanning

    def show_experiments(self, valid: list[Experiment], skipped: list[Path],
                         scanning: bool = False) -> None:
        """List the specs; keep the one being edited selected (and its edits)."""
        paths = [e.path for e in valid]
        names = {e.path: e.name for e in valid}
        if self.spec_path is not None and self.spec_path.resolve() not in \
                [p.resolve() for p in paths]:
            paths.insert(0, self.spec_path)
        self.paths = paths
        option_list = self.query_one("#experiments", OptionList)
        option_list.clear_options()
        widest = 0
        for i, path in enumerate(paths):
            label = names.get(path)
            prompt = Text(label) if label else Text(f"{path.stem} (file)", style="yellow")
            if label:
                rel = self._relative(path)
                if rel.parent != Path("."):
                    prompt.append(f"  {rel.parent}", style="dim")
            option_list.add_option(Option(prompt, id=str(i)))
            widest = max(widest, prompt.cell_len)
        self.list_width = widest
        self.fit_list()
        note = self.query_one("#skipped", Static)
        if scanning:
            note.update(Text("scanning experiments…", style="dim"))
        elif skipped:
            note.update(Text(f"{len(skipped)} other .toml file(s) are not specs", style="dim"))
        elif not paths:
            note.update(Text(f"no specs under {self.experiments_dir}/", style="yellow"))
        else:
            note.update("")
        if not paths:
            self.select(None)
            return
        resolved = [p.resolve() for p in paths]
        keep = self.current_path or self.spec_path
        start = resolved.index(keep.resolve()) if keep is not None and \
            keep.resolve() in resolved else 0
        with self.prevent(OptionList.OptionHighlighted):
            option_list.highlighted = start
        if self.current_path is None or self.current_path.resolve() != resolved[start]:
            self.select(paths[start])

    LIST_MIN, LIST_MAX_FRACTION = 24, 0.45

    def fit_list(self) -> None:
        """Size the experiment list to its longest entry, within 24 columns and 45% of the
        screen, so names are not wrapped on a wide screen."""
        need = getattr(self, "list_width", 0) + 6  # padding, border, scrollbar, margin
        most = max(self.LIST_MIN, int(self.size.width * self.LIST_MAX_FRACTION))
        self.query_one("#catalog").styles.width = max(self.LIST_MIN, min(need, most))

    def on_resize(self) -> None:
        self.fit_list()

    def _relative(self, path: Path) -> Path:
        try:
            return path.relative_to(self.experiments_dir)
        except ValueError:
            return path

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "experiments" and event.option.id is not None:
            path = self.paths[int(event.option.id)]
            if path != self.current_path:
                self.select(path)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "experiments":
            self.query_one(f"#{FORM_FIELDS[0].widget_id}").focus()

    def select(self, path: Path | None) -> None:
        """Load a spec into the form (its file values, not the overrides of the last one)."""
        self.current_path = path
        if path is None:
            self.experiment = None
            self.query_one("#spec-title", Static).update("")
            self._show_problems([])
            return
        exp = load_experiment(path)
        data = spec_data(path, exp.spec)
        present = dict(form_fields(data))
        self.initial = {f.key: text for f, text in present.items()}
        with self.prevent(Input.Changed, Select.Changed):
            for f in FORM_FIELDS:
                row = self.query_one(f"#row-{f.widget_id}")
                options = choices(f) if f.kind == "choice" else None
                shown = f in present and (options is None or bool(options))
                row.display = shown
                if not shown:
                    continue
                widget = self.query_one(f"#{f.widget_id}")
                text = present[f]
                if isinstance(widget, Select):
                    if text in options:
                        widget.value = text
                    else:
                        widget.clear()
                else:
                    widget.value = text
        self.validate()

    # ------------------------------------------------------------ validation

    def edited(self) -> dict[str, str]:
        """Current text of every shown field."""
        out = {}
        for f in FORM_FIELDS:
            if not self.query_one(f"#row-{f.widget_id}").display:
                continue
            widget = self.query_one(f"#{f.widget_id}")
            if isinstance(widget, Select):
                value = widget.value
                out[f.key] = "" if value is Select.NULL or value is None else str(value)
            else:
                out[f.key] = widget.value
        return out

    def validate(self) -> Experiment | None:
        """Reload the spec with the form's overrides; show its problems."""
        if self.current_path is None:
            return None
        self.overrides = overrides_for(self.initial, self.edited())
        exp = load_experiment(self.current_path, self.overrides)
        self.experiment = exp
        title = Text()
        title.append(exp.name, style="bold")
        if exp.description:
            title.append(f"\n{exp.description}", style="italic")
        title.append(f"\n{self.current_path}", style="dim")
        self.query_one("#spec-title", Static).update(title)
        self._show_problems(list(exp.problems))
        return exp

    def _show_problems(self, problems: list[str]) -> None:
        box = self.query_one("#problems-form", Static)
        bad = problem_fields(problems)
        for f in FORM_FIELDS:
            self.query_one(f"#{f.widget_id}").set_class(f.key in bad, "-invalid")
        start = self.query_one("#start", Button)
        exp = self.experiment
        if problems:
            box.update(Text("\n".join(f"✖ {p}" for p in problems), style="red"))
            box.set_class(True, "-error")
            start.disabled = True
        elif exp is not None and exp.valid:
            where = self.runs_dir / exp.name / f"<time>-{exp.spec.sha256()[:8]}"
            text = Text(f"✓ valid · outputs to {where}/", style="green")
            if self.overrides:
                text.append("\n" + " ".join(f"--set {o}" for o in self.overrides), style="dim")
            box.update(text)
            box.set_class(False, "-error")
            start.disabled = False
        else:
            box.update("")
            start.disabled = True

    def on_input_changed(self, event: Input.Changed) -> None:
        self.validate()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "speed":
            self.speed = parse_speed(str(event.value))
            return
        self.validate()

    # ------------------------------------------------------------ actions

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {"start": self.action_start, "open-run": self.action_open_run,
                   "compare-runs": self.action_compare}
        action = actions.get(event.button.id or "")
        if action is not None:
            action()

    def action_start(self) -> None:
        exp = self.validate()
        if exp is None or not exp.valid:
            self.notify("fix the spec's problems first", severity="error")
            return
        self.app.start_run(exp.spec, self.speed)

    def action_open_run(self) -> None:
        self.app.pick_runs("open")

    def action_compare(self) -> None:
        self.app.pick_runs("compare")

    def action_rescan(self) -> None:
        self.rescan()
