"""The worker process: its ARQ options, and how it outlives Redis (running on, and taking jobs again after)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import UUID

import pytest

from services.scimctl.embedded import EmbeddedRedis
from services.worker.jobs import JOB_DEADLINE_MARGIN_SECONDS
from services.worker.main import worker_options
from shared.db import Pool, create_pool
from shared.domain import Actor, UserAttributes
from shared.queue import open_queue
from shared.relay import APPLY_EVENT
from shared.services.provisioning import ProvisioningService
from shared.services.tenants import TenantService
from tests.conftest import TestServices
from tests.support.databases import fresh_database
from tests.support.stack import ServiceProcess, eventually, wait_until

SCIM = Actor(type="scim_token", id="tests")


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "valkey", persist=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def database(test_services: TestServices) -> Iterator[str]:
    with fresh_database(test_services.database_url, "worker") as dsn:
        yield dsn


@pytest.fixture
async def pool(database: str) -> AsyncIterator[Pool]:
    opened = await create_pool(database, min_size=1, max_size=2)
    yield opened
    await opened.close()


async def _created_event(pool: Pool) -> UUID:
    org = await TenantService(pool).create_organization(
        "worker", sso_domains=["example.com"], provisioning_enabled=True, actor=SCIM
    )
    email = f"w.{secrets.token_hex(4)}@example.com"
    user = await ProvisioningService(pool).create(org, UserAttributes(user_name=email, email=email), SCIM)
    async with pool.acquire() as connection:
        event_id: UUID = await connection.fetchval("SELECT id FROM events WHERE user_id = $1", user.id)
    return event_id


@pytest.mark.e2e
async def test_the_worker_keeps_running_while_redis_is_down_and_takes_jobs_again_after(
    test_services: TestServices, valkey: EmbeddedRedis, database: str, pool: Pool, tmp_path: Path
) -> None:
    redis_url = f"redis://127.0.0.1:{valkey.port}/0"
    env = test_services.environment(DATABASE_URL=database, REDIS_URL=redis_url, SCIM_REDIS_PREFIX="outage:")
    worker = ServiceProcess("worker", env, tmp_path / "worker.log").start()
    try:
        valkey.stop()
        wait_until(lambda: b"worker_redis_lost" in worker.log(), timeout=10, what="the worker to notice")
        valkey.start()
        wait_until(lambda: worker.log().count(b"worker_started") == 2, timeout=20, what="the worker to restart")

        event_id = await _created_event(pool)
        queue = open_queue(test_services.settings(redis_url=redis_url, redis_prefix="outage:"))
        await queue.enqueue_job(APPLY_EVENT, str(event_id), _job_id=str(event_id))
        await queue.aclose()

        async def applied() -> bool:
            async with pool.acquire() as connection:
                outcome: str | None = await connection.fetchval(
                    "SELECT outcome FROM event_effects WHERE event_id = $1", event_id
                )
            return outcome == "applied"

        await eventually(applied, within=10, what="the job to be applied")
        assert worker.alive()
    finally:
        worker.stop()
    assert worker.process is not None
    assert worker.process.returncode == 0


def test_the_worker_options_come_from_the_settings(test_services: TestServices) -> None:
    settings = test_services.settings(
        worker_concurrency=3, worker_poll_seconds=0.05, worker_max_tries=4, job_timeout_seconds=7
    )

    options = worker_options(settings)

    assert (options["max_jobs"], options["poll_delay"], options["max_tries"]) == (3, 0.05, 5)
    assert options["job_timeout"] == 7 + JOB_DEADLINE_MARGIN_SECONDS
    assert options["queue_name"] == settings.queue_name
