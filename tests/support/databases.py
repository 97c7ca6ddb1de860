"""Databases of their own for tests that run an outbox relay.

Every relay publishes every unpublished event of its database, whatever the organization. A test that needs to
know which relay published what (or which Redis its events reach) therefore gets a database no other relay of
the run is draining: a fresh, migrated one next to the run's database, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

from shared.db import create_database, drop_database, migrate

__all__ = ["fresh_database"]


@contextlib.contextmanager
def fresh_database(dsn: str, label: str) -> Iterator[str]:
    """A new migrated database on the server of ``dsn``, named after the run's database and ``label``."""
    base = urlsplit(dsn).path.lstrip("/") or "scim"
    name = f"{base}_{label}_{secrets.token_hex(2)}"[:63]
    created = create_database(dsn, name)
    try:
        migrate(created)
        yield created
    finally:
        drop_database(dsn, name)
