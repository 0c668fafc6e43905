"""Tests of batch sweeps, comparison and capacity planning."""
