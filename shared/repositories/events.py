"""The events outbox and log, and the record of what the worker did for each event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from shared.db import Connection
from shared.events import Event

__all__ = [
    "EffectRecord",
    "OutboxEntry",
    "append",
    "claim_unpublished",
    "get",
    "get_effect",
    "mark_published",
    "record_applied",
    "record_dead",
    "replay",
    "unapplied",
]

_COLUMNS = "e.id, e.type, e.org_id, e.user_id, e.version, e.occurred_at, e.data"


class EffectRecord(msgspec.Struct, frozen=True, kw_only=True):
    event_id: UUID
    outcome: Literal["applied", "dead"]
    effects: tuple[str, ...]
    attempts: int
    error: str | None
    recorded_at: datetime


def _event(row: asyncpg.Record) -> Event:
    event: Event = msgspec.convert(dict(row), Event)
    return event


async def append(connection: Connection, event: Event) -> None:
    """Add an event to the outbox, in the caller's transaction (the write it describes)."""
    row = OutboxEntry.of(event)
    await connection.execute(
        """
        INSERT INTO events (id, type, org_id, user_id, version, occurred_at, data)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        row.id,
        row.type,
        row.org_id,
        row.user_id,
        row.version,
        row.occurred_at,
        row.data,
    )


class OutboxEntry(msgspec.Struct, frozen=True, kw_only=True):
    """An outbox row as the relay publishes it: the stored columns, not decoded into an event class.

    The relay only moves rows; it does not need to understand them. A row written by a newer release of the service
    (a new field, a new event type, during a rolling deploy) still goes out instead of stalling the outbox.
    """

    id: UUID
    type: str
    org_id: UUID
    user_id: UUID
    version: int
    occurred_at: datetime
    data: Any

    @classmethod
    def of(cls, event: Event) -> OutboxEntry:
        """The row that records ``event``."""
        return cls(
            id=event.id,
            type=str(event.__struct_config__.tag),
            org_id=event.org_id,
            user_id=event.user_id,
            version=event.version,
            occurred_at=event.occurred_at,
            data=msgspec.to_builtins(event.data),
        )


async def claim_unpublished(connection: Connection, limit: int) -> list[OutboxEntry]:
    """Lock up to ``limit`` unpublished events that may go out now, oldest first.

    An event is held back while an earlier version of the same user is still unpublished, so each user's events
    reach the stream in commit order even with several relays. Rows another relay has locked are skipped.
    """
    rows = await connection.fetch(
        f"""
        SELECT {_COLUMNS}
        FROM events e
        WHERE e.published_at IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM events p
              WHERE p.user_id = e.user_id AND p.version < e.version AND p.published_at IS NULL
          )
        ORDER BY e.occurred_at, e.id
        LIMIT $1
        FOR UPDATE OF e SKIP LOCKED
        """,
        limit,
    )
    return [OutboxEntry(**dict(row)) for row in rows]


async def mark_published(connection: Connection, event_ids: list[UUID]) -> None:
    await connection.execute("UPDATE events SET published_at = now() WHERE id = ANY($1::uuid[])", event_ids)


async def get(connection: Connection, event_id: UUID) -> Event | None:
    row = await connection.fetchrow(f"SELECT {_COLUMNS} FROM events e WHERE e.id = $1", event_id)
    return None if row is None else _event(row)


async def replay(connection: Connection, *, org_id: UUID | None, after: UUID | None, limit: int) -> list[Event]:
    """Events in id order (time order) after the event ``after`` (from the start when None)."""
    rows = await connection.fetch(
        f"""
        SELECT {_COLUMNS} FROM events e
        WHERE ($1::uuid IS NULL OR e.org_id = $1) AND ($2::uuid IS NULL OR e.id > $2)
        ORDER BY e.id
        LIMIT $3
        """,
        org_id,
        after,
        limit,
    )
    return [_event(row) for row in rows]


async def record_applied(connection: Connection, event_id: UUID, *, effects: list[str], attempts: int) -> None:
    """Record that the world was converged for this event (once; a dead letter is turned into applied)."""
    await connection.execute(
        """
        INSERT INTO event_effects AS f (event_id, outcome, effects, attempts)
        VALUES ($1, 'applied', $2, $3)
        ON CONFLICT (event_id) DO UPDATE
            SET outcome = 'applied', effects = EXCLUDED.effects, attempts = EXCLUDED.attempts, error = NULL,
                recorded_at = now()
            WHERE f.outcome = 'dead'
        """,
        event_id,
        effects,
        attempts,
    )
    await _settle(connection, event_id)


async def record_dead(connection: Connection, event_id: UUID, *, attempts: int, error: str) -> bool:
    """Record that the event's side effects failed after the last retry, unless an outcome is already recorded.

    Returns whether this call recorded it (False when the event was applied, or dead-lettered, before).
    """
    recorded: bool | None = await connection.fetchval(
        """
        INSERT INTO event_effects (event_id, outcome, attempts, error)
        VALUES ($1, 'dead', $2, $3)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING true
        """,
        event_id,
        attempts,
        error,
    )
    await _settle(connection, event_id)
    return bool(recorded)


async def _settle(connection: Connection, event_id: UUID) -> None:
    await connection.execute("UPDATE events SET settled_at = now() WHERE id = $1 AND settled_at IS NULL", event_id)


async def get_effect(connection: Connection, event_id: UUID) -> EffectRecord | None:
    row = await connection.fetchrow(
        "SELECT event_id, outcome, effects, attempts, error, recorded_at FROM event_effects WHERE event_id = $1",
        event_id,
    )
    return None if row is None else msgspec.convert(dict(row), EffectRecord)


async def unapplied(connection: Connection, *, published_before_seconds: float, limit: int) -> list[UUID]:
    """Published events with no recorded outcome, published at least this long ago (the reconciler's work)."""
    rows = await connection.fetch(
        """
        SELECT e.id FROM events e
        WHERE e.settled_at IS NULL
          AND e.published_at IS NOT NULL
          AND e.published_at < now() - make_interval(secs => $1)
        ORDER BY e.published_at
        LIMIT $2
        """,
        published_before_seconds,
        limit,
    )
    return [row["id"] for row in rows]
