"""``scimctl``: run and operate the service.

Commands that print an identifier or a secret print it as the last line of their output, so scripts can take it
with ``tail -n 1``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import asyncpg
import click
import msgspec

from shared.db import create_pool, migrate
from shared.domain import Actor
from shared.logging import configure_logging
from shared.scim.errors import ScimError
from shared.services.tenants import TenantService
from shared.settings import Settings, SettingsError

__all__ = ["main"]

_T = TypeVar("_T")

_OPERATOR = Actor(type="system", id="scimctl")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None


def _require_services(settings: Settings) -> tuple[str, str]:
    if not settings.database_url or not settings.redis_url:
        raise click.ClickException("set DATABASE_URL and REDIS_URL, or run `scimctl dev` for embedded servers")
    return settings.database_url, settings.redis_url


def _operator_database(settings: Settings) -> str:
    """The database operator commands work on: DATABASE_URL, else that of a running ``scimctl dev``."""
    if settings.database_url:
        return settings.database_url
    info_path = Path(settings.data_dir) / "dev.json"
    try:
        info = msgspec.json.decode(info_path.read_bytes(), type=dict[str, str])
    except (OSError, msgspec.DecodeError):
        info = {}
    if not info.get("database_url"):
        raise click.ClickException("set DATABASE_URL, or start `scimctl dev` (make run) first")
    click.echo(f"using the database of the development stack ({info_path})", err=True)
    return info["database_url"]


def _with_tenants(settings: Settings, work: Callable[[TenantService], Awaitable[_T]]) -> _T:
    """The result of ``work``; a refusal of the service (unknown organization, invalid value) is the error shown."""
    database_url = _operator_database(settings)

    async def run() -> _T:
        pool = await create_pool(database_url, min_size=1, max_size=2)
        try:
            return await work(TenantService(pool))
        finally:
            await pool.close()

    try:
        return asyncio.run(run())
    except ScimError as exc:
        raise click.ClickException(exc.detail) from None
    except asyncpg.UndefinedTableError:
        raise click.ClickException("the database has no tables yet: run `scimctl migrate` first") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # The URL is not shown: it may hold a password.
        raise click.ClickException(
            f"the database did not answer ({type(exc).__name__}): check DATABASE_URL, or start `scimctl dev`"
        ) from None


@click.group()
def cli() -> None:
    """Run and operate the SCIM provisioning service."""


@cli.command()
def dev() -> None:
    """Run everything on this machine: PostgreSQL and Redis (embedded unless DATABASE_URL / REDIS_URL are set),
    migrations, a demo organization, the API and the worker. Ctrl-C stops everything it started."""
    from services.scimctl.devstack import run_dev  # noqa: PLC0415 - only this command needs it

    settings = _settings()
    configure_logging(settings.log_level, "console")
    sys.exit(run_dev(settings))


@cli.command(name="migrate")
def migrate_command() -> None:
    """Apply pending database migrations."""
    applied = migrate(_operator_database(_settings()))
    click.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


@cli.command()
def api() -> None:
    """Serve the HTTP API with granian (HOST, PORT, SCIM_API_WORKERS)."""
    from granian.constants import Interfaces  # noqa: PLC0415 - only this command needs the server
    from granian.http import HTTP1Settings  # noqa: PLC0415
    from granian.server import Server  # noqa: PLC0415

    settings = _settings()
    _require_services(settings)
    configure_logging(settings.log_level, settings.log_format)
    Server(
        "services.scim_api.app:app_from_env",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.api_workers,
        factory=True,
        websockets=False,
        # Request lines and headers up to 64 KiB: long filters in query strings must reach the app.
        http1_settings=HTTP1Settings(max_buffer_size=64 * 1024 + 4096),
        log_dictconfig={"version": 1, "disable_existing_loggers": False},
    ).serve()


@cli.command()
def worker() -> None:
    """Run the ARQ worker that applies event side effects (SCIM_WORKER_CONCURRENCY jobs at once).

    It keeps running while Redis is unreachable and picks up jobs again once Redis answers."""
    from services.worker.main import serve  # noqa: PLC0415 - only this command needs the worker

    settings = _settings()
    _require_services(settings)
    configure_logging(settings.log_level, settings.log_format)
    if settings.log_level != "debug":
        # ARQ logs two lines per job; the worker's own job_done line is the one summary per job.
        logging.getLogger("arq.worker").setLevel(logging.WARNING)
    asyncio.run(serve(settings))


@cli.group()
def org() -> None:
    """Manage organizations."""


@org.command(name="create")
@click.argument("name")
@click.option("--domain", "domains", multiple=True, required=True, help="SSO email domain (repeatable).")
@click.option("--provisioning/--no-provisioning", default=False, help="Switch SCIM provisioning on.")
@click.option("--subscription/--no-subscription", default=True, help="Whether the subscription is active.")
@click.option("--jit/--no-jit", default=True, help="Create users at their first SSO sign-in.")
def org_create(name: str, domains: tuple[str, ...], provisioning: bool, subscription: bool, jit: bool) -> None:
    """Create an organization; prints its id last."""
    created = _with_tenants(
        _settings(),
        lambda tenants: tenants.create_organization(
            name,
            sso_domains=list(domains),
            provisioning_enabled=provisioning,
            subscription_active=subscription,
            jit_enabled=jit,
            actor=_OPERATOR,
        ),
    )
    click.echo(f"created organization {created.name!r} (domains: {', '.join(created.sso_domains)})")
    click.echo(str(created.id))


@org.command(name="list")
def org_list() -> None:
    """List organizations as JSON lines."""
    for found in _with_tenants(_settings(), lambda tenants: tenants.list_organizations()):
        click.echo(msgspec.json.encode(found).decode())


@org.command(name="update")
@click.argument("org_id", type=click.UUID)
@click.option("--provisioning/--no-provisioning", default=None, help="Switch SCIM provisioning on or off.")
@click.option("--subscription/--no-subscription", default=None, help="Mark the subscription active or not.")
@click.option("--jit/--no-jit", default=None, help="Allow or forbid just-in-time accounts.")
@click.option(
    "--domain", "domains", multiple=True, help="Replace all SSO domains with these (repeatable); omitted, they stay."
)
def org_update(
    org_id: UUID, provisioning: bool | None, subscription: bool | None, jit: bool | None, domains: tuple[str, ...]
) -> None:
    """Change an organization's switches or domains."""
    updated = _with_tenants(
        _settings(),
        lambda tenants: tenants.update_organization(
            org_id,
            actor=_OPERATOR,
            provisioning_enabled=provisioning,
            subscription_active=subscription,
            jit_enabled=jit,
            sso_domains=list(domains) or None,
        ),
    )
    if updated is None:
        raise click.ClickException("no such organization")
    click.echo(msgspec.json.encode(updated).decode())


