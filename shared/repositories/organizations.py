"""Organizations (tenants) and their SCIM bearer tokens."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from shared.db import Connection
from shared.domain import Organization
from shared.scim.errors import InvalidValueError, NotFoundError

__all__ = [
    "TokenInfo",
    "TokenMatch",
    "find_by_token_digest",
    "get",
    "insert",
    "insert_token",
    "list_all",
    "list_tokens",
    "revoke_token",
    "update_flags",
]

_COLUMNS = "id, name, sso_domains, subscription_active, provisioning_enabled, jit_enabled"


class TokenMatch(msgspec.Struct, frozen=True, kw_only=True):
    """A live token and the organization it belongs to."""

    token_id: UUID
    token_digest: bytes
    organization: Organization


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A token as listed to operators: never the secret or its digest."""

    id: UUID
    org_id: UUID
    label: str
    created_at: datetime
    revoked_at: datetime | None


def _organization(row: asyncpg.Record | None) -> Organization:
    assert row is not None  # noqa: S101 - callers pass rows that RETURNING or a found lookup produced
    return msgspec.convert(dict(row), Organization)


async def insert(
    connection: Connection,
    *,
    org_id: UUID,
    name: str,
    sso_domains: list[str],
    subscription_active: bool,
    provisioning_enabled: bool,
    jit_enabled: bool,
) -> Organization:
    """Insert an organization. Raises InvalidValueError when the name is empty (the table's only check)."""
    try:
        row = await connection.fetchrow(
            f"""
            INSERT INTO organizations (id, name, sso_domains, subscription_active, provisioning_enabled, jit_enabled)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING {_COLUMNS}
            """,
            org_id,
            name,
            sso_domains,
            subscription_active,
            provisioning_enabled,
            jit_enabled,
        )
    except asyncpg.CheckViolationError as exc:
        raise InvalidValueError("the organization name must not be empty") from exc
    return _organization(row)


async def get(connection: Connection, org_id: UUID) -> Organization | None:
    row = await connection.fetchrow(f"SELECT {_COLUMNS} FROM organizations WHERE id = $1", org_id)
    return None if row is None else _organization(row)


async def list_all(connection: Connection) -> list[Organization]:
    rows = await connection.fetch(f"SELECT {_COLUMNS} FROM organizations ORDER BY created_at, id")
    return [_organization(row) for row in rows]


async def update_flags(
    connection: Connection,
    org_id: UUID,
    *,
    subscription_active: bool | None = None,
    provisioning_enabled: bool | None = None,
    jit_enabled: bool | None = None,
    sso_domains: list[str] | None = None,
) -> Organization | None:
    row = await connection.fetchrow(
        f"""
        UPDATE organizations
        SET subscription_active = coalesce($2, subscription_active),
            provisioning_enabled = coalesce($3, provisioning_enabled),
            jit_enabled = coalesce($4, jit_enabled),
            sso_domains = coalesce($5, sso_domains)
        WHERE id = $1
        RETURNING {_COLUMNS}
        """,
        org_id,
        subscription_active,
        provisioning_enabled,
        jit_enabled,
        sso_domains,
    )
    return None if row is None else _organization(row)


async def find_by_token_digest(connection: Connection, token_digest: bytes) -> TokenMatch | None:
    row = await connection.fetchrow(
        """
        SELECT t.id AS token_id, t.token_hash, o.id, o.name, o.sso_domains, o.subscription_active,
               o.provisioning_enabled, o.jit_enabled
        FROM scim_tokens t
        JOIN organizations o ON o.id = t.org_id
        WHERE t.token_hash = $1 AND t.revoked_at IS NULL
        """,
        token_digest,
    )
    if row is None:
        return None
    values = dict(row)
    return TokenMatch(
        token_id=values.pop("token_id"),
        token_digest=values.pop("token_hash"),
        organization=msgspec.convert(values, Organization),
    )


async def insert_token(
    connection: Connection, *, token_id: UUID, org_id: UUID, token_digest: bytes, label: str
) -> None:
    """Store a token's digest. Raises NotFoundError when there is no such organization."""
    try:
        await connection.execute(
            "INSERT INTO scim_tokens (id, org_id, token_hash, label) VALUES ($1, $2, $3, $4)",
            token_id,
            org_id,
            token_digest,
            label,
        )
    except asyncpg.ForeignKeyViolationError as exc:
        raise NotFoundError("no such organization") from exc


async def revoke_token(connection: Connection, token_id: UUID) -> UUID | None:
    """Revoke a live token; return its organization, or None when no live token has that id."""
    org_id: UUID | None = await connection.fetchval(
        "UPDATE scim_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING org_id",
        token_id,
    )
    return org_id


async def list_tokens(connection: Connection, org_id: UUID) -> list[TokenInfo]:
    rows = await connection.fetch(
        "SELECT id, org_id, label, created_at, revoked_at FROM scim_tokens WHERE org_id = $1 ORDER BY created_at, id",
        org_id,
    )
    return [msgspec.convert(dict(row), TokenInfo) for row in rows]
