"""The worker's jobs, called as ARQ calls them, against real PostgreSQL (no ARQ, no Redis needed)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from arq import Retry

from services.worker.jobs import apply_event
from shared.db import Pool
from shared.domain import Actor, Organization, UserAttributes
from shared.services.effects import EffectsService
from shared.services.provisioning import ProvisioningService
from shared.services.tenants import TenantService
from tests.conftest import TestServices

SCIM = Actor(type="scim_token", id="tests")


@pytest.fixture
async def org(db_pool: Pool) -> Organization:
    return await TenantService(db_pool).create_organization(
        f"jobs-{secrets.token_hex(3)}", sso_domains=["example.com"], provisioning_enabled=True, actor=SCIM
    )


@pytest.fixture
async def created_event(db_pool: Pool, org: Organization) -> tuple[UUID, UUID]:
    """A user and the id of its user.created event."""
    email = f"jobs.{secrets.token_hex(4)}@example.com"
    user = await ProvisioningService(db_pool).create(org, UserAttributes(user_name=email, email=email), SCIM)
    async with db_pool.acquire() as connection:
        event_id: UUID = await connection.fetchval("SELECT id FROM events WHERE user_id = $1", user.id)
    return user.id, event_id


@pytest.fixture
async def user_locked(db_pool: Pool, created_event: tuple[UUID, UUID]) -> AsyncIterator[None]:
    """The user's row held by another transaction, so the job's handler waits for it."""
    user_id, _ = created_event
    async with db_pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
        yield


def _ctx(test_services: TestServices, db_pool: Pool, *, job_try: int) -> dict[str, Any]:
    settings = test_services.settings(job_timeout_seconds=1, worker_max_tries=3)
    return {"settings": settings, "effects": EffectsService(db_pool), "job_try": job_try, "job_id": "test"}


@pytest.mark.usefixtures("user_locked")
async def test_a_run_past_its_deadline_is_retried_later(
    test_services: TestServices, db_pool: Pool, created_event: tuple[UUID, UUID]
) -> None:
    _, event_id = created_event

    with pytest.raises(Retry):
        await apply_event(_ctx(test_services, db_pool, job_try=1), str(event_id))


@pytest.mark.usefixtures("user_locked")
async def test_the_last_attempt_past_its_deadline_is_dead_lettered_with_the_reason(
    test_services: TestServices, db_pool: Pool, created_event: tuple[UUID, UUID]
) -> None:
    _, event_id = created_event

    await apply_event(_ctx(test_services, db_pool, job_try=3), str(event_id))

    async with db_pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT outcome, attempts, error FROM event_effects WHERE event_id = $1", event_id
        )
    assert row is not None
    assert dict(row) == {"outcome": "dead", "attempts": 3, "error": "TimeoutError: no outcome within 1 s"}


async def test_a_job_applies_its_event(
    test_services: TestServices, db_pool: Pool, created_event: tuple[UUID, UUID]
) -> None:
    _, event_id = created_event

    await apply_event(_ctx(test_services, db_pool, job_try=1), str(event_id))

    async with db_pool.acquire() as connection:
        outcome = await connection.fetchval("SELECT outcome FROM event_effects WHERE event_id = $1", event_id)
    assert outcome == "applied"
