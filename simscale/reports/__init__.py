"""Runs for people: finished run directories read back (rundir), the summary in groups, one
number format, a run's time series as a PNG and an HTML page, what differs between runs, and
terminal output (tables, progress with an ETA)."""
