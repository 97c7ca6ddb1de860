"""Throughput and latency of the SCIM API under load, granian against uvicorn serving the same app.

Run: ``.venv/bin/python -m bench.api_throughput [--seconds 10] [--connections 32] [--users 10000]``

Needs ``wrk`` on PATH (Debian: ``apt-get install wrk``) and uvicorn for the reference server
(``.venv/bin/pip install uvicorn``). Uses ``DATABASE_URL`` / ``REDIS_URL`` (default: the local servers on their
standard ports), creates a database of its own and drops it at the end. Every scenario runs against both servers
in the same run; ``/healthz`` is the framework's floor (no database work).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import httpx
from uuid_utils.compat import uuid7

from shared.db import create_database, create_pool, drop_database, migrate
from shared.domain import Actor
from shared.services.tenants import TenantService

ADMIN_DSN = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

_LUA_HEADERS = """
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/scim+json"
"""
_LUA_CREATE = """
run = "RUN"
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"userName": "load.%s.%d@example.com"}', run, counter)
  return wrk.format("POST", "/scim/v2/Users", nil, body)
end
"""
_LUA_TOGGLE = """
counter = 0
request = function()
  counter = counter + 1
  local active = (counter % 2 == 0) and "true" or "false"
  local body = '{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], ' ..
    '"Operations": [{{"op": "replace", "path": "active", "value": ' .. active .. '}}]}}'
  return wrk.format("PATCH", "/scim/v2/Users/{user_id}", nil, body)
end
"""


async def _seed(dsn: str, users: int) -> tuple[str, list[UUID]]:
    """An organization with ``users`` users (inserted directly) and a SCIM token for it."""
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        tenants = TenantService(pool)
        actor = Actor(type="system", id="bench")
        org = await tenants.create_organization(
            "bench", sso_domains=["example.com"], provisioning_enabled=True, actor=actor
        )
        ids = [uuid7() for _ in range(users)]
        rows = [
            (user_id, org.id, f"user.{n}@example.com", f"user.{n}@example.com", "scim") for n, user_id in enumerate(ids)
        ]
        async with pool.acquire() as connection:
            await connection.copy_records_to_table(
                "users", records=rows, columns=["id", "org_id", "user_name", "email", "created_by"]
            )
            await connection.execute("ANALYZE users")
        token = await tenants.issue_token(org.id, actor=actor)
        return token.token, ids
    finally:
        await pool.close()


@contextmanager
def _server(kind: str, dsn: str, port: int, logs: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": REDIS_URL,
        "SCIM_REDIS_PREFIX": f"bench-{secrets.token_hex(3)}:",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SCIM_LOG_LEVEL": "warning",
    }
    if kind == "granian":
        command = [sys.executable, "-m", "services.scimctl", "api"]
    else:
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "services.scim_api.app:app_from_env",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    log = (logs / f"{kind}.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - our own server
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError(f"{kind} did not start; see {logs / f'{kind}.log'}")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wrk(url: str, script: Path, *, seconds: int, connections: int) -> tuple[float, str, str]:
    """Requests per second, p50 and p99 latency, from one wrk run."""
    output = subprocess.run(  # noqa: S603 - wrk with our own arguments
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]  # wrk prints it
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1)  # type: ignore[union-attr]  # with --latency
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1)  # type: ignore[union-attr]  # with --latency
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        raise RuntimeError(f"{url}: {non_2xx.group(1)} error responses\n{output}")
    return rate, p50, p99


def _paging(base: str, token: str, users: int) -> tuple[float, float, float]:
    """Milliseconds per page of 100: first pages, last pages of a sequential walk, and a cold jump to the end."""
    headers = {"Authorization": f"Bearer {token}"}
    times: list[float] = []
    with httpx.Client(headers=headers, timeout=30) as client:
        for start in range(1, users + 1, 100):
            began = time.perf_counter()
            response = client.get(f"{base}/scim/v2/Users", params={"startIndex": start, "count": 100})
            times.append(time.perf_counter() - began)
            response.raise_for_status()
        cold = []
        for _ in range(10):
            began = time.perf_counter()
            # A position no page of the walk ended at, so nothing remembered applies: OFFSET reads every earlier row.
            client.get(f"{base}/scim/v2/Users", params={"startIndex": users - 98, "count": 100}).raise_for_status()
            cold.append(time.perf_counter() - began)
    return (
        1000 * sum(times[:10]) / 10,
        1000 * sum(times[-10:]) / 10,
        1000 * sum(cold) / len(cold),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--users", type=int, default=10_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not on PATH (apt-get install wrk)", file=sys.stderr)
        return 2
    servers = ["granian"] + (["uvicorn"] if _has_uvicorn() else [])

    database = f"bench_{secrets.token_hex(4)}"
    dsn = create_database(ADMIN_DSN, database)
    try:
        migrate(dsn)
        token, ids = asyncio.run(_seed(dsn, args.users))
        logs = Path(tempfile.mkdtemp(prefix="bench-api-"))
        scripts = {
            "healthz": "",
            "get_user": "",
            "filter_user_name": "",
            "create_user": _LUA_CREATE,  # RUN is replaced per server, so userNames never collide
            "patch_active": _LUA_TOGGLE.format(user_id=ids[len(ids) // 2]),
        }
        paths = {
            "healthz": "/healthz",
            "get_user": f"/scim/v2/Users/{ids[len(ids) // 3]}",
            "filter_user_name": "/scim/v2/Users?filter=userName%20eq%20%22USER.4242%40example.com%22",
            "create_user": "/scim/v2/Users",
            "patch_active": f"/scim/v2/Users/{ids[len(ids) // 2]}",
        }
        print(
            f"# python -m bench.api_throughput --seconds {args.seconds} --connections {args.connections} "
            f"--users {args.users}"
        )
        print(f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"# wrk -t1 -c{args.connections}; one server process; PostgreSQL and Redis on the same machine")
        print(f"{'scenario':<18} {'server':<8} {'req/s':>9} {'p50':>9} {'p99':>9}")
        paging: dict[str, tuple[float, float, float]] = {}
        for port_offset, server in enumerate(servers):
            with _server(server, dsn, 18_400 + port_offset, logs) as base:
                for scenario, body in scripts.items():
                    script = logs / f"{scenario}.lua"
                    script.write_text(_LUA_HEADERS.format(token=token) + body.replace("RUN", f"{server}{port_offset}"))
                    rate, p50, p99 = _wrk(base + paths[scenario], script, seconds=args.seconds,
                                          connections=args.connections)  # fmt: skip
                    print(f"{scenario:<18} {server:<8} {rate:>9.0f} {p50:>9} {p99:>9}", flush=True)
                paging[server] = _paging(base, token, args.users)
        for server, (first, last, cold) in paging.items():
            print(
                f"paging {server}: sequential first pages {first:.1f} ms, sequential last pages {last:.1f} ms, "
                f"cold jump to the last page (OFFSET) {cold:.1f} ms  [count=100, {args.users} users]"
            )
    finally:
        drop_database(ADMIN_DSN, database)
    return 0


def _has_uvicorn() -> bool:
    try:
        import uvicorn  # noqa: F401, PLC0415 - optional reference server
    except ImportError:
        print("# uvicorn not installed: reference server skipped (.venv/bin/pip install uvicorn)")
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
