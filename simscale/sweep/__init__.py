"""Batch sweeps, statistical comparison and capacity planning.

Public faces (imported from their modules, so that `simscale --help` stays fast):
`simscale.sweep.runlist.load_sweep` and `simscale.sweep.engine.run_sweep` (run a sweep on
simscale.sweep.pools), `simscale.sweep.compare.compare` (statistics over summary.parquet),
`simscale.sweep.claims.judge` (claims) and `simscale.sweep.capacity.plan` (capacity
planning); the `sweep`, `compare` and `plan` commands are simscale.commands.sweep's.
"""
