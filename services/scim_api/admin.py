"""The internal API under ``/api/v1`` that the dashboard and operators use.

Authenticated with ``Authorization: Bearer $SCIM_ADMIN_TOKEN``, except ``GET /api/v1/session`` which takes the
session token it checks. It manages tenants and tokens, signs users in through SSO, lists team members, and
reads the event log and the audit trail.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any, TypeVar
from uuid import UUID

import msgspec
import structlog
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter

from services.scim_api.responses import admin_error, admin_json
from services.scim_api.state import services_of
from shared.domain import Actor, Organization
from shared.repositories import audit, events
from shared.scim.errors import ForbiddenError, InvalidValueError, NotFoundError, UnauthorizedError
from shared.services.access import SignInRefusedError

__all__ = ["AdminController", "SessionController"]

AnyRequest = Request[object, object, State]

_MAX_PAGE = 1000
_T = TypeVar("_T")


# Text the database can store (no NUL), of a sensible length; anything else is a 400 naming the field.
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]
Label = Annotated[str, msgspec.Meta(max_length=200, pattern=r"^[^\x00]*$")]
Domain = Annotated[str, msgspec.Meta(min_length=1, max_length=253, pattern=r"^[^\x00]+$")]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^\x00]+$")]


class NewOrganization(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    sso_domains: Annotated[list[Domain], msgspec.Meta(max_length=100)]
    provisioning_enabled: bool = False
    subscription_active: bool = True
    jit_enabled: bool = True


class OrganizationChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sso_domains: Annotated[list[Domain], msgspec.Meta(max_length=100)] | None = None
    provisioning_enabled: bool | None = None
    subscription_active: bool | None = None
    jit_enabled: bool | None = None


class NewToken(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    label: Label = ""


class SignIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email


def _decode(body: bytes, model: type[_T]) -> _T:
    try:
        return msgspec.json.decode(body or b"{}", type=model)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidValueError(f"invalid request body: {exc}") from None


def _uuid(name: str, value: str | None) -> UUID | None:
    if value is None or value == "":
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidValueError(f"{name} must be a UUID") from None


def _text(name: str, value: str | None) -> str | None:
    if value is not None and ("\x00" in value or len(value) > 200):
        raise InvalidValueError(f"{name} must be at most 200 characters, without NUL")
    return value or None


def _record_id(value: str | None) -> int:
    try:
        after = int(value or 0)
    except ValueError:
        raise InvalidValueError("after must be an integer record id") from None
    if not 0 <= after < 2**63:
        raise InvalidValueError("after must be a record id between 0 and 2^63 - 1")
    return after


def _limit(value: str | None, default: int = 100) -> int:
    try:
        limit = default if value is None else int(value)
    except ValueError:
        raise InvalidValueError("limit must be an integer") from None
    return max(1, min(_MAX_PAGE, limit))


def _request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return None if value is None else str(value)


def _organization(org: Organization) -> dict[str, Any]:
    return msgspec.to_builtins(org)  # type: ignore[no-any-return]  # a Struct converts to a dict


async def require_admin(request: AnyRequest) -> Actor:
    """Check the admin bearer token in constant time."""
    expected = services_of(request).settings.admin_token
    if not expected:
        raise ForbiddenError("the internal API is disabled: SCIM_ADMIN_TOKEN is not set")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise UnauthorizedError("the admin bearer token is missing or wrong")
    return Actor(type="admin", id="admin-token", request_id=_request_id())


# Ids in paths are parsed by these dependencies rather than by the router, which answers a bare "Not Found" for a
# malformed one. Each takes ``admin`` so that a caller without the admin token gets 401 before anything else.
async def org_id_in_path(admin: Actor, org: Annotated[str, Parameter(description="organization id (UUID)")]) -> UUID:
    """The organization id of the path, bound to the request's log lines; 404 saying so when it is not a UUID."""
    org_id = _path_id("organization", org)
    structlog.contextvars.bind_contextvars(org_id=str(org_id))
    return org_id


async def token_id_in_path(admin: Actor, token: Annotated[str, Parameter(description="token id (UUID)")]) -> UUID:
    """The token id of the path; 404 saying so when it is not a UUID."""
    return _path_id("token", token)


