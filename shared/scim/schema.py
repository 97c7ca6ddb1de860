"""The SCIM User schema as this service stores it (RFC 7643 §4.1, §7).

One definition serves discovery (``/Schemas``), filter and sort resolution, attribute projection and PATCH:
the service advertises exactly what it stores, with the mutability it enforces (``userName`` and ``emails`` are
immutable here by product decision). Attribute names resolve case-insensitively (RFC 7644 §3.10).
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "ENTERPRISE_USER_URN",
    "ERROR_URN",
    "LIST_RESPONSE_URN",
    "PATCH_OP_URN",
    "SEARCH_REQUEST_URN",
    "USER_ATTRIBUTES",
    "USER_SCHEMA_URN",
    "Attribute",
    "find_attribute",
    "find_sub_attribute",
    "strip_user_urn",
]

USER_SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"

AttributeType = Literal["string", "boolean", "dateTime", "reference", "complex"]
Mutability = Literal["readOnly", "readWrite", "immutable", "writeOnly"]
Returned = Literal["always", "never", "default", "request"]
Uniqueness = Literal["none", "server", "global"]


class Attribute(msgspec.Struct, kw_only=True, frozen=True):
    """One attribute definition, shaped like an RFC 7643 §7 attribute so it renders as is."""

    name: str
    type: AttributeType
    description: str
    multiValued: bool = False  # noqa: N815 - RFC 7643 §7 wire name
    required: bool = False
    caseExact: bool = False  # noqa: N815 - RFC 7643 §7 wire name
    mutability: Mutability = "readWrite"
    returned: Returned = "default"
    uniqueness: Uniqueness = "none"
    subAttributes: tuple[Attribute, ...] = ()  # noqa: N815 - RFC 7643 §7 wire name
    canonicalValues: tuple[str, ...] = ()  # noqa: N815 - RFC 7643 §7 wire name
    referenceTypes: tuple[str, ...] = ()  # noqa: N815 - RFC 7643 §7 wire name


def _string(name: str, description: str, **options: object) -> Attribute:
    return msgspec.convert({"name": name, "type": "string", "description": description, **options}, Attribute)


USER_ATTRIBUTES: tuple[Attribute, ...] = (
    _string(
        "id",
        "Unique identifier of the user, issued by the service.",
        caseExact=True,
        mutability="readOnly",
        returned="always",
        uniqueness="server",
    ),
    _string("externalId", "Identifier of the user in the identity provider.", caseExact=True),
    _string(
        "userName",
        "The user's email address; unique in the organization, compared ignoring case. It cannot be changed.",
        required=True,
        mutability="immutable",
        returned="always",
        uniqueness="server",
    ),
    Attribute(
        name="name",
        type="complex",
        description="The components of the user's name.",
        subAttributes=(
            _string("formatted", "The full name, formatted for display."),
            _string("familyName", "The family name."),
            _string("givenName", "The given name."),
        ),
    ),
    _string("displayName", "The name shown for the user in the dashboard."),
    # Every user has an access state: it can be set to true or false but never removed, which is what
    # "required" expresses. A create that omits it gets true; a PUT that omits it keeps the current value.
    Attribute(
        name="active",
        type="boolean",
        description="Whether the user may sign in and hold a seat. Always set; a create without it means true.",
        required=True,
    ),
    Attribute(
        name="emails",
        type="complex",
        description="The user's email address; always one, equal to userName. It cannot be changed.",
        multiValued=True,
        mutability="immutable",
        subAttributes=(
            _string("value", "The email address.", mutability="immutable"),
            _string("type", "The kind of address; always work.", mutability="immutable", canonicalValues=("work",)),
            Attribute(
                name="primary",
                type="boolean",
                description="Always true: the one address is the primary one.",
                mutability="immutable",
            ),
        ),
    ),
)

_BY_NAME = {attribute.name.lower(): attribute for attribute in USER_ATTRIBUTES}

# meta is a common attribute (RFC 7643 §3.1), not part of the User schema document, but filters and sorts name it.
META_ATTRIBUTE = Attribute(
    name="meta",
    type="complex",
    description="Resource metadata.",
    mutability="readOnly",
    subAttributes=(
        _string("resourceType", "Always User.", caseExact=True, mutability="readOnly"),
        Attribute(name="created", type="dateTime", description="When the user was created.", mutability="readOnly"),
        Attribute(
            name="lastModified",
            type="dateTime",
            description="When the user last changed.",
            mutability="readOnly",
        ),
        _string("location", "The user's URI.", caseExact=True, mutability="readOnly"),
        _string("version", "The user's entity tag.", caseExact=True, mutability="readOnly"),
    ),
)
_BY_NAME["meta"] = META_ATTRIBUTE


def strip_user_urn(name: str) -> str:
    """Remove a leading core User schema URN (any case) from an attribute path, as RFC 7644 §3.10 allows."""
    prefix = USER_SCHEMA_URN + ":"
    if name[: len(prefix)].lower() == prefix.lower():
        return name[len(prefix) :]
    return name


def find_attribute(name: str) -> Attribute | None:
    """The stored top-level attribute called ``name`` (any case, ``meta`` included), or None."""
    return _BY_NAME.get(name.lower())


def find_sub_attribute(parent: Attribute, name: str) -> Attribute | None:
    """The sub-attribute of ``parent`` called ``name`` (any case), or None."""
    lowered = name.lower()
    return next((sub for sub in parent.subAttributes if sub.name.lower() == lowered), None)
