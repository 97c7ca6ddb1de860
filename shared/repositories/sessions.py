"""Dashboard sessions created by SSO sign-in."""

from __future__ import annotations

from uuid import UUID

import msgspec

from shared.db import Connection

__all__ = ["SessionOwner", "find_valid", "insert", "revoke_stale"]


class SessionOwner(msgspec.Struct, frozen=True, kw_only=True):
    session_id: UUID
    user_id: UUID
    org_id: UUID


async def insert(
    connection: Connection,
    *,
    session_id: UUID,
    token_digest: bytes,
    user_id: UUID,
    org_id: UUID,
    access_epoch: int,
    ttl_seconds: int,
) -> None:
    await connection.execute(
        """
        INSERT INTO sessions (id, token_hash, user_id, org_id, access_epoch, expires_at)
        VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
        """,
        session_id,
        token_digest,
        user_id,
        org_id,
        access_epoch,
        float(ttl_seconds),
    )


async def find_valid(connection: Connection, token_digest: bytes) -> tuple[SessionOwner, bytes] | None:
    """The session with this digest if it is valid right now, with the stored digest to compare.

    Valid means: not revoked, not expired, and its user is active, not deleted and not deactivated since the
    session began (the access epoch). This read is what makes a deactivation cut access at once.
    """
    row = await connection.fetchrow(
        """
        SELECT s.id AS session_id, s.user_id, s.org_id, s.token_hash
        FROM sessions s
        JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = $1
          AND s.revoked_at IS NULL
          AND s.expires_at > now()
          AND u.active
          AND u.deleted_at IS NULL
          AND u.access_epoch = s.access_epoch
        """,
        token_digest,
    )
    if row is None:
        return None
    values = dict(row)
    stored: bytes = values.pop("token_hash")
    return msgspec.convert(values, SessionOwner), stored


async def revoke_stale(connection: Connection, *, user_id: UUID, access_epoch: int, revoke_all: bool) -> int:
    """Revoke the user's live sessions that predate ``access_epoch`` (or all with ``revoke_all``); return how many."""
    rows = await connection.fetch(
        """
        UPDATE sessions SET revoked_at = now()
        WHERE user_id = $1 AND revoked_at IS NULL AND ($2 OR access_epoch < $3)
        RETURNING id
        """,
        user_id,
        revoke_all,
        access_epoch,
    )
    return len(rows)
