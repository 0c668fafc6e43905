"""Spec sections, one module per concern; simscale.spec assembles them into a Spec."""
