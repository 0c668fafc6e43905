"""Autoscaling policies: each turns a ClusterView into a ScaleDecision."""

ENTRIES: tuple = ()
