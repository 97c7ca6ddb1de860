"""The event invariants every test that writes through the real stack ends with.

For one organization, once the relay and the worker have settled:

- every committed write left exactly one outbox row: a user's events are versions 1..``users.version`` with no
  gap (each write bumps the version once and appends one event; ``UNIQUE (user_id, version)`` forbids two), and
  each event has exactly one audit record of its write;
- every event was published (``published_at``);
- every event's side effects are recorded: ``event_effects`` says ``applied``, or ``dead`` with a non-empty error,
  and the event is marked settled.
"""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import msgspec

from shared.db import Connection, Pool

__all__ = ["EventLedger", "check_event_invariants"]

_SAMPLE = 5

_PENDING = """
SELECT count(*) FILTER (WHERE published_at IS NULL) AS unpublished,
       count(*) FILTER (WHERE settled_at IS NULL) AS unsettled
FROM events WHERE org_id = $1
"""

_CHECKS: dict[str, str] = {
    "users whose events are not exactly versions 1..users.version": """
        SELECT u.id::text AS subject, u.version, count(e.id) AS events
        FROM users u LEFT JOIN events e ON e.user_id = u.id
        WHERE u.org_id = $1
        GROUP BY u.id, u.version
        HAVING count(e.id) <> u.version OR coalesce(max(e.version), 0) <> u.version
            OR coalesce(min(e.version), 1) <> 1
    """,
    "events of no user of the organization": """
        SELECT e.id::text AS subject FROM events e
        LEFT JOIN users u ON u.id = e.user_id AND u.org_id = e.org_id
        WHERE e.org_id = $1 AND u.id IS NULL
    """,
    "events without exactly one audit record of their write": """
        SELECT e.id::text AS subject, count(a.id) AS records FROM events e
        LEFT JOIN audit_log a ON a.event_id = e.id AND a.action = e.type
        WHERE e.org_id = $1
        GROUP BY e.id
        HAVING count(a.id) <> 1
    """,
    "events never published": """
        SELECT e.id::text AS subject, e.type FROM events e WHERE e.org_id = $1 AND e.published_at IS NULL
    """,
    "events whose side effects are neither applied nor dead-lettered with a reason": """
        SELECT e.id::text AS subject, e.type, f.outcome, f.error, e.settled_at IS NOT NULL AS settled
        FROM events e LEFT JOIN event_effects f ON f.event_id = e.id
        WHERE e.org_id = $1
          AND (e.settled_at IS NULL
               OR f.event_id IS NULL
               OR NOT (f.outcome = 'applied' OR (f.outcome = 'dead' AND coalesce(f.error, '') <> '')))
    """,
}

_TOTALS = """
SELECT (SELECT count(*) FROM users WHERE org_id = $1) AS users,
       count(e.id) AS events,
       count(*) FILTER (WHERE f.outcome = 'applied') AS applied,
       count(*) FILTER (WHERE f.outcome = 'dead') AS dead
FROM events e LEFT JOIN event_effects f ON f.event_id = e.id
WHERE e.org_id = $1
"""


class EventLedger(msgspec.Struct, frozen=True, kw_only=True):
    """What the check found for the organization once everything held."""

    users: int
    events: int
    applied: int
    dead: int


async def check_event_invariants(pool: Pool, org_id: UUID | str, *, settle_within: float = 30.0) -> EventLedger:
    """Wait up to ``settle_within`` seconds for the organization's events to settle, then check every invariant.

    Raises AssertionError naming each invariant that does not hold, with a few of the offending rows.
    """
    org = org_id if isinstance(org_id, UUID) else UUID(org_id)
    deadline = time.monotonic() + settle_within
    async with pool.acquire() as connection:
        while time.monotonic() < deadline:
            pending = await connection.fetchrow(_PENDING, org)
            if pending is not None and pending["unpublished"] == 0 and pending["unsettled"] == 0:
                break
            await asyncio.sleep(0.1)

        violations = await _violations(connection, org)
        if violations:
            heading = f"event invariants of organization {org} (after waiting up to {settle_within} s):"
            raise AssertionError("\n".join([heading, *violations]))
        totals = await connection.fetchrow(_TOTALS, org)
    assert totals is not None
    return EventLedger(users=totals["users"], events=totals["events"], applied=totals["applied"], dead=totals["dead"])


async def _violations(connection: Connection, org: UUID) -> list[str]:
    found = []
    for invariant, query in _CHECKS.items():
        rows = await connection.fetch(f"{query} LIMIT {_SAMPLE + 1}", org)
        if rows:
            sample = [dict(row) for row in rows[:_SAMPLE]]
            more = " (and more)" if len(rows) > _SAMPLE else ""
            found.append(f"- {invariant}{more}: {sample}")
    return found
