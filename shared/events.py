"""The event contract: what the service publishes on the ``scim:events`` stream.

Events are frozen, tagged msgspec Structs; the tag is the ``type`` field. The publisher, the worker and any
downstream consumer decode them with the one ``EVENT_DECODER``. ``version`` is the user's own counter: strictly
increasing per user, so a consumer ignores an event whose version is not above the last one it applied.

Version 1 of this contract; the JSON Schema in ``shared/contract/events.v1.schema.json`` is generated from these
classes by ``event_schema()`` (``scimctl events schema``), and a test keeps the file equal to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias
from uuid import UUID

import msgspec

from shared.domain import CreatedBy, UserAttributes

__all__ = [
    "EVENT_DECODER",
    "EVENT_ENCODER",
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "Event",
    "EventData",
    "EventType",
    "UserCreated",
    "UserDeactivated",
    "UserDeleted",
    "UserReactivated",
    "UserSnapshot",
    "UserUpdated",
    "event_class",
    "event_schema",
]

SCHEMA_VERSION = 1

EventType = Literal["user.created", "user.updated", "user.deactivated", "user.reactivated", "user.deleted"]
EVENT_TYPES: tuple[EventType, ...] = (
    "user.created",
    "user.updated",
    "user.deactivated",
    "user.reactivated",
    "user.deleted",
)


class UserSnapshot(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The user as it was right after the change. Absent attributes are ``null``."""

    id: UUID
    user_name: str
    email: str
    given_name: str | None
    family_name: str | None
    formatted_name: str | None
    display_name: str | None
    external_id: str | None
    active: bool
    created_by: CreatedBy
    deleted: bool = False

    @classmethod
    def of(
        cls, user_id: UUID, attributes: UserAttributes, created_by: CreatedBy, *, deleted: bool = False
    ) -> UserSnapshot:
        """The snapshot of a user with these attributes."""
        return cls(
            id=user_id,
            user_name=attributes.user_name,
            email=attributes.email,
            given_name=attributes.given_name,
            family_name=attributes.family_name,
            formatted_name=attributes.formatted_name,
            display_name=attributes.display_name,
            external_id=attributes.external_id,
            active=attributes.active,
            created_by=created_by,
            deleted=deleted,
        )


class EventData(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The user after the change, and the SCIM names of the attributes the change touched."""

    user: UserSnapshot
    changed: tuple[str, ...]


class _Event(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="type"):
    id: UUID
    org_id: UUID
    user_id: UUID
    version: int
    occurred_at: datetime
    data: EventData


class UserCreated(_Event, frozen=True, tag="user.created"):
    """A user was provisioned over SCIM or created at first SSO sign-in."""


class UserUpdated(_Event, frozen=True, tag="user.updated"):
    """Attributes other than ``active`` changed."""


class UserDeactivated(_Event, frozen=True, tag="user.deactivated"):
    """``active`` became false: the user lost sign-in; membership and sessions are being removed."""


class UserReactivated(_Event, frozen=True, tag="user.reactivated"):
    """``active`` became true: the user may sign in again and rejoins the team then."""


class UserDeleted(_Event, frozen=True, tag="user.deleted"):
    """The user was deleted over SCIM; membership and sessions are being removed."""


Event: TypeAlias = UserCreated | UserUpdated | UserDeactivated | UserReactivated | UserDeleted

EVENT_DECODER = msgspec.json.Decoder(Event)
EVENT_ENCODER = msgspec.json.Encoder()

_CLASSES: dict[str, type[Event]] = {
    str(cls.__struct_config__.tag): cls
    for cls in (UserCreated, UserUpdated, UserDeactivated, UserReactivated, UserDeleted)
}


def event_class(event_type: EventType) -> type[Event]:
    """The Struct class for an event type name."""
    return _CLASSES[event_type]


def event_schema() -> dict[str, object]:
    """The published JSON Schema (draft 2020-12) of an event document, version ``SCHEMA_VERSION``."""
    schema = msgspec.json.schema(Event)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:scim-provisioning:events:v{SCHEMA_VERSION}",
        "title": f"User provisioning events, version {SCHEMA_VERSION}",
        "description": (
            "One event of the scim:events stream. On the stream each field is a string entry and data is JSON "
            "text; the admin replay API returns the same document as JSON."
        ),
        **schema,
    }
