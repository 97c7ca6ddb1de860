from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from shared.db import Pool, pending_migrations


async def test_migrations_leave_nothing_pending(db_pool: Pool, test_services: Any) -> None:
    assert pending_migrations(test_services.database_url) == []
    tables = await db_pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert {"users", "events", "audit_log", "team_members", "sessions"} <= {row["tablename"] for row in tables}


async def test_audit_log_refuses_updates(db_pool: Pool) -> None:
    await db_pool.execute("INSERT INTO audit_log (actor_type, action) VALUES ('system', 'test.probe')")

    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await db_pool.execute("UPDATE audit_log SET action = 'changed'")


async def test_redis_answers(redis_client: aioredis.Redis) -> None:
    assert await redis_client.ping()
