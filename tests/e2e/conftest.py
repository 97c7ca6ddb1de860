"""Stacks of their own for fault tests: a database, a Redis key prefix (or a Redis), an API and workers.

The session's live stack is shared; a test that kills, stops or reconfigures processes builds its own with
``make_stack``. Each gets a fresh database, because every relay publishes every unpublished event of its
database: two stacks on one database would publish each other's events.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from arq.connections import ArqRedis

from shared.db import Pool, create_pool
from shared.queue import open_queue
from shared.settings import Settings
from tests.conftest import ADMIN_TOKEN, LiveStack, TestServices
from tests.support.databases import fresh_database
from tests.support.stack import ServiceProcess, free_port


class OwnStack(LiveStack, kw_only=True):
    """A stack of one test: its processes, its database (and a pool on it) and its Redis settings."""

    env: dict[str, str]
    settings: Settings
    pool: Pool
    logs: Path
    workers: list[ServiceProcess]

    def start_worker(self, **env: str) -> ServiceProcess:
        """Start one more worker process (with environment overrides) next to the others."""
        number = len(self.workers) + 1
        worker = ServiceProcess("worker", {**self.env, **env}, self.logs / f"worker-{number}.log").start()
        self.workers.append(worker)
        return worker

    def queue(self) -> ArqRedis:
        """A Redis client on this stack's stream and job queue (close it with ``aclose``)."""
        return open_queue(self.settings)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.api.stop()


MakeStack = Callable[..., Awaitable[OwnStack]]


@pytest.fixture
async def make_stack(test_services: TestServices, tmp_path: Path) -> AsyncIterator[MakeStack]:
    """Build stacks for this test: ``await make_stack(label, redis_url=..., **environment)``, one worker each."""
    built: list[OwnStack] = []
    with contextlib.ExitStack() as databases:

        async def make(label: str, *, redis_url: str | None = None, **env: str) -> OwnStack:
            database = databases.enter_context(fresh_database(test_services.database_url, label))
            prefix = f"{test_services.redis_prefix}{label}-{secrets.token_hex(2)}:"
            environment = test_services.environment(
                DATABASE_URL=database,
                REDIS_URL=redis_url or test_services.redis_url,
                SCIM_REDIS_PREFIX=prefix,
                SCIM_RECONCILE_SECONDS="1",
                SCIM_RECONCILE_GRACE_SECONDS="3",
                **env,
            )
            logs = tmp_path / label
            logs.mkdir()
            api = ServiceProcess("api", environment, logs / "api.log", port=free_port()).start()
            worker = ServiceProcess("worker", environment, logs / "worker-1.log")
            pool = await create_pool(database, min_size=1, max_size=4)
            stack = OwnStack(
                api=api,
                worker=worker,
                org_id="",
                scim_token="",
                admin_token=ADMIN_TOKEN,
                env=environment,
                settings=test_services.settings(
                    database_url=database, redis_url=environment["REDIS_URL"], redis_prefix=prefix
                ),
                pool=pool,
                logs=logs,
                workers=[worker],
            )
            built.append(stack)
            worker.start()
            stack.org_id, stack.scim_token = stack.new_tenant(label)
            return stack

        try:
            yield make
        finally:
            for stack in built:
                stack.stop()
                await stack.pool.close()
