"""Users of an organization, however they were created (SCIM, SSO sign-in, dashboard invitation)."""

from __future__ import annotations

from uuid import UUID

import asyncpg
import msgspec

from shared.db import Connection
from shared.domain import CreatedBy, UserAttributes, UserRecord
from shared.scim.errors import UniquenessError

__all__ = [
    "UserAccess",
    "count",
    "find_access_by_email",
    "get",
    "get_access",
    "insert",
    "page",
    "page_after",
    "tombstone",
    "update",
]

_COLUMNS = (
    "u.id, u.org_id, u.user_name, u.email, u.given_name, u.family_name, u.formatted_name, u.display_name, "
    "u.external_id, u.active, u.created_by, u.version, u.created_at, u.updated_at"
)


class UserAccess(msgspec.Struct, frozen=True, kw_only=True):
    """What sign-in and the worker need to decide access: the state that revokes, not the profile."""

    id: UUID
    org_id: UUID
    active: bool
    deleted: bool
    access_epoch: int


def _record(row: asyncpg.Record) -> UserRecord:
    return UserRecord(
        id=row["id"],
        org_id=row["org_id"],
        attributes=UserAttributes(
            user_name=row["user_name"],
            email=row["email"],
            given_name=row["given_name"],
            family_name=row["family_name"],
            formatted_name=row["formatted_name"],
            display_name=row["display_name"],
            external_id=row["external_id"],
            active=row["active"],
        ),
        created_by=row["created_by"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _attribute_values(attributes: UserAttributes) -> tuple[object, ...]:
    """The stored attributes in column order: user_name, email, the name parts, display_name, external_id, active."""
    return (
        attributes.user_name,
        attributes.email,
        attributes.given_name,
        attributes.family_name,
        attributes.formatted_name,
        attributes.display_name,
        attributes.external_id,
        attributes.active,
    )


async def insert(
    connection: Connection,
    *,
    user_id: UUID,
    org_id: UUID,
    attributes: UserAttributes,
    created_by: CreatedBy,
) -> UserRecord:
    """Insert a user; raise ``UniquenessError`` when the userName is taken in the organization (any case)."""
    try:
        row = await connection.fetchrow(
            f"""
            INSERT INTO users AS u (id, org_id, user_name, email, given_name, family_name, formatted_name,
                                    display_name, external_id, active, created_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            RETURNING {_COLUMNS}
            """,
            user_id,
            org_id,
            *_attribute_values(attributes),
            created_by,
        )
    except asyncpg.UniqueViolationError as exc:
        raise UniquenessError("a user with this userName already exists in the organization") from exc
    assert row is not None  # noqa: S101 - INSERT ... RETURNING always yields the row
    return _record(row)


async def get(connection: Connection, org_id: UUID, user_id: UUID, *, for_update: bool = False) -> UserRecord | None:
    """A live (not deleted) user of the organization; with ``for_update`` the row is locked."""
    lock = " FOR UPDATE" if for_update else ""
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM users u WHERE u.id = $1 AND u.org_id = $2 AND u.deleted_at IS NULL{lock}",
        user_id,
        org_id,
    )
    return None if row is None else _record(row)


async def update(
    connection: Connection, user_id: UUID, attributes: UserAttributes, *, revoke_access: bool
) -> UserRecord:
    """Store new attributes and bump the version; ``revoke_access`` also invalidates sessions and memberships."""
    row = await connection.fetchrow(
        f"""
        UPDATE users AS u
        SET user_name = $2, email = $3, given_name = $4, family_name = $5, formatted_name = $6,
            display_name = $7, external_id = $8, active = $9, version = u.version + 1,
            access_epoch = u.access_epoch + CASE WHEN $10 THEN 1 ELSE 0 END,
            updated_at = date_trunc('milliseconds', now())
        WHERE u.id = $1
        RETURNING {_COLUMNS}
        """,
        user_id,
        *_attribute_values(attributes),
        revoke_access,
    )
    assert row is not None  # noqa: S101 - callers hold the row lock, so the user exists
    return _record(row)


async def tombstone(connection: Connection, user_id: UUID) -> UserRecord:
    """Mark a user deleted: invisible to SCIM, access revoked, its userName free again. Returns the final state."""
    row = await connection.fetchrow(
        f"""
        UPDATE users AS u
        SET deleted_at = now(), active = false, version = u.version + 1, access_epoch = u.access_epoch + 1,
            updated_at = date_trunc('milliseconds', now())
        WHERE u.id = $1
        RETURNING {_COLUMNS}
        """,
        user_id,
    )
    assert row is not None  # noqa: S101 - callers hold the row lock, so the user exists
    return _record(row)


async def find_access_by_email(
    connection: Connection, org_id: UUID, email: str, *, for_update: bool = False
) -> UserAccess | None:
    """The live user whose email is ``email`` (any case) in the organization."""
    lock = " FOR UPDATE" if for_update else ""
    row = await connection.fetchrow(
        f"""
        SELECT id, org_id, active, deleted_at IS NOT NULL AS deleted, access_epoch
        FROM users
        WHERE org_id = $1 AND lower(email) = lower($2) AND deleted_at IS NULL{lock}
        """,
        org_id,
        email,
    )
    return None if row is None else msgspec.convert(dict(row), UserAccess)


async def get_access(connection: Connection, user_id: UUID, *, for_update: bool = False) -> UserAccess | None:
    """The access state of a user, deleted ones included."""
    lock = " FOR UPDATE" if for_update else ""
    row = await connection.fetchrow(
        f"SELECT id, org_id, active, deleted_at IS NOT NULL AS deleted, access_epoch FROM users WHERE id = $1{lock}",
        user_id,
    )
    return None if row is None else msgspec.convert(dict(row), UserAccess)


async def count(connection: Connection, org_id: UUID, where: str, params: list[object]) -> int:
    """How many live users of the organization match ``where`` (a compiled filter over alias ``u``, from $2)."""
    total: int = await connection.fetchval(
        f"SELECT count(*) FROM users u WHERE u.org_id = $1 AND u.deleted_at IS NULL AND ({where})",
        org_id,
        *params,
    )
    return total


async def page(
    connection: Connection,
    org_id: UUID,
    where: str,
    params: list[object],
    *,
    order_by: str,
    offset: int,
    limit: int,
) -> list[UserRecord]:
    """One page of matching users in ``order_by`` order (compiled by the filter engine, ending in ``u.id``)."""
    first = len(params) + 2
    rows = await connection.fetch(
        f"""
        SELECT {_COLUMNS} FROM users u
        WHERE u.org_id = $1 AND u.deleted_at IS NULL AND ({where})
        ORDER BY {order_by}
        OFFSET ${first} LIMIT ${first + 1}
        """,
        org_id,
        *params,
        offset,
        limit,
    )
    return [_record(row) for row in rows]


async def page_after(
    connection: Connection,
    org_id: UUID,
    where: str,
    params: list[object],
    *,
    after_id: UUID,
    limit: int,
) -> list[UserRecord]:
    """The matching users after ``after_id`` in id order: a keyset page, as cheap at any depth."""
    first = len(params) + 2
    rows = await connection.fetch(
        f"""
        SELECT {_COLUMNS} FROM users u
        WHERE u.org_id = $1 AND u.deleted_at IS NULL AND ({where}) AND u.id > ${first}
        ORDER BY u.id
        LIMIT ${first + 1}
        """,
        org_id,
        *params,
        after_id,
        limit,
    )
    return [_record(row) for row in rows]
