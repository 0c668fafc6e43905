"""The terminal interface (`simscale tui`): pick, edit, run, watch, replay and compare runs.

Only `command.register` is imported by the CLI; everything that imports Textual is loaded
inside the command, so `simscale --help` stays fast.
"""
