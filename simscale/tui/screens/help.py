"""The `?` screen: every key the screen below it answers to, with what it does."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static


class HelpScreen(ModalScreen):
    """Keys of the screen underneath: (key, description) rows, Escape or ? to close."""

    BINDINGS = [
        Binding("escape,question_mark,f1,q", "close", "Close"),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(**kwargs)
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Label(f"Keys · {self.title_text}", classes="section-title")
            yield DataTable(id="help-table", show_cursor=False, zebra_stripes=True)
            yield Static(Text("Esc or ? closes · Ctrl+Q quits", style="dim"))

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("key", key="key")
        table.add_column("does", key="does")
        for key, description in self.keys:
            table.add_row(Text(key, style="bold"), description)

    def action_close(self) -> None:
        self.dismiss()
