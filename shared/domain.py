"""Domain records shared by the API, the relay and the worker.

These are the service's own shapes, independent of SCIM wire names: repositories return them and the SCIM layer
renders them. ``UserAttributes`` is the part of a user that provisioning may write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

__all__ = ["Actor", "ActorType", "CreatedBy", "Organization", "Role", "UserAttributes", "UserRecord"]

CreatedBy = Literal["scim", "sso", "invite"]
ActorType = Literal["scim_token", "admin", "user", "worker", "system"]
Role = Literal["admin", "actions-admin", "member", "guest"]


class UserAttributes(msgspec.Struct, kw_only=True, frozen=True):
    """The attributes of a user that SCIM writes carry.

    ``user_name`` is an email address and ``email`` equals it ignoring case; both are fixed once the user exists.
    ``None`` means absent (SCIM treats ``null`` and ``""`` as absent).
    """

    user_name: str
    email: str
    given_name: str | None = None
    family_name: str | None = None
    formatted_name: str | None = None
    display_name: str | None = None
    external_id: str | None = None
    active: bool = True


class UserRecord(msgspec.Struct, kw_only=True, frozen=True):
    """A stored user of one organization, as provisioning sees it."""

    id: UUID
    org_id: UUID
    attributes: UserAttributes
    created_by: CreatedBy
    version: int
    created_at: datetime
    updated_at: datetime


class Organization(msgspec.Struct, kw_only=True, frozen=True):
    """A tenant of the dashboard."""

    id: UUID
    name: str
    sso_domains: tuple[str, ...]
    subscription_active: bool
    provisioning_enabled: bool
    jit_enabled: bool

    def accepts_email(self, email: str) -> bool:
        """Whether ``email`` belongs to one of the organization's SSO domains (case-insensitive)."""
        _, at, domain = email.rpartition("@")
        return bool(at) and domain.lower() in {allowed.lower() for allowed in self.sso_domains}


class Actor(msgspec.Struct, kw_only=True, frozen=True):
    """Who causes a change, for the audit trail: a SCIM token, an operator, a user, the worker or the system."""

    type: ActorType
    id: str | None = None
    request_id: str | None = None