@cli.group()
def token() -> None:
    """Manage SCIM bearer tokens."""


@token.command(name="create")
@click.argument("org_id", type=click.UUID)
@click.option("--label", default="", help="A note for operators, e.g. the IdP it is for.")
def token_create(org_id: UUID, label: str) -> None:
    """Create a SCIM token; prints the token last. It is shown only this once."""
    issued = _with_tenants(_settings(), lambda tenants: tenants.issue_token(org_id, label=label, actor=_OPERATOR))
    click.echo(f"token id {issued.id} (keep the token below; it is not shown again)")
    click.echo(issued.token)


@token.command(name="revoke")
@click.argument("token_id", type=click.UUID)
def token_revoke(token_id: UUID) -> None:
    """Revoke a SCIM token by its id."""
    if not _with_tenants(_settings(), lambda tenants: tenants.revoke_token(token_id, actor=_OPERATOR)):
        raise click.ClickException("no live token with that id")
    click.echo(f"revoked {token_id}")


@token.command(name="list")
@click.argument("org_id", type=click.UUID)
def token_list(org_id: UUID) -> None:
    """List an organization's tokens (ids and labels, never secrets) as JSON lines."""
    for found in _with_tenants(_settings(), lambda tenants: tenants.list_tokens(org_id)):
        click.echo(msgspec.json.encode(found).decode())


@cli.group()
def events() -> None:
    """The event contract."""


@events.command(name="schema")
def events_schema() -> None:
    """Print the JSON Schema of the events downstream services consume."""
    from shared.events import event_schema  # noqa: PLC0415 - only this command needs it

    click.echo(msgspec.json.format(msgspec.json.encode(event_schema()), indent=2).decode())


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
