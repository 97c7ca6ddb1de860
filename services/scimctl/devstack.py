"""``scimctl dev``: the whole service on one machine.

Starts PostgreSQL and Redis (the configured ones, or embedded ones under ``SCIM_DATA_DIR``), migrates, makes sure
a demo organization (SSO domain ``example.com``, provisioning on) and a SCIM token exist, runs the API and the
worker as child processes, and once the API answers prints the SCIM endpoint and tokens and writes them to
``$SCIM_DATA_DIR/dev.json``. SIGINT, SIGTERM or SIGHUP (the terminal closing) stops everything it started; on
Linux the API and the worker are also told to stop if this process dies without a chance to stop them.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from uuid import UUID

import msgspec
import structlog

from services.scimctl.embedded import EmbeddedPostgres, EmbeddedRedis
from shared.db import create_database, create_pool, migrate
from shared.domain import Actor
from shared.scim.errors import ScimError
from shared.services.tenants import TenantService
from shared.settings import Settings

__all__ = ["DevInfo", "run_dev"]

logger = structlog.get_logger(__name__)

_DEMO_NAME = "Demo"
_DEMO_DOMAIN = "example.com"
_START_TIMEOUT = 90.0
_STOP_TIMEOUT = 10.0


class DevInfo(msgspec.Struct, kw_only=True):
    """The contents of ``dev.json``."""

    scim_base_url: str
    scim_token: str
    org_id: str
    admin_token: str
    api_base_url: str
    database_url: str
    redis_url: str


def _previous(path: Path) -> DevInfo | None:
    try:
        return msgspec.json.decode(path.read_bytes(), type=DevInfo)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


async def _ensure_demo(database_url: str, previous: DevInfo | None) -> tuple[UUID, str]:
    """The demo organization's id and a working SCIM token for it (reused from the last run when still valid)."""
    actor = Actor(type="system", id="scimctl-dev")
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        tenants = TenantService(pool)
        org = None
        if previous is not None:
            try:
                org = await tenants.get_organization(UUID(previous.org_id))
            except ValueError:
                org = None
        if org is None:
            org = next((found for found in await tenants.list_organizations() if found.name == _DEMO_NAME), None)
        if org is None:
            org = await tenants.create_organization(
                _DEMO_NAME, sso_domains=[_DEMO_DOMAIN], provisioning_enabled=True, actor=actor
            )
        if previous is not None and previous.org_id == str(org.id):
            try:
                caller = await tenants.authenticate(f"Bearer {previous.scim_token}")
            except ScimError:
                caller = None
            if caller is not None and caller.organization.id == org.id:
                return org.id, previous.scim_token
        issued = await tenants.issue_token(org.id, label="scimctl dev", actor=actor)
        return org.id, issued.token
    finally:
        await pool.close()


def _wait_for_api(url: str, children: list[subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local URL
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + _STOP_TIMEOUT
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


_PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    """In a child, before exec: on Linux, have the kernel send SIGTERM when the parent dies (even by SIGKILL)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def run_dev(settings: Settings) -> int:
    """Run the development stack until interrupted; return the exit status."""
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    info_path = data_dir / "dev.json"
    previous = _previous(info_path)

    embedded_pg = EmbeddedPostgres(data_dir / "postgres") if not settings.database_url else None
    embedded_redis = EmbeddedRedis(data_dir / "redis") if not settings.redis_url else None
    children: list[subprocess.Popen[bytes]] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a process started with SIGINT ignored (a background job of a script, some CI runners)
    # would otherwise not turn Ctrl-C into KeyboardInterrupt, and its children would outlive it.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)
    try:
        database_url = settings.database_url
        if embedded_pg is not None:
            database_url = create_database(embedded_pg.start(), "scim", exist_ok=True)
        redis_url = settings.redis_url or (embedded_redis.start() if embedded_redis is not None else None)
        assert database_url is not None  # noqa: S101 - set from the environment or the embedded server
        assert redis_url is not None  # noqa: S101 - set from the environment or the embedded server

        applied = migrate(database_url)
        logger.info("migrated", applied=len(applied))
        org_id, scim_token = asyncio.run(_ensure_demo(database_url, previous))
        admin_token = settings.admin_token or (previous.admin_token if previous else None) or secrets.token_urlsafe(32)

        host = settings.host
        api_base = f"http://{host}:{settings.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SCIM_ADMIN_TOKEN": admin_token,
            "SCIM_DATA_DIR": str(data_dir),
            "SCIM_LOG_FORMAT": os.environ.get("SCIM_LOG_FORMAT", "console"),
        }
        command = [sys.executable, "-m", "services.scimctl"]
        for name in ("api", "worker"):
            # Our own entry point; the pre-exec hook only sets how the child learns that this process died.
            child = subprocess.Popen([*command, name], env=env, preexec_fn=_stop_with_parent)  # noqa: S603, PLW1509
            children.append(child)

        if not _wait_for_api(f"{api_base}/healthz", children):
            logger.error("api_did_not_start", url=api_base)
            return 1
        info = DevInfo(
            scim_base_url=f"{api_base}/scim/v2",
            scim_token=scim_token,
            org_id=str(org_id),
            admin_token=admin_token,
            api_base_url=f"{api_base}/api/v1",
            database_url=database_url,
            redis_url=redis_url,
        )
        info_path.write_bytes(msgspec.json.format(msgspec.json.encode(info)) + b"\n")
        info_path.chmod(0o600)
        print(
            f"\nSCIM base URL:  {info.scim_base_url}\n"
            f"SCIM token:     {info.scim_token}\n"
            f"Organization:   {info.org_id} (SSO domain {_DEMO_DOMAIN})\n"
            f"Admin API:      {info.api_base_url}\n"
            f"Admin token:    {info.admin_token}\n"
            f"Written to {info_path}. Ctrl-C stops everything.\n",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        codes = [child.poll() for child in children]
        if all(code == 0 for code in codes):
            # Both stopped cleanly on a signal that reached them and not this process.
            logger.info("stopped")
            return 0
        logger.error("child_exited", codes=codes)
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(children)
        if embedded_redis is not None:
            embedded_redis.stop()
        if embedded_pg is not None:
            embedded_pg.stop()
    return 1
