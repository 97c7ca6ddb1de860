"""PostgreSQL access: the connection pool and schema migrations.

The pool is created once per process at start-up and passed to repositories; nothing holds a global pool.
Migrations are plain SQL files in ``shared/migrations`` applied by yoyo, which takes a lock so that several
replicas starting at once migrate only once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]
else:
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection

__all__ = [
    "MIGRATIONS_DIR",
    "Connection",
    "Pool",
    "create_database",
    "create_pool",
    "drop_database",
    "migrate",
    "pending_migrations",
    "with_database",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


async def _init_connection(connection: Connection) -> None:
    await connection.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    """Open a pool whose connections decode ``jsonb`` to Python values."""
    pool: Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=60,
    )
    return pool


def _yoyo_uri(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    if not sep or scheme not in ("postgres", "postgresql"):
        raise ValueError("DATABASE_URL must start with postgresql:// or postgres://")
    return f"postgresql+psycopg://{rest}"


def migrate(dsn: str) -> list[str]:
    """Apply every pending migration to the database at ``dsn``; return the ids applied, in order."""
    backend = get_backend(_yoyo_uri(dsn))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [migration.id for migration in pending]


def pending_migrations(dsn: str) -> list[str]:
    """The ids of migrations not yet applied to the database at ``dsn``."""
    backend = get_backend(_yoyo_uri(dsn))
    return [migration.id for migration in backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))]


def with_database(dsn: str, database: str) -> str:
    """``dsn`` with its database name replaced by ``database`` (host, socket and options kept)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def create_database(admin_dsn: str, database: str, *, exist_ok: bool = False) -> str:
    """Create ``database`` on the server of ``admin_dsn``; return a DSN for it."""
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if exists is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        elif not exist_ok:
            raise ValueError(f"database {database} already exists")
    return with_database(admin_dsn, database)


def drop_database(admin_dsn: str, database: str) -> None:
    """Drop ``database``, disconnecting its sessions first."""
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
