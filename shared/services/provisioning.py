"""SCIM provisioning of users: create, read, list, change and delete, each write with its event and audit record.

Every write commits the user change, one outbox event and one audit record in a single transaction (the
transactional outbox, design rule 1); nothing here talks to Redis. Deactivation and deletion bump the user's
access epoch in that same transaction, so sign-in and existing sessions fail at once (rule 2).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import msgspec
from uuid_utils.compat import uuid7

from shared.db import Connection, Pool
from shared.domain import Actor, Organization, UserAttributes, UserRecord
from shared.events import EventData, EventType, UserSnapshot, event_class
from shared.repositories import audit, events, users
from shared.scim.errors import InvalidValueError, NotFoundError, PreconditionFailedError

__all__ = [
    "SCIM_NAMES",
    "ProvisioningService",
    "UserPage",
    "changed_attributes",
    "parse_user_id",
    "present_attributes",
    "record_user_event",
]

SCIM_NAMES: dict[str, str] = {
    "user_name": "userName",
    "email": "emails",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "formatted_name": "name.formatted",
    "display_name": "displayName",
    "external_id": "externalId",
    "active": "active",
}
"""UserAttributes field → the SCIM attribute it is stored for."""


class UserPage(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    users: list[UserRecord]


def changed_attributes(before: UserAttributes, after: UserAttributes) -> tuple[str, ...]:
    """The SCIM names of the attributes whose values differ."""
    return tuple(
        scim_name for field, scim_name in SCIM_NAMES.items() if getattr(before, field) != getattr(after, field)
    )


def present_attributes(attributes: UserAttributes) -> tuple[str, ...]:
    """The SCIM names of the attributes that have a value (what a created user was given)."""
    return tuple(scim_name for field, scim_name in SCIM_NAMES.items() if getattr(attributes, field) is not None)


def parse_user_id(text: str) -> UUID:
    """The user id in a SCIM path; anything that is not one of our ids is simply not found.

    Only the id exactly as the service wrote it names the user: ``id`` is case-exact (RFC 7643 §3.1), so the
    other spellings Python's ``UUID`` would read (upper case, braces, ``urn:uuid:``, no hyphens) are not found,
    as they would not be by ``filter=id eq "..."``.
    """
    try:
        parsed = UUID(text)
    except ValueError:
        parsed = None
    if parsed is None or str(parsed) != text:
        raise NotFoundError(f"no user with id {text[:64]!r}")
    return parsed


def _event_type(before: UserAttributes, after: UserAttributes) -> EventType:
    if before.active and not after.active:
        return "user.deactivated"
    if after.active and not before.active:
        return "user.reactivated"
    return "user.updated"


def _check_version(record: UserRecord, if_match: str | None) -> None:
    """RFC 7644 §3.14: honour ``If-Match`` when sent (weak or strong tag of the current version, or ``*``)."""
    if if_match is None:
        return
    current = str(record.version)
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in if_match.split(",")}
    if "*" not in tags and current not in tags:
        raise PreconditionFailedError(f'the user is at version W/"{current}", not the one in If-Match')


async def record_user_event(
    connection: Connection,
    *,
    event_type: EventType,
    record: UserRecord,
    changed: tuple[str, ...],
    actor: Actor,
    occurred_at: datetime,
    deleted: bool = False,
) -> None:
    """Append the outbox event and the audit record of a user write, in the caller's transaction."""
    event_id = uuid7()
    snapshot = UserSnapshot.of(record.id, record.attributes, record.created_by, deleted=deleted)
    await events.append(
        connection,
        event_class(event_type)(
            id=event_id,
            org_id=record.org_id,
            user_id=record.id,
            version=record.version,
            occurred_at=occurred_at,
            data=EventData(user=snapshot, changed=changed),
        ),
    )
    await audit.append(
        connection,
        audit.AuditEntry(
            action=event_type,
            actor_type=actor.type,
            actor_id=actor.id,
            org_id=record.org_id,
            target_user_id=record.id,
            changed=changed,
            request_id=actor.request_id,
            event_id=event_id,
        ),
    )


DEFAULT_ORDER = "u.id"
"""The list order without ``sortBy``: user ids are time-ordered, so this is creation order."""

_CURSOR_CACHE_SIZE = 4096


