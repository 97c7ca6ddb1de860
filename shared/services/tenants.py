"""Organizations and their SCIM tokens, as operators and organization admins manage them.

Tokens are 32 random bytes, shown once, stored as digests; several may be live at once so that an admin can
rotate without downtime (design rule 6). Authentication of a SCIM request is here too.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Mapping
from uuid import UUID

import msgspec
from uuid_utils.compat import uuid7

from shared.db import Connection, Pool
from shared.domain import Actor, Organization
from shared.repositories import audit, members, organizations
from shared.scim.errors import ForbiddenError, InvalidValueError, NotFoundError, UnauthorizedError
from shared.tokens import digest, digests_match, new_secret

__all__ = ["IssuedToken", "ScimCaller", "TenantService", "normalize_domain"]

TokenInfo = organizations.TokenInfo
Member = members.Member

_MAX_NAME = 200


class IssuedToken(msgspec.Struct, frozen=True, kw_only=True):
    """A token just created: ``token`` is the only time the secret is visible."""

    id: UUID
    org_id: UUID
    token: str


class ScimCaller(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated SCIM client: its organization and the id of the token it used."""

    organization: Organization
    token_id: UUID


def _organization_name(name: str) -> str:
    """An organization name as stored: in Unicode NFC, without surrounding space.

    Raises InvalidValueError for a blank name, one longer than 200 characters or one with a NUL.
    """
    cleaned = unicodedata.normalize("NFC", name.strip())
    if not cleaned:
        raise InvalidValueError("the organization name must not be empty")
    if len(cleaned) > _MAX_NAME or "\x00" in cleaned:
        raise InvalidValueError(f"the organization name must be at most {_MAX_NAME} characters, without NUL")
    return cleaned


def normalize_domain(domain: str) -> str:
    """An SSO email domain as stored: lower case, without a leading ``@`` or surrounding space.

    Raises InvalidValueError for anything that is not a domain name of at least two labels.
    """
    cleaned = domain.strip().lstrip("@").lower()
    if not _DOMAIN.fullmatch(cleaned) or len(cleaned) > 253:
        raise InvalidValueError(f"not an email domain: {domain[:64]!r}")
    return cleaned


def _sso_domains(domains: list[str]) -> list[str]:
    """An organization's SSO domains as stored: normalized, without duplicates, sorted.

    Raises InvalidValueError for an empty list: only emails in these domains can be provisioned or sign in, so an
    organization without one could have no members.
    """
    cleaned = sorted({normalize_domain(domain) for domain in domains})
    if not cleaned:
        raise InvalidValueError("an organization needs at least one SSO domain: only emails in them can join")
    return cleaned


# Dot-separated labels of letters (any script), digits and inner hyphens, at least two of them.
_DOMAIN = re.compile(r"(?:[^\W_](?:[^\W_]|-){0,62}\.)+[^\W_](?:[^\W_]|-){0,62}")


