"""The append-only audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from shared.db import Connection
from shared.domain import ActorType

__all__ = ["AuditEntry", "AuditRecord", "append", "search"]


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One record to append. ``detail`` carries counts and reasons, never tokens; personal data only if needed."""

    action: str
    actor_type: ActorType
    actor_id: str | None = None
    org_id: UUID | None = None
    target_user_id: UUID | None = None
    changed: tuple[str, ...] = ()
    request_id: str | None = None
    event_id: UUID | None = None
    detail: dict[str, Any] = msgspec.field(default_factory=dict)


class AuditRecord(AuditEntry, frozen=True, kw_only=True):
    """A stored record."""

    id: int
    occurred_at: datetime


_COLUMNS = (
    "id, occurred_at, org_id, actor_type, actor_id, action, target_user_id, changed, request_id, event_id, detail"
)


async def append(connection: Connection, entry: AuditEntry) -> None:
    await connection.execute(
        """
        INSERT INTO audit_log (org_id, actor_type, actor_id, action, target_user_id, changed, request_id,
                               event_id, detail)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        entry.org_id,
        entry.actor_type,
        entry.actor_id,
        entry.action,
        entry.target_user_id,
        list(entry.changed),
        entry.request_id,
        entry.event_id,
        entry.detail,
    )


async def search(
    connection: Connection,
    *,
    org_id: UUID | None = None,
    action: str | None = None,
    target_user_id: UUID | None = None,
    event_id: UUID | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[AuditRecord]:
    """Records matching every given criterion, oldest first, starting after ``after_id`` (keyset paging)."""
    rows = await connection.fetch(
        f"""
        SELECT {_COLUMNS} FROM audit_log
        WHERE id > $1
          AND ($2::uuid IS NULL OR org_id = $2)
          AND ($3::text IS NULL OR action = $3)
          AND ($4::uuid IS NULL OR target_user_id = $4)
          AND ($5::uuid IS NULL OR event_id = $5)
        ORDER BY id
        LIMIT $6
        """,
        after_id,
        org_id,
        action,
        target_user_id,
        event_id,
        limit,
    )
    return [msgspec.convert(dict(row), AuditRecord) for row in rows]
