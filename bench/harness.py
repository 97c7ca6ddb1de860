"""What the benchmarks share: the servers, a stack of real processes on a fresh database, the report.

The servers are ``DATABASE_URL`` / ``REDIS_URL`` when set, embedded ones otherwise. Each measured variant gets a
stack of its own (a fresh database, its own Redis key prefix, an API process and a worker process), built with
the same process harness as the end-to-end tests, and ends with the same invariant check.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import msgspec
import redis.asyncio as aioredis

from services.scimctl.embedded import EmbeddedPostgres, EmbeddedRedis
from shared.db import Pool, create_pool
from tests.support.databases import fresh_database
from tests.support.invariants import check_event_invariants
from tests.support.stack import ServiceProcess, free_port

__all__ = ["BenchStack", "Member", "Servers", "bench_stack", "describe", "environment_report", "servers"]

_ADMIN_TOKEN = "bench-admin-" + secrets.token_urlsafe(16)
_CLIENT_CONCURRENCY = 20


class Servers(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str
    redis_url: str


@contextlib.contextmanager
def servers() -> Iterator[Servers]:
    """The configured PostgreSQL and Redis, or embedded ones for the length of the run."""
    data_dir = Path(tempfile.mkdtemp(prefix="scim-bench-"))
    embedded_pg = embedded_redis = None
    database_url = os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("REDIS_URL")
    try:
        if not database_url:
            embedded_pg = EmbeddedPostgres(data_dir / "postgres")
            database_url = embedded_pg.start()
        if not redis_url:
            embedded_redis = EmbeddedRedis(data_dir / "redis", persist=False)
            redis_url = embedded_redis.start()
        yield Servers(database_url=database_url, redis_url=redis_url)
    finally:
        if embedded_redis is not None:
            embedded_redis.stop()
        if embedded_pg is not None:
            embedded_pg.stop()


class Member(msgspec.Struct, frozen=True):
    user_id: UUID
    email: str


class BenchStack:
    """An API and a worker process on a database and Redis prefix of their own, with a tenant."""

    def __init__(self, api: ServiceProcess, worker: ServiceProcess, pool: Pool, env: dict[str, str]) -> None:
        self.api = api
        self.worker = worker
        self.pool = pool
        self.env = env
        self.org_id = ""
        self.scim = httpx.AsyncClient()
        self.admin = httpx.AsyncClient(
            base_url=f"{api.base_url}/api/v1", headers={"Authorization": f"Bearer {_ADMIN_TOKEN}"}
        )

    async def open_tenant(self) -> None:
        created = await self.admin.post(
            "/orgs", json={"name": "bench", "sso_domains": ["example.com"], "provisioning_enabled": True}
        )
        created.raise_for_status()
        self.org_id = str(created.json()["id"])
        issued = await self.admin.post(f"/orgs/{self.org_id}/tokens", json={})
        issued.raise_for_status()
        self.scim = httpx.AsyncClient(
            base_url=f"{self.api.base_url}/scim/v2",
            headers={"Authorization": f"Bearer {issued.json()['token']}"},
        )

    async def create_members(self, count: int) -> list[Member]:
        """Provision ``count`` users over SCIM and sign each in (a seat and a session each)."""
        gate = asyncio.Semaphore(_CLIENT_CONCURRENCY)

        async def one(number: int) -> Member:
            email = f"bench.{number}.{secrets.token_hex(3)}@example.com"
            async with gate:
                created = await self.scim.post(
                    "/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email}
                )
                created.raise_for_status()
                signed_in = await self.admin.post(f"/orgs/{self.org_id}/sessions", json={"email": email})
                signed_in.raise_for_status()
            return Member(UUID(created.json()["id"]), email)

        return list(await asyncio.gather(*(one(number) for number in range(count))))

    async def deactivate(self, member: Member) -> None:
        response = await self.scim.patch(
            f"/Users/{member.user_id}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": False}}],
            },
        )
        response.raise_for_status()

    async def deactivate_all(self, members: Sequence[Member]) -> None:
        gate = asyncio.Semaphore(_CLIENT_CONCURRENCY)

        async def one(member: Member) -> None:
            async with gate:
                await self.deactivate(member)

        await asyncio.gather(*(one(member) for member in members))

    async def wait_published(self) -> None:
        while True:
            if not await self.pool.fetchval("SELECT count(*) FROM events WHERE published_at IS NULL"):
                return
            await asyncio.sleep(0.02)

    async def check(self) -> None:
        """Let everything settle, then check the event invariants (the numbers are of a correct run)."""
        await check_event_invariants(self.pool, self.org_id, settle_within=120)

    async def close(self) -> None:
        await self.scim.aclose()
        await self.admin.aclose()


@contextlib.asynccontextmanager
async def bench_stack(servers: Servers, label: str, **worker_env: str) -> AsyncIterator[BenchStack]:
    """A stack for one variant; its worker runs with ``worker_env`` on top of the shared environment."""
    logs = Path(tempfile.mkdtemp(prefix=f"scim-bench-{label}-"))
    with fresh_database(servers.database_url, f"bench_{label}") as database:
        env = {key: value for key, value in os.environ.items() if not key.startswith("SCIM_")}
        env.update(
            DATABASE_URL=database,
            REDIS_URL=servers.redis_url,
            SCIM_REDIS_PREFIX=f"bench-{secrets.token_hex(3)}:",
            SCIM_ADMIN_TOKEN=_ADMIN_TOKEN,
            SCIM_LOG_FORMAT="json",
        )
        api = ServiceProcess("api", env, logs / "api.log", port=free_port()).start()
        worker = ServiceProcess("worker", {**env, **worker_env}, logs / "worker.log").start()
        pool = await create_pool(database, min_size=1, max_size=12)
        stack = BenchStack(api, worker, pool, env)
        try:
            await stack.open_tenant()
            yield stack
        finally:
            await stack.close()
            worker.stop()
            api.stop()
            await _drop_keys(servers.redis_url, env["SCIM_REDIS_PREFIX"])
            await pool.close()


async def _drop_keys(redis_url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def describe(samples: Sequence[float]) -> str:
    """Median and p99 of ``samples`` seconds, in milliseconds."""
    ordered = sorted(samples)
    p99 = statistics.quantiles(ordered, n=100, method="inclusive")[98] if len(ordered) > 1 else ordered[0]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   (n={len(ordered)})"


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}" if parts.hostname else parts.scheme + "://(socket)"


async def environment_report(servers: Servers, module: str) -> str:
    """The command, the machine and the server versions, as the first lines of a report."""
    pool = await create_pool(servers.database_url, min_size=1, max_size=1)
    try:
        postgres = await pool.fetchval("SHOW server_version")
    finally:
        await pool.close()
    client = aioredis.Redis.from_url(servers.redis_url)
    try:
        info = await client.info("server")
    finally:
        await client.aclose()
    redis_version = f"valkey {info['valkey_version']}" if "valkey_version" in info else f"redis {info['redis_version']}"
    cpu = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), platform.processor()
    )
    commit = _commit()
    servers_line = "embedded" if not os.environ.get("DATABASE_URL") else _host(servers.database_url)
    return "\n".join(
        [
            f"command:     {_command(module)}",
            f"date:        {time.strftime('%Y-%m-%d %H:%M:%S %Z')}   commit {commit or 'unknown'}",
            f"machine:     {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
            f"python:      {platform.python_version()}",
            f"postgresql:  {postgres} at {servers_line}",
            f"redis:       {redis_version} at "
            + ("embedded" if not os.environ.get("REDIS_URL") else _host(servers.redis_url)),
        ]
    )


def _commit() -> str:
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607 - the developer's own git
        capture_output=True,
        text=True,
        check=False,
    )
    return described.stdout.strip()


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def _command(module: str) -> str:
    env = " ".join(
        f"{name}={_redacted(os.environ[name])}" for name in ("DATABASE_URL", "REDIS_URL") if name in os.environ
    )
    args = " ".join(sys.argv[1:])
    return f"{env + ' ' if env else ''}.venv/bin/python -m {module}{' ' + args if args else ''}"