class TenantService:
    """Tenant administration and SCIM authentication."""

    def __init__(self, pool: Pool, *, token_cache_seconds: float = 0.0) -> None:
        self._pool = pool
        self._cache_seconds = token_cache_seconds
        self._matches: dict[bytes, tuple[float, organizations.TokenMatch]] = {}

    async def create_organization(
        self,
        name: str,
        *,
        sso_domains: list[str],
        provisioning_enabled: bool,
        subscription_active: bool = True,
        jit_enabled: bool = True,
        actor: Actor,
    ) -> Organization:
        """Create an organization. Raises InvalidValueError for a blank name or no valid SSO domain."""
        name = _organization_name(name)
        domains = _sso_domains(sso_domains)

        async with self._pool.acquire() as connection, connection.transaction():
            org = await organizations.insert(
                connection,
                org_id=uuid7(),
                name=name,
                sso_domains=domains,
                subscription_active=subscription_active,
                provisioning_enabled=provisioning_enabled,
                jit_enabled=jit_enabled,
            )
            await audit.append(connection, _entry("organization.created", org.id, actor, {"domains": domains}))
        return org

    async def update_organization(
        self,
        org_id: UUID,
        *,
        actor: Actor,
        subscription_active: bool | None = None,
        provisioning_enabled: bool | None = None,
        jit_enabled: bool | None = None,
        sso_domains: list[str] | None = None,
    ) -> Organization | None:
        """Change the switches given (``None`` leaves one as it is); ``sso_domains`` replaces the whole list.

        Returns None when there is no such organization. Raises InvalidValueError for an invalid or empty domain
        list.
        """
        domains = None if sso_domains is None else _sso_domains(sso_domains)

        async with self._pool.acquire() as connection, connection.transaction():
            org = await organizations.update_flags(
                connection,
                org_id,
                subscription_active=subscription_active,
                provisioning_enabled=provisioning_enabled,
                jit_enabled=jit_enabled,
                sso_domains=domains,
            )
            if org is not None:
                self._matches.clear()
                changes = {
                    "subscription_active": subscription_active,
                    "provisioning_enabled": provisioning_enabled,
                    "jit_enabled": jit_enabled,
                    "sso_domains": domains,
                }
                detail = {key: value for key, value in changes.items() if value is not None}
                await audit.append(connection, _entry("organization.updated", org_id, actor, detail))
        return org

    async def get_organization(self, org_id: UUID) -> Organization | None:
        async with self._pool.acquire() as connection:
            return await organizations.get(connection, org_id)

    async def list_organizations(self) -> list[Organization]:
        async with self._pool.acquire() as connection:
            return await organizations.list_all(connection)

    async def issue_token(self, org_id: UUID, *, label: str = "", actor: Actor) -> IssuedToken:
        """A new live token for the organization. Raises NotFoundError when there is no such organization."""
        token = new_secret("scim_")
        token_id = uuid7()
        async with self._pool.acquire() as connection, connection.transaction():
            await organizations.insert_token(
                connection, token_id=token_id, org_id=org_id, token_digest=digest(token), label=label
            )
            detail = {"token_id": str(token_id), "label": label}
            await audit.append(connection, _entry("token.created", org_id, actor, detail))
        return IssuedToken(id=token_id, org_id=org_id, token=token)

    async def revoke_token(self, token_id: UUID, *, actor: Actor) -> bool:
        """Revoke a live token; False when no live token has that id."""
        async with self._pool.acquire() as connection, connection.transaction():
            org_id = await organizations.revoke_token(connection, token_id)
            if org_id is None:
                return False
            self._matches.clear()
            await audit.append(connection, _entry("token.revoked", org_id, actor, {"token_id": str(token_id)}))
        return True

    async def list_tokens(self, org_id: UUID) -> list[TokenInfo]:
        """The organization's tokens, revoked ones too. Raises NotFoundError when there is no such organization."""
        async with self._pool.acquire() as connection:
            await _require_organization(connection, org_id)
            return await organizations.list_tokens(connection, org_id)

    async def list_members(self, org_id: UUID) -> list[Member]:
        """The organization's team members. Raises NotFoundError when there is no such organization."""
        async with self._pool.acquire() as connection:
            await _require_organization(connection, org_id)
            return await members.list_for_org(connection, org_id)

    async def authenticate(self, authorization: str | None) -> ScimCaller:
        """The caller behind an ``Authorization: Bearer`` header (RFC 7644 §2).

        401 without a live token; 403 when the organization's subscription is inactive or provisioning is off.
        """
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthorizedError("a bearer token is required (Authorization: Bearer <token>)")

        match = await self._find_token(digest(token))
        if match is None or not digests_match(match.token_digest, token):
            raise UnauthorizedError("the bearer token is not valid or has been revoked")
        org = match.organization
        if not org.subscription_active:
            raise ForbiddenError("the organization's subscription is not active, so provisioning is unavailable")
        if not org.provisioning_enabled:
            raise ForbiddenError("provisioning is not enabled for this organization; ask support to switch it on")
        return ScimCaller(organization=org, token_id=match.token_id)

    async def _find_token(self, token_digest: bytes) -> organizations.TokenMatch | None:
        """The live token with this digest, from a short-lived per-process cache of recent matches.

        Only matches are cached (an unknown token always reaches the database), for at most
        ``token_cache_seconds``: a revocation or an organization switched off elsewhere takes effect within that
        time; one made through this process at once.
        """
        now = time.monotonic()
        cached = self._matches.get(token_digest)
        if cached is not None and cached[0] > now:
            return cached[1]

        async with self._pool.acquire() as connection:
            match = await organizations.find_by_token_digest(connection, token_digest)
        if match is not None and self._cache_seconds > 0:
            if len(self._matches) >= _TOKEN_CACHE_SIZE:
                self._matches.clear()
            self._matches[token_digest] = (now + self._cache_seconds, match)
        return match


_TOKEN_CACHE_SIZE = 10_000


async def _require_organization(connection: Connection, org_id: UUID) -> None:
    if await organizations.get(connection, org_id) is None:
        raise NotFoundError("no such organization")


def _entry(action: str, org_id: UUID, actor: Actor, detail: Mapping[str, object]) -> audit.AuditEntry:
    return audit.AuditEntry(
        action=action,
        actor_type=actor.type,
        actor_id=actor.id,
        org_id=org_id,
        request_id=actor.request_id,
        detail=dict(detail),
    )
