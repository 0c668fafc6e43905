"""The cache component of the model."""

from __future__ import annotations


def attach(model, section, database) -> object | None:
    """Build the component from its spec section and hook it into the model (None: off)."""
    return None
