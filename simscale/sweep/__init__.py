"""Batch sweeps, statistical comparison and capacity planning.

Public faces (imported from their modules, so that `simscale --help` stays fast):
`simscale.sweep.engine.load_sweep` / `run_sweep` (run a sweep), `simscale.sweep.compare.compare`
(statistics over summary.parquet), `simscale.sweep.plan.plan` (capacity planning),
`simscale.sweep.bench.bench_sweep` (throughput of the sweep engine) and
`simscale.sweep.command.register` (the `sweep`, `compare` and `plan` commands).
"""
