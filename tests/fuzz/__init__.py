"""Property-based fuzzing of simscale's inputs end to end (see tests/fuzz/settings.py)."""
