"""The terminal interface (`simscale tui`): pick, edit, run, watch, replay and compare runs.

The TUI displays and controls: live.py and state.py hold its Textual-free state; widgets,
the timeline and screens only display. Its command (simscale.commands.tui) imports Textual
inside the command, so `simscale --help` stays fast.
"""
