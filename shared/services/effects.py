"""The worker's side effects: converge a user's membership and sessions to the user's current state.

A handler does not act on what the event says but on what is true now (design rule 4): a user who is inactive
or deleted holds no seat and no live session, and a seat or session from before the user's latest deactivation
is gone even if the user was reactivated since. So a duplicate, late or reordered event is harmless, and running
one twice changes nothing the second time. Each effect that really changed something is audited once, against
the event whose handler applied it, and the event's outcome is recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec
import structlog

from shared.db import Pool
from shared.events import Event
from shared.repositories import audit, events, members, sessions, users

__all__ = ["ApplyResult", "EffectsService"]

logger = structlog.get_logger(__name__)

Effect = Literal["member.removed", "sessions.revoked"]


class ApplyResult(msgspec.Struct, frozen=True, kw_only=True):
    """What one run of a handler did. ``found`` is False for an event id that is not in the log."""

    found: bool
    org_id: UUID | None = None
    event_type: str | None = None
    occurred_at: datetime | None = None
    effects: tuple[Effect, ...] = ()
    sessions_revoked: int = 0


class EffectsService:
    """Applies and records the side effects of events."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def apply(self, event_id: UUID, *, attempt: int = 1) -> ApplyResult:
        """Converge the event's user and record the outcome, all in one transaction."""
        async with self._pool.acquire() as connection, connection.transaction():
            event = await events.get(connection, event_id)
            if event is None:
                return ApplyResult(found=False)
            access = await users.get_access(connection, event.user_id, for_update=True)

            done: list[Effect] = []
            revoked = 0
            if access is not None:
                revoke_all = access.deleted or not access.active
                role = await members.remove_stale(
                    connection, user_id=access.id, access_epoch=access.access_epoch, remove_all=revoke_all
                )
                if role is not None:
                    done.append("member.removed")
                    await audit.append(connection, _effect_entry(event, "member.removed", {"role": role}))
                revoked = await sessions.revoke_stale(
                    connection, user_id=access.id, access_epoch=access.access_epoch, revoke_all=revoke_all
                )
                if revoked:
                    done.append("sessions.revoked")
                    await audit.append(connection, _effect_entry(event, "sessions.revoked", {"count": revoked}))

            await events.record_applied(connection, event.id, effects=list(done), attempts=attempt)
        return ApplyResult(
            found=True,
            org_id=event.org_id,
            event_type=str(event.__struct_config__.tag),
            occurred_at=event.occurred_at,
            effects=tuple(done),
            sessions_revoked=revoked,
        )

    async def dead_letter(self, event_id: UUID, *, attempts: int, error: str) -> bool:
        """Record that the event's effects could not be applied after the last retry, and audit it.

        An event whose outcome is already recorded (another delivery applied it meanwhile) keeps that outcome and
        gets no audit record; returns whether the dead letter was recorded.
        """
        async with self._pool.acquire() as connection, connection.transaction():
            event = await events.get(connection, event_id)
            if event is None:
                return False
            recorded = await events.record_dead(connection, event_id, attempts=attempts, error=error[:2000])
            if recorded:
                await audit.append(connection, _effect_entry(event, "event.dead_lettered", {"attempts": attempts}))
        return recorded


def _effect_entry(event: Event, action: str, detail: dict[str, object]) -> audit.AuditEntry:
    return audit.AuditEntry(
        action=action,
        actor_type="worker",
        org_id=event.org_id,
        target_user_id=event.user_id,
        event_id=event.id,
        detail=detail,
    )
