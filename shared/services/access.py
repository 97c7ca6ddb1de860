"""SSO sign-in and session checks: how the dashboard grants and verifies access.

A first sign-in creates the user when the organization allows just-in-time accounts (``created_by`` ``sso``,
with a ``user.created`` event), and every sign-in of an active user takes a team seat with the default role.
A deactivated user is refused with a reason; a sign-in never re-activates a user.
"""

from __future__ import annotations

import unicodedata
from typing import Literal
from uuid import UUID

import msgspec
from uuid_utils.compat import uuid7

from shared.db import Connection, Pool
from shared.domain import Actor, UserAttributes
from shared.repositories import audit, members, organizations, sessions, users
from shared.scim.errors import InvalidValueError, NotFoundError
from shared.scim.user_resource import is_email_address
from shared.services.provisioning import present_attributes, record_user_event
from shared.tokens import digest, digests_match, new_secret

__all__ = ["AccessService", "Grant", "SessionOwner", "SignInRefusedError"]

SessionOwner = sessions.SessionOwner

RefusalReason = Literal["user_deactivated", "not_provisioned"]


class SignInRefusedError(Exception):
    """The user may not sign in; ``reason`` says why (shown to the dashboard, never a secret)."""

    def __init__(self, reason: RefusalReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    """A new session: the token is shown once and stored only as its digest."""

    session_token: str
    user_id: UUID
    org_id: UUID
    created_user: bool
    joined_team: bool


class AccessService:
    """Sign-in and session verification for one process."""

    def __init__(self, pool: Pool, *, session_ttl_seconds: int) -> None:
        self._pool = pool
        self._ttl = session_ttl_seconds

    async def sign_in(self, org_id: UUID, email: str, *, request_id: str | None = None) -> Grant:
        """Sign a user in through SSO. Raises NotFoundError, InvalidValueError or SignInRefusedError."""
        async with self._pool.acquire() as connection:
            org = await organizations.get(connection, org_id)
        if org is None:
            raise NotFoundError("no such organization")
        email = unicodedata.normalize("NFC", email.strip())
        if not is_email_address(email):
            raise InvalidValueError("not an email address")
        if not org.accepts_email(email):
            raise InvalidValueError("the email address is not in one of the organization's SSO domains")

        refusal: SignInRefusedError | None = None
        async with self._pool.acquire() as connection, connection.transaction():
            access = await users.find_access_by_email(connection, org_id, email, for_update=True)
            created = False
            if access is None and org.jit_enabled:
                access = await self._create_jit_user(connection, org_id, email, request_id)
                created = True
            if access is None:
                refusal = SignInRefusedError("not_provisioned", "the user is not provisioned for this organization")
            elif not access.active:
                refusal = SignInRefusedError("user_deactivated", "the user is deactivated")
            if refusal is not None:
                await audit.append(
                    connection,
                    audit.AuditEntry(
                        action="signin.refused",
                        actor_type="user",
                        actor_id=None if access is None else str(access.id),
                        org_id=org_id,
                        target_user_id=None if access is None else access.id,
                        request_id=request_id,
                        detail={"reason": refusal.reason},
                    ),
                )
            else:
                assert access is not None  # noqa: S101 - refusal is set whenever access is None
                grant = await self._open_session(connection, org_id, access, created, request_id)
        if refusal is not None:
            raise refusal
        return grant

    async def check_session(self, token: str) -> SessionOwner | None:
        """The owner of a session token while the session is valid; None once it is not."""
        async with self._pool.acquire() as connection:
            found = await sessions.find_valid(connection, digest(token))
        if found is None:
            return None
        owner, stored = found
        return owner if digests_match(stored, token) else None

    async def _create_jit_user(
        self, connection: Connection, org_id: UUID, email: str, request_id: str | None
    ) -> users.UserAccess:
        attributes = UserAttributes(user_name=email, email=email)
        record = await users.insert(connection, user_id=uuid7(), org_id=org_id, attributes=attributes, created_by="sso")
        await record_user_event(
            connection,
            event_type="user.created",
            record=record,
            changed=present_attributes(attributes),
            actor=Actor(type="user", id=str(record.id), request_id=request_id),
            occurred_at=record.created_at,
        )
        return users.UserAccess(id=record.id, org_id=org_id, active=True, deleted=False, access_epoch=0)

    async def _open_session(
        self,
        connection: Connection,
        org_id: UUID,
        access: users.UserAccess,
        created: bool,
        request_id: str | None,
    ) -> Grant:
        joined = await members.join(connection, org_id=org_id, user_id=access.id, access_epoch=access.access_epoch)
        if joined:
            await audit.append(
                connection,
                audit.AuditEntry(
                    action="member.joined",
                    actor_type="user",
                    actor_id=str(access.id),
                    org_id=org_id,
                    target_user_id=access.id,
                    request_id=request_id,
                    detail={"role": "member"},
                ),
            )
        token = new_secret("sess_")
        session_id = uuid7()
        await sessions.insert(
            connection,
            session_id=session_id,
            token_digest=digest(token),
            user_id=access.id,
            org_id=org_id,
            access_epoch=access.access_epoch,
            ttl_seconds=self._ttl,
        )
        await audit.append(
            connection,
            audit.AuditEntry(
                action="signin.succeeded",
                actor_type="user",
                actor_id=str(access.id),
                org_id=org_id,
                target_user_id=access.id,
                request_id=request_id,
                detail={"session_id": str(session_id)},
            ),
        )
        return Grant(session_token=token, user_id=access.id, org_id=org_id, created_user=created, joined_team=joined)
