"""Team members: the users who hold a seat in an organization, with their role."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from shared.db import Connection
from shared.domain import Role

__all__ = ["Member", "join", "list_for_org", "remove_stale"]


class Member(msgspec.Struct, frozen=True, kw_only=True):
    user_id: UUID
    email: str
    role: Role
    active: bool
    joined_at: datetime


async def join(connection: Connection, *, org_id: UUID, user_id: UUID, access_epoch: int) -> bool:
    """Make the user a member with the default role; return True when they were not a current member.

    A membership left over from before the user's last deactivation counts as gone: it is renewed with the
    default role, as a new seat.
    """
    joined: bool | None = await connection.fetchval(
        """
        INSERT INTO team_members AS m (user_id, org_id, role, access_epoch)
        VALUES ($1, $2, 'member', $3)
        ON CONFLICT (user_id) DO UPDATE
            SET role = 'member', access_epoch = EXCLUDED.access_epoch, joined_at = now()
            WHERE m.access_epoch < EXCLUDED.access_epoch
        RETURNING true
        """,
        user_id,
        org_id,
        access_epoch,
    )
    return bool(joined)


async def remove_stale(connection: Connection, *, user_id: UUID, access_epoch: int, remove_all: bool) -> Role | None:
    """Remove the user's membership if it predates ``access_epoch`` (or in any case with ``remove_all``).

    Returns the role the removed membership had, or None when nothing was removed.
    """
    role: Role | None = await connection.fetchval(
        "DELETE FROM team_members WHERE user_id = $1 AND ($2 OR access_epoch < $3) RETURNING role",
        user_id,
        remove_all,
        access_epoch,
    )
    return role


async def list_for_org(connection: Connection, org_id: UUID) -> list[Member]:
    rows = await connection.fetch(
        """
        SELECT m.user_id, u.email, m.role, u.active, m.joined_at
        FROM team_members m
        JOIN users u ON u.id = m.user_id
        WHERE m.org_id = $1
        ORDER BY m.joined_at, m.user_id
        """,
        org_id,
    )
    return [msgspec.convert(dict(row), Member) for row in rows]
