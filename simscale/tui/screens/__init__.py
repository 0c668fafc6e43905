"""The TUI's screens."""

from simscale.tui.screens.compare import CompareScreen
from simscale.tui.screens.dashboard import DashboardScreen, LiveScreen, ReplayScreen
from simscale.tui.screens.help import HelpScreen
from simscale.tui.screens.picker import PickerScreen
from simscale.tui.screens.runs import RunsScreen

__all__ = ["CompareScreen", "DashboardScreen", "HelpScreen", "LiveScreen", "PickerScreen",
           "ReplayScreen", "RunsScreen"]
