"""Workload tests: arrival generators and trace readers."""
