"""The timeline under a dashboard: a one-line slider over the run's rows (click to seek), the
cursor's place on it, and the keys that move the cursor."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.message import Message
from textual.widget import Widget

from simscale.tui.state import View


class Timeline(Widget):
    """A one-line slider over the run's rows: progress, the cursor, click to seek."""

    class Seek(Message):
        def __init__(self, fraction: float) -> None:
            super().__init__()
            self.fraction = fraction

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.progress = 0.0   # simulated fraction of the run done
        self.cursor: float | None = None  # cursor position as a fraction (None: following)
        self.label = ""

    def set(self, progress: float, cursor: float | None, label: str) -> None:
        self.progress, self.cursor, self.label = progress, cursor, label
        self.refresh()

    def render(self) -> Text:
        width = max(10, self.size.width)
        label = f" {self.label}" if self.label else ""
        bar_w = max(5, width - len(label) - 1)
        done = int(round(max(0.0, min(1.0, self.progress)) * bar_w))
        text = Text(no_wrap=True)
        at = None
        if self.cursor is not None:
            at = min(bar_w - 1, int(self.cursor * max(0, done - 1))) if done else 0
        for i in range(bar_w):
            if i == at:
                text.append("●", style="bold yellow")
            elif i < done:
                text.append("━", style="bold green")
            else:
                text.append("─", style="bright_black")
        text.append(label)
        return text

    def on_click(self, event: Click) -> None:
        label = f" {self.label}" if self.label else ""
        bar_w = max(5, max(10, self.size.width) - len(label) - 1)
        done = max(1, int(round(self.progress * bar_w)))
        if event.x < bar_w:
            self.post_message(self.Seek(min(1.0, event.x / max(1, done - 1))))


def cursor_fraction(view: View) -> float | None:
    if view.following or not view.rows or view.index is None:
        return None
    return view.index / max(1, view.rows - 1)


def timeline_bindings(end_action: str, end_label: str) -> list[Binding]:
    """The keys of a screen with a timeline: scrub, jump to either end, window, back."""
    return [
        Binding("left", "scrub(-1)", "Scrub", key_display="←→"),
        Binding("right", "scrub(1)", "Scrub", key_display="→", show=False),
        Binding("shift+left,pageup", "scrub(-10)", "Back 10 rows", show=False),
        Binding("shift+right,pagedown", "scrub(10)", "Forward 10 rows", show=False),
        Binding("home", "seek_start", "First row", show=False),
        Binding("end", end_action, end_label),
        Binding("w", "window", "Window"),
        Binding("escape", "back", "Back"),
    ]
