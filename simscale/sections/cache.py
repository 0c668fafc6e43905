"""The [cache] and [database] sections: the distributed cache and the database behind it."""

from __future__ import annotations

from simscale.sections.base import Section


class CacheSpec(Section):
    """The sharded cache in front of the database; off unless configured."""


class DatabaseSpec(Section):
    """The database: a connection pool and query times."""
