"""Watching a service as production does: alert rules evaluated on metric rows (alerts), which
widgets a dashboard shows (dashboard: the TUI's and the Grafana export's), dashboard data over
rolling windows (windows), and service-level objectives that gate a command's exit code
(slo)."""
