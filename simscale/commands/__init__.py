"""The command line's commands, one module per family: run (run, report, schema), selfcheck
(validate, bench), sweep (sweep, compare, plan), export (export, import) and tui; `serve` is
simscale.serve.command's. Each module imports only typer at the top and has a `register(app)`
that simscale.cli calls; the work is imported inside each command, so `simscale --help`
stays fast."""
