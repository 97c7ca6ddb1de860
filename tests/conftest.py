"""Test services: a fresh PostgreSQL database and a Redis key prefix for each run.

``DATABASE_URL`` / ``REDIS_URL`` name the servers to use; unset, embedded servers start (PostgreSQL under
``$SCIM_DATA_DIR/test-postgres``, a throw-away Valkey). Each run creates its own database and drops it at the
end, and uses its own Redis key prefix, so runs never see each other's data.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import redis.asyncio as aioredis

from services.scimctl.embedded import EmbeddedPostgres, EmbeddedRedis
from shared.db import Pool, create_database, create_pool, drop_database, migrate
from shared.settings import Settings
from tests.support.stack import ServiceProcess, free_port


class TestServices(msgspec.Struct, frozen=True, kw_only=True):
    """Where this test run's database and Redis are."""

    __test__ = False  # not a test class, despite the name

    database_url: str
    redis_url: str
    redis_prefix: str

    def settings(self, **overrides: Any) -> Settings:
        """Settings for a process of this run (API, worker, relay)."""
        base = {
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "redis_prefix": self.redis_prefix,
            "admin_token": ADMIN_TOKEN,
            "log_format": "console",
        }
        return msgspec.convert({**base, **overrides}, Settings)

    def environment(self, **overrides: str) -> dict[str, str]:
        """A process environment pointing at this run's services."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("SCIM_")}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            SCIM_REDIS_PREFIX=self.redis_prefix,
            SCIM_ADMIN_TOKEN=ADMIN_TOKEN,
            SCIM_LOG_FORMAT="json",
        )
        env.update(overrides)
        return env


ADMIN_TOKEN = "test-admin-" + secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def test_services() -> Iterator[TestServices]:
    run = secrets.token_hex(4)
    data_dir = Path(os.environ.get("SCIM_DATA_DIR") or ".data")
    embedded_pg = embedded_redis = None
    admin_dsn = os.environ.get("DATABASE_URL")
    if not admin_dsn:
        embedded_pg = EmbeddedPostgres(data_dir / "test-postgres")
        admin_dsn = embedded_pg.start()
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        embedded_redis = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="scim-test-redis-")), persist=False)
        redis_url = embedded_redis.start()

    database = f"scim_test_{run}"
    dsn = create_database(admin_dsn, database)
    try:
        migrate(dsn)
        yield TestServices(database_url=dsn, redis_url=redis_url, redis_prefix=f"test-{run}:")
    finally:
        drop_database(admin_dsn, database)
        if embedded_redis is not None:
            embedded_redis.stop()
        if embedded_pg is not None:
            embedded_pg.stop()


@pytest.fixture(scope="session")
async def db_pool(test_services: TestServices) -> AsyncIterator[Pool]:
    pool = await create_pool(test_services.database_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def redis_client(test_services: TestServices) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(test_services.redis_url)
    yield client
    await client.aclose()


class LiveStack(msgspec.Struct, kw_only=True):
    """A running API and worker, and a tenant with provisioning on (SSO domain example.com)."""

    api: ServiceProcess
    worker: ServiceProcess
    org_id: str
    scim_token: str
    admin_token: str

    @property
    def scim_base(self) -> str:
        return f"{self.api.base_url}/scim/v2"

    @property
    def admin_base(self) -> str:
        return f"{self.api.base_url}/api/v1"

    def scim_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.scim_token}", "Content-Type": "application/scim+json"}

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def new_tenant(self, name: str, *, domains: list[str] | None = None, provisioning: bool = True) -> tuple[str, str]:
        """Create another organization with a SCIM token over the admin API; return (org id, token)."""
        created = httpx.post(
            f"{self.admin_base}/orgs",
            json={"name": name, "sso_domains": domains or ["example.com"], "provisioning_enabled": provisioning},
            headers=self.admin_headers(),
        )
        created.raise_for_status()
        org_id = str(created.json()["id"])
        issued = httpx.post(f"{self.admin_base}/orgs/{org_id}/tokens", json={}, headers=self.admin_headers())
        issued.raise_for_status()
        return org_id, str(issued.json()["token"])


@pytest.fixture(scope="session")
def live_stack(test_services: TestServices, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """The real API and worker processes against this run's PostgreSQL and Redis, for the whole session."""
    logs = tmp_path_factory.mktemp("live-stack")
    env = test_services.environment(SCIM_RECONCILE_SECONDS="2", SCIM_RECONCILE_GRACE_SECONDS="5")
    api = ServiceProcess("api", env, logs / "api.log", port=free_port()).start()
    worker = ServiceProcess("worker", env, logs / "worker.log")
    try:
        worker.start()
        stack = LiveStack(api=api, worker=worker, org_id="", scim_token="", admin_token=ADMIN_TOKEN)
        stack.org_id, stack.scim_token = stack.new_tenant("Live stack")
        yield stack
    finally:
        worker.stop()
        api.stop()
