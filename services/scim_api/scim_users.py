"""SCIM ``/Users`` endpoints (RFC 7644 §3.3 to §3.6): parse, call the provisioning service, render."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import State
from litestar.di import Provide

from services.scim_api.bodies import json_body
from services.scim_api.responses import scim_json
from services.scim_api.state import services_of
from shared.domain import Actor, UserRecord
from shared.scim.filter_sql import compile_filter, compile_sort
from shared.scim.listing import ListQuery, decode_query_string, list_response, query_from_params, query_from_search_body
from shared.scim.patch import apply_patch
from shared.scim.user_resource import parse_create, parse_replace, project, render_user
from shared.services.tenants import ScimCaller

__all__ = ["UsersController", "list_users", "provide_caller", "render", "scim_base_url"]

AnyRequest = Request[object, object, State]


async def provide_caller(request: AnyRequest) -> ScimCaller:
    """Authenticate the bearer token (401/403 as SCIM errors) and bind the organization to the log context."""
    caller = await services_of(request).tenants.authenticate(request.headers.get("authorization"))
    structlog.contextvars.bind_contextvars(org_id=str(caller.organization.id))
    return caller


def scim_base_url(request: AnyRequest) -> str:
    """The SCIM base URL clients use: ``SCIM_PUBLIC_URL`` when set, else derived from the request."""
    configured = services_of(request).settings.public_url
    base = configured.rstrip("/") if configured else str(request.base_url).rstrip("/")
    return f"{base}/scim/v2"


def _actor(caller: ScimCaller) -> Actor:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return Actor(type="scim_token", id=str(caller.token_id), request_id=request_id)


def _etag(record: UserRecord) -> str:
    return f'W/"{record.version}"'


def _query(request: AnyRequest) -> dict[str, str]:
    return decode_query_string(request.scope.get("query_string", b""))


def render(request: AnyRequest, record: UserRecord, *, query: ListQuery | None = None) -> dict[str, Any]:
    """The user's SCIM representation, projected by the request's ``attributes`` / ``excludedAttributes``."""
    resource = render_user(record, location=f"{scim_base_url(request)}/Users/{record.id}")
    params = query or query_from_params(_query(request), services_of(request).list_limits)
    if params.attributes or params.excluded_attributes:
        resource = project(resource, attributes=params.attributes, excluded=params.excluded_attributes)
    return resource


async def list_users(request: AnyRequest, caller: ScimCaller, query: ListQuery) -> Response[bytes]:
    """A ListResponse page of the caller's users matching ``query`` (RFC 7644 §3.4.2)."""
    where, params = ("true", []) if query.filter is None else compile_filter(query.filter, first_param=2)
    page = await services_of(request).provisioning.search(
        caller.organization.id,
        where=where,
        params=params,
        order_by=compile_sort(query.sort_by, query.sort_order),
        start_index=query.start_index,
        count=query.count,
    )
    resources = [render(request, record, query=query) for record in page.users]
    return scim_json(list_response(resources, total=page.total, start_index=query.start_index))


def _user_response(request: AnyRequest, record: UserRecord, *, status: int = 200) -> Response[bytes]:
    headers = {"ETag": _etag(record)}
    if status == 201:
        headers["Location"] = f"{scim_base_url(request)}/Users/{record.id}"
    return scim_json(render(request, record), status=status, headers=headers)


class UsersController(Controller):
    path = "/scim/v2/Users"
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012 - the framework reads this class attribute

    @get("/")
    async def list_all(self, request: AnyRequest, caller: ScimCaller) -> Response[bytes]:
        """List or filter users (RFC 7644 §3.4.2)."""
        query = query_from_params(_query(request), services_of(request).list_limits)
        return await list_users(request, caller, query)

    @post("/.search", status_code=200)
    async def search_users(self, request: AnyRequest, caller: ScimCaller) -> Response[bytes]:
        """Search with a POSTed SearchRequest (RFC 7644 §3.4.3)."""
        query = query_from_search_body(await json_body(request), services_of(request).list_limits)
        return await list_users(request, caller, query)

    @post("/", status_code=201)
    async def create_user(self, request: AnyRequest, caller: ScimCaller) -> Response[bytes]:
        """Provision a user (RFC 7644 §3.3)."""
        attributes = parse_create(await json_body(request))
        record = await services_of(request).provisioning.create(caller.organization, attributes, _actor(caller))
        return _user_response(request, record, status=201)

    @get("/{user_id:str}")
    async def get_user(self, request: AnyRequest, caller: ScimCaller, user_id: str) -> Response[bytes]:
        """Read one user (RFC 7644 §3.4.1)."""
        record = await services_of(request).provisioning.get(caller.organization.id, user_id)
        return _user_response(request, record)

    @put("/{user_id:str}")
    async def replace_user(self, request: AnyRequest, caller: ScimCaller, user_id: str) -> Response[bytes]:
        """Replace the user's mutable attributes (RFC 7644 §3.5.1)."""
        body = await json_body(request)
        record = await services_of(request).provisioning.change(
            caller.organization.id,
            user_id,
            lambda current: parse_replace(body, current),
            _actor(caller),
            if_match=request.headers.get("if-match"),
        )
        return _user_response(request, record)

    @patch("/{user_id:str}")
    async def patch_user(self, request: AnyRequest, caller: ScimCaller, user_id: str) -> Response[bytes]:
        """Modify the user with PATCH operations (RFC 7644 §3.5.2); answers 200 with the user."""
        body = await json_body(request)
        record = await services_of(request).provisioning.change(
            caller.organization.id,
            user_id,
            lambda current: apply_patch(current, body).attributes,
            _actor(caller),
            if_match=request.headers.get("if-match"),
        )
        return _user_response(request, record)

    @delete("/{user_id:str}", status_code=204)
    async def delete_user(self, request: AnyRequest, caller: ScimCaller, user_id: str) -> None:
        """Delete the user's SCIM identity (RFC 7644 §3.6)."""
        await services_of(request).provisioning.delete(
            caller.organization.id, user_id, _actor(caller), if_match=request.headers.get("if-match")
        )