def _path_id(kind: str, value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFoundError(f"{value[:64]!r} is not a valid {kind} id: ids are UUIDs") from None


class AdminController(Controller):
    path = "/api/v1"
    dependencies = {  # noqa: RUF012 - the framework reads this class attribute
        "admin": Provide(require_admin),
        "org_id": Provide(org_id_in_path),
        "token_id": Provide(token_id_in_path),
    }

    @post("/orgs", status_code=201)
    async def create_organization(self, request: AnyRequest, admin: Actor) -> Response[bytes]:
        new = _decode(await request.body(), NewOrganization)
        org = await services_of(request).tenants.create_organization(
            new.name,
            sso_domains=new.sso_domains,
            provisioning_enabled=new.provisioning_enabled,
            subscription_active=new.subscription_active,
            jit_enabled=new.jit_enabled,
            actor=admin,
        )
        return admin_json(_organization(org), status=201)

    @get("/orgs")
    async def list_organizations(self, request: AnyRequest, admin: Actor) -> Response[bytes]:
        orgs = await services_of(request).tenants.list_organizations()
        return admin_json({"organizations": [_organization(org) for org in orgs]})

    @get("/orgs/{org:str}")
    async def get_organization(self, request: AnyRequest, admin: Actor, org_id: UUID) -> Response[bytes]:
        org = await services_of(request).tenants.get_organization(org_id)
        if org is None:
            raise NotFoundError("no such organization")
        return admin_json(_organization(org))

    @patch("/orgs/{org:str}")
    async def update_organization(self, request: AnyRequest, admin: Actor, org_id: UUID) -> Response[bytes]:
        change = _decode(await request.body(), OrganizationChange)
        org = await services_of(request).tenants.update_organization(
            org_id,
            actor=admin,
            subscription_active=change.subscription_active,
            provisioning_enabled=change.provisioning_enabled,
            jit_enabled=change.jit_enabled,
            sso_domains=change.sso_domains,
        )
        if org is None:
            raise NotFoundError("no such organization")
        return admin_json(_organization(org))

    @post("/orgs/{org:str}/tokens", status_code=201)
    async def create_token(self, request: AnyRequest, admin: Actor, org_id: UUID) -> Response[bytes]:
        new = _decode(await request.body(), NewToken)
        issued = await services_of(request).tenants.issue_token(org_id, label=new.label, actor=admin)
        return admin_json(msgspec.to_builtins(issued), status=201)

    @get("/orgs/{org:str}/tokens")
    async def list_tokens(self, request: AnyRequest, admin: Actor, org_id: UUID) -> Response[bytes]:
        tokens = await services_of(request).tenants.list_tokens(org_id)
        return admin_json({"tokens": msgspec.to_builtins(tokens)})

    @delete("/tokens/{token:str}", status_code=204)
    async def revoke_token(self, request: AnyRequest, admin: Actor, token_id: UUID) -> None:
        if not await services_of(request).tenants.revoke_token(token_id, actor=admin):
            raise NotFoundError("no live token with that id")

    @get("/orgs/{org:str}/members")
    async def list_members(self, request: AnyRequest, admin: Actor, org_id: UUID) -> Response[bytes]:
        found = await services_of(request).tenants.list_members(org_id)
        return admin_json({"members": msgspec.to_builtins(found)})

    @post("/orgs/{org:str}/sessions", status_code=201)
    async def sign_in(self, request: AnyRequest, admin: Actor, org_id: UUID) -> Response[bytes]:
        """SSO sign-in: a session for an active user (created just in time when allowed); 403 with a reason."""
        body = _decode(await request.body(), SignIn)
        try:
            grant = await services_of(request).access.sign_in(org_id, body.email.strip(), request_id=_request_id())
        except SignInRefusedError as exc:
            return admin_error(403, exc.reason, exc.detail)
        return admin_json(msgspec.to_builtins(grant), status=201)

    @get("/events")
    async def replay_events(self, request: AnyRequest, admin: Actor) -> Response[bytes]:
        """The event log in id (time) order after ``after``; page with ``next_after``."""
        params = request.query_params
        limit = _limit(params.get("limit"))
        async with services_of(request).pool.acquire() as connection:
            found = await events.replay(
                connection,
                org_id=_uuid("org_id", params.get("org_id")),
                after=_uuid("after", params.get("after")),
                limit=limit,
            )
        next_after = str(found[-1].id) if len(found) == limit else None
        return admin_json({"events": msgspec.to_builtins(found), "next_after": next_after})

    @get("/audit")
    async def audit_trail(self, request: AnyRequest, admin: Actor) -> Response[bytes]:
        """Audit records, oldest first, filtered by org, action, user or event; page with ``next_after``."""
        params = request.query_params
        limit = _limit(params.get("limit"))
        after = _record_id(params.get("after"))
        async with services_of(request).pool.acquire() as connection:
            found = await audit.search(
                connection,
                org_id=_uuid("org_id", params.get("org_id")),
                action=_text("action", params.get("action")),
                target_user_id=_uuid("user_id", params.get("user_id")),
                event_id=_uuid("event_id", params.get("event_id")),
                after_id=after,
                limit=limit,
            )
        next_after = found[-1].id if len(found) == limit else None
        return admin_json({"records": msgspec.to_builtins(found), "next_after": next_after})


class SessionController(Controller):
    path = "/api/v1/session"

    @get("/")
    async def current_session(self, request: AnyRequest) -> Response[bytes]:
        """Who owns the session token in the Authorization header; 401 once the session is not valid."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        owner = None
        if scheme.lower() == "bearer" and token.strip():
            owner = await services_of(request).access.check_session(token.strip())
        if owner is None:
            return admin_error(401, "invalid_session", "the session is not valid")
        return admin_json({"user_id": str(owner.user_id), "org_id": str(owner.org_id)})
