"""Hypothesis strategies for SCIM request bodies: arbitrary JSON, and User or PatchOp shapes that come close."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from shared.scim.schema import ENTERPRISE_USER_URN, PATCH_OP_URN, USER_SCHEMA_URN

EMAIL = "alice.0f1e2d3c@example.com"

ATTRIBUTE_NAMES = (
    "schemas",
    "userName",
    "USERNAME",
    "name",
    "givenName",
    "familyName",
    "formatted",
    "middleName",
    "displayName",
    "externalId",
    "active",
    "emails",
    "value",
    "type",
    "primary",
    "display",
    "id",
    "meta",
    "password",
    "groups",
    "title",
    "name.givenName",
    "name.familyName",
    "emails.value",
    f"{USER_SCHEMA_URN}:name.givenName",
    f"{ENTERPRISE_USER_URN}:department",
    USER_SCHEMA_URN,
    ENTERPRISE_USER_URN,
    "Operations",
    "op",
    "path",
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "True", "false", "yes", EMAIL, EMAIL.upper(), "bob@example.com", "x\x00y", "work"]),
)
KEYS = st.one_of(st.sampled_from(ATTRIBUTE_NAMES), st.text(max_size=8))

json_values: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS, children, max_size=5),
    ),
    max_leaves=20,
)

PATHS = (
    "displayName",
    "externalId",
    "active",
    "userName",
    "name",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "name.middleName",
    "emails",
    "emails.value",
    'emails[type eq "work"].value',
    'emails[type eq "home"].value',
    'emails[type eq "work"]',
    'emails[type eq "work"].primary',
    f"{USER_SCHEMA_URN}:name.familyName",
    f"{ENTERPRISE_USER_URN}:department",
    'phoneNumbers[type eq "work"].value',
    "title",
    "password",
    "groups",
    "id",
    'emails[value eq "ALICE.0F1E2D3C@EXAMPLE.COM"]',
    'emails[type eq "work" and primary eq true].value',
    'emails[not (type eq "home") or display pr].type',
    "emails[primary eq 1]",
    'members[value eq "1"]',
    "urn:ietf:params:scim:schemas:core:2.0:User",
    'emails[type eq "work"',
    "name..x",
    "urn:foo",
)

operations: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "Add", "Replace", "REMOVE", "move", ""])},
    optional={"path": st.one_of(st.sampled_from(PATHS), st.none(), st.just(""), json_values), "value": json_values},
)

patch_documents: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"Operations": st.one_of(st.lists(operations, max_size=5), json_values)},
    optional={"schemas": st.one_of(st.just([PATCH_OP_URN]), json_values)},
)

user_documents: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "schemas": st.one_of(st.just([USER_SCHEMA_URN]), json_values),
        "userName": st.one_of(st.sampled_from([EMAIL, EMAIL.upper(), "bob@example.com", ""]), json_values),
        "name": json_values,
        "displayName": json_values,
        "externalId": json_values,
        "active": json_values,
        "emails": st.one_of(
            st.lists(st.fixed_dictionaries({"value": st.sampled_from([EMAIL, EMAIL.title()])}), max_size=2),
            json_values,
        ),
        "password": json_values,
    },
)
