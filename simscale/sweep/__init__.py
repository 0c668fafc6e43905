"""Batch sweeps, statistical comparison and capacity planning.

Public faces (imported from their modules, so that `simscale --help` stays fast):
`simscale.sweep.engine.load_sweep` / `run_sweep` (run a sweep), `simscale.sweep.compare.compare`
(statistics over summary.parquet) and `simscale.sweep.capacity.plan` (capacity planning); the
`sweep`, `compare` and `plan` commands are simscale.commands.sweep's.
"""
