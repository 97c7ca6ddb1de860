"""SCIM service endpoints: the base URL, discovery (RFC 7644 §4), and the unsupported ``/Groups``, ``/Me``, ``/Bulk``.

Discovery describes exactly what the service stores and enforces, because conformance tools and IdPs build
their requests from it: one resource type (User), one schema, PATCH, filter, sort and ETags supported, bulk and
password change not.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, route
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import HttpMethod

from services.scim_api.bodies import json_body
from services.scim_api.responses import scim_json
from services.scim_api.scim_users import list_users, provide_caller, scim_base_url
from services.scim_api.state import services_of
from shared.scim.errors import NotFoundError, NotImplementedByServiceError
from shared.scim.listing import (
    ListLimits,
    decode_query_string,
    list_response,
    query_from_params,
    query_from_search_body,
)
from shared.scim.schema import USER_ATTRIBUTES, USER_SCHEMA_URN
from shared.services.tenants import ScimCaller

__all__ = ["DiscoveryController", "UnsupportedController"]

AnyRequest = Request[object, object, State]

SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"

_LIMITS = ListLimits()  # Groups hold nothing; only the syntax of their list parameters matters

_WRITE_METHODS = [HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE]


def _user_schema(base: str) -> dict[str, Any]:
    return {
        "schemas": [SCHEMA_URN],
        "id": USER_SCHEMA_URN,
        "name": "User",
        "description": "A member of the team dashboard, identified by their email address.",
        "attributes": msgspec.to_builtins(USER_ATTRIBUTES),
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{USER_SCHEMA_URN}"},
    }


def _user_resource_type(base: str) -> dict[str, Any]:
    return {
        "schemas": [RESOURCE_TYPE_URN],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "Team dashboard users",
        "schema": USER_SCHEMA_URN,
        "schemaExtensions": [],
        "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
    }


class DiscoveryController(Controller):
    path = "/scim/v2"
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012 - the framework reads this class attribute

    @get("/")
    async def root(self, request: AnyRequest, caller: ScimCaller) -> Response[bytes]:
        """The base URL answers, so a connection test against it succeeds; it points at discovery.

        RFC 7644 defines no resource at the base URL, so this index claims no SCIM schema.
        """
        base = scim_base_url(request)
        return scim_json(
            {
                "serviceProviderConfig": f"{base}/ServiceProviderConfig",
                "resourceTypes": f"{base}/ResourceTypes",
                "schemaDefinitions": f"{base}/Schemas",
                "users": f"{base}/Users",
            }
        )

    @post("/.search", status_code=200)
    async def search(self, request: AnyRequest, caller: ScimCaller) -> Response[bytes]:
        """Search at the service root (RFC 7644 §3.4.3); Users are the only resources, so it searches them."""
        query = query_from_search_body(await json_body(request), services_of(request).list_limits)
        return await list_users(request, caller, query)

    @get("/ServiceProviderConfig")
    async def service_provider_config(self, request: AnyRequest, caller: ScimCaller) -> Response[bytes]:
        """RFC 7643 §5."""
        base = scim_base_url(request)
        limits = services_of(request).list_limits
        return scim_json(
            {
                "schemas": [SPC_URN],
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": limits.max_count},
                "changePassword": {"supported": False},
                "sort": {"supported": True},
                "etag": {"supported": True},
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "Bearer token",
                        "description": "A SCIM token created by an organization admin, sent as a bearer token.",
                        "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
                        "primary": True,
                    }
                ],
                "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
            }
        )

    @get("/Schemas")
    async def schemas(self, request: AnyRequest, caller: ScimCaller) -> Response[bytes]:
        """RFC 7644 §4: the schemas the service uses."""
        return scim_json(list_response([_user_schema(scim_base_url(request))], total=1, start_index=1))

    @get("/Schemas/{schema_id:str}")
    async def schema(self, request: AnyRequest, caller: ScimCaller, schema_id: str) -> Response[bytes]:
        if schema_id.lower() != USER_SCHEMA_URN.lower():
            raise NotFoundError(f"no schema {schema_id[:128]!r}; this service uses {USER_SCHEMA_URN}")
        return scim_json(_user_schema(scim_base_url(request)))

    @get("/ResourceTypes")
    async def resource_types(self, request: AnyRequest, caller: ScimCaller) -> Response[bytes]:
        """RFC 7644 §4: the resource types the service offers (Users only)."""
        return scim_json(list_response([_user_resource_type(scim_base_url(request))], total=1, start_index=1))

    @get("/ResourceTypes/{type_id:str}")
    async def resource_type(self, request: AnyRequest, caller: ScimCaller, type_id: str) -> Response[bytes]:
        if type_id.lower() != "user":
            raise NotFoundError(f"no resource type {type_id[:64]!r}; this service offers User")
        return scim_json(_user_resource_type(scim_base_url(request)))


class UnsupportedController(Controller):
    """Group management, ``/Me`` and bulk are not offered; reads of ``/Groups`` succeed so connection tests pass."""

    path = "/scim/v2"
    dependencies = {"caller": Provide(provide_caller)}  # noqa: RUF012 - the framework reads this class attribute

    @get("/Groups")
    async def list_groups(self, request: AnyRequest, caller: ScimCaller) -> Response[bytes]:
        """An empty ListResponse: connection tests of Okta and Entra read it. Parameters are still checked."""
        query = query_from_params(decode_query_string(request.scope.get("query_string", b"")), _LIMITS)
        return scim_json(list_response([], total=0, start_index=query.start_index))

    @get("/Groups/{group_id:str}")
    async def get_group(self, caller: ScimCaller, group_id: str) -> Response[bytes]:
        raise NotFoundError(f"no group with id {group_id[:64]!r}; this service does not manage groups")

    @route(["/Groups", "/Groups/{group_id:str}"], http_method=_WRITE_METHODS)
    async def write_group(self, caller: ScimCaller) -> Response[bytes]:
        raise NotImplementedByServiceError("group management is not supported; manage roles in the dashboard")

    @route(["/Me", "/Me/{rest:path}"], http_method=[HttpMethod.GET, *_WRITE_METHODS])
    async def me(self, caller: ScimCaller) -> Response[bytes]:
        raise NotImplementedByServiceError("/Me is not supported: a SCIM token acts for an organization, not a user")

    @route("/Bulk", http_method=[HttpMethod.POST])
    async def bulk(self, caller: ScimCaller) -> Response[bytes]:
        raise NotImplementedByServiceError("bulk operations are not supported; send one request per change")
