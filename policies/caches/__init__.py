"""Cache eviction policies and key placement for the distributed cache."""

ENTRIES: tuple = ()
