"""Admission control: rate limiters that accept or reject a request."""

ENTRIES: tuple = ()