class _PageCursors:
    """Where recent pages of a query ended, so the next page can seek instead of skipping rows.

    Identity providers import by asking for ``startIndex`` 1, 101, 201, ... of one query. Remembering the id of
    the last user on each page served turns the next request into a keyset seek (``u.id > last``), whose cost
    does not grow with the depth, where ``OFFSET`` reads and throws away every earlier row. Bounded, per process;
    a miss (another replica, an evicted entry, a jump) falls back to ``OFFSET``. If users before the position were
    deleted meanwhile, the seek continues after the last user served instead of skipping one, which is what an
    import wants.
    """

    def __init__(self, size: int = _CURSOR_CACHE_SIZE) -> None:
        self._size = size
        self._ends: OrderedDict[tuple[object, ...], UUID] = OrderedDict()

    @staticmethod
    def key(org_id: UUID, where: str, params: list[object], position: int) -> tuple[object, ...] | None:
        try:
            key = (org_id, where, tuple(params), position)
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, key: tuple[object, ...] | None) -> UUID | None:
        if key is None or key not in self._ends:
            return None
        self._ends.move_to_end(key)
        return self._ends[key]

    def put(self, key: tuple[object, ...] | None, last_id: UUID) -> None:
        if key is None:
            return
        self._ends[key] = last_id
        self._ends.move_to_end(key)
        while len(self._ends) > self._size:
            self._ends.popitem(last=False)


class ProvisioningService:
    """The rules of SCIM user provisioning for one process; holds the pool it was given."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._cursors = _PageCursors()

    async def create(self, org: Organization, attributes: UserAttributes, actor: Actor) -> UserRecord:
        """Provision a user (RFC 7644 §3.3). The email must be in one of the organization's SSO domains."""
        if not org.accepts_email(attributes.email):
            raise InvalidValueError("the email address is not in one of the organization's SSO domains")

        async with self._pool.acquire() as connection, connection.transaction():
            record = await users.insert(
                connection, user_id=uuid7(), org_id=org.id, attributes=attributes, created_by="scim"
            )
            await record_user_event(
                connection,
                event_type="user.created",
                record=record,
                changed=present_attributes(attributes),
                actor=actor,
                occurred_at=record.created_at,
            )
        return record

    async def get(self, org_id: UUID, user_id: str) -> UserRecord:
        """A live user of the organization; 404 for unknown ids, deleted users and other tenants' users."""
        async with self._pool.acquire() as connection:
            record = await users.get(connection, org_id, parse_user_id(user_id))
        if record is None:
            raise NotFoundError(f"no user with id {user_id[:64]!r}")
        return record

    async def search(
        self,
        org_id: UUID,
        *,
        where: str,
        params: list[object],
        order_by: str,
        start_index: int,
        count: int,
    ) -> UserPage:
        """One page of the users matching a compiled filter, and how many match in all (RFC 7644 §3.4.2.4)."""
        seekable = order_by == DEFAULT_ORDER
        after = self._cursors.get(self._cursors.key(org_id, where, params, start_index - 1)) if seekable else None
        async with (
            self._pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            total = await users.count(connection, org_id, where, params)
            found: list[UserRecord] = []
            if count > 0 and start_index <= total and after is not None:
                found = await users.page_after(connection, org_id, where, params, after_id=after, limit=count)
            elif count > 0 and start_index <= total:
                found = await users.page(
                    connection, org_id, where, params, order_by=order_by, offset=start_index - 1, limit=count
                )
        if seekable and found:
            self._cursors.put(self._cursors.key(org_id, where, params, start_index - 1 + len(found)), found[-1].id)
        return UserPage(total=total, users=found)

    async def change(
        self,
        org_id: UUID,
        user_id: str,
        mutate: Callable[[UserAttributes], UserAttributes],
        actor: Actor,
        *,
        if_match: str | None = None,
    ) -> UserRecord:
        """Apply ``mutate`` (a PUT or PATCH, which raises SCIM errors) to the user's current attributes.

        The user row stays locked from reading to writing, so concurrent changes serialize. A change that alters
        nothing writes nothing and emits no event.
        """
        async with self._pool.acquire() as connection, connection.transaction():
            current = await users.get(connection, org_id, parse_user_id(user_id), for_update=True)
            if current is None:
                raise NotFoundError(f"no user with id {user_id[:64]!r}")
            _check_version(current, if_match)

            after = mutate(current.attributes)
            changed = changed_attributes(current.attributes, after)
            if not changed:
                return current

            event_type = _event_type(current.attributes, after)
            record = await users.update(connection, current.id, after, revoke_access=event_type == "user.deactivated")
            await record_user_event(
                connection,
                event_type=event_type,
                record=record,
                changed=changed,
                actor=actor,
                occurred_at=record.updated_at,
            )
        return record

    async def delete(self, org_id: UUID, user_id: str, actor: Actor, *, if_match: str | None = None) -> None:
        """Delete the user's SCIM identity (RFC 7644 §3.6): gone for SCIM at once; the worker removes the seat."""
        async with self._pool.acquire() as connection, connection.transaction():
            current = await users.get(connection, org_id, parse_user_id(user_id), for_update=True)
            if current is None:
                raise NotFoundError(f"no user with id {user_id[:64]!r}")
            _check_version(current, if_match)

            record = await users.tombstone(connection, current.id)
            await record_user_event(
                connection,
                event_type="user.deleted",
                record=record,
                changed=(),
                actor=actor,
                occurred_at=record.updated_at,
                deleted=True,
            )
