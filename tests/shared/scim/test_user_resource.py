"""Inbound and outbound User representation: the bodies IdPs send and the resource they read back."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import UserAttributes, UserRecord
from shared.scim.ast import AttrPath
from shared.scim.errors import InvalidSyntaxError, InvalidValueError, ScimError
from shared.scim.filter import parse_attribute_list
from shared.scim.schema import ENTERPRISE_USER_URN, USER_SCHEMA_URN
from shared.scim.user_resource import is_email_address, parse_create, parse_replace, project, render_user
from tests.shared.scim.body_strategies import json_values, user_documents

EMAIL = "alice.0f1e2d3c@example.com"
EMAIL2 = "bob.0f1e2d3c@example.com"
USER_ID = UUID("7d3f0c9e-2b1a-4c5d-8e6f-0a1b2c3d4e5f")
LOCATION = f"https://scim.example.com/scim/v2/Users/{USER_ID}"


def body(document: Any) -> bytes:
    return msgspec.json.encode(document)


def user(**attributes: Any) -> dict[str, Any]:
    """A User body as most IdPs send it, with ``attributes`` replacing or adding keys."""
    document: dict[str, Any] = {
        "schemas": [USER_SCHEMA_URN],
        "userName": EMAIL,
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "emails": [{"value": EMAIL, "type": "work", "primary": True}],
        "active": True,
    }
    document.update(attributes)
    return document


def stored(**changes: Any) -> UserAttributes:
    attributes = UserAttributes(user_name=EMAIL, email=EMAIL, given_name="Alice", family_name="Smith")
    return msgspec.structs.replace(attributes, **changes)


# --- POST ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(
            user(),
            stored(),
            id="plain-create",
        ),
        pytest.param(
            {**user(externalId="00u1a2b3c4", displayName="Alice Okta", locale="en-US", groups=[]), "password": "Tr0-1"},
            stored(external_id="00u1a2b3c4", display_name="Alice Okta"),
            id="okta-assign-with-password-locale-groups",
        ),
        pytest.param(
            {
                "schemas": [USER_SCHEMA_URN, ENTERPRISE_USER_URN],
                "externalId": "asmith",
                "userName": EMAIL,
                "active": True,
                "displayName": "Alice Smith",
                "emails": [{"type": "work", "value": EMAIL, "primary": True}],
                "meta": {"resourceType": "User"},
                "name": {"familyName": "Smith", "givenName": "Alice", "middleName": None, "formatted": None},
                "addresses": None,
                "phoneNumbers": None,
                "title": None,
                "nickName": None,
                ENTERPRISE_USER_URN: None,
                "roles": [],
            },
            stored(external_id="asmith", display_name="Alice Smith"),
            id="entra-nulls",
        ),
        pytest.param(
            {
                "schemas": [USER_SCHEMA_URN],
                "userName": EMAIL,
                "name": {"givenName": "Alice", "familyName": "Smith"},
                "active": True,
                "externalId": "0a21f0f2",
            },
            stored(external_id="0a21f0f2"),
            id="entra-without-emails",
        ),
        pytest.param(
            user(
                schemas=[USER_SCHEMA_URN, ENTERPRISE_USER_URN],
                userType="Employee",
                title="Engineer",
                locale="en-US",
                preferredLanguage="en-US",
                phoneNumbers=[{"type": "work", "value": "+1 555 0100"}],
                addresses=[{"type": "work", "formatted": "1 Main St", "country": "US"}],
                **{ENTERPRISE_USER_URN: {"department": "R&D", "employeeNumber": "1001", "manager": {"value": "m"}}},
            ),
            stored(),
            id="entra-unsupported-attributes",
        ),
        pytest.param(
            user(externalId="0f1e2d3c-0f1e-4a2b-8c3d-4e5f0f1e2d3c"),
            stored(external_id="0f1e2d3c-0f1e-4a2b-8c3d-4e5f0f1e2d3c"),
            id="entra-externalid-guid",
        ),
        pytest.param(
            user(name={"givenName": "Jay", "familyName": "Cloud"}, displayName="Jay Cloud"),
            stored(given_name="Jay", family_name="Cloud", display_name="Jay Cloud"),
            id="jumpcloud-create",
        ),
        pytest.param(
            user(name={"givenName": "Olga", "familyName": "Login"}, emails={"value": EMAIL, "type": "work"}),
            stored(given_name="Olga", family_name="Login"),
            id="onelogin-emails-as-object",
        ),
        pytest.param(
            user(
                name={"givenName": "Olga", "familyName": "Login", "middleName": "", "honorificPrefix": ""},
                displayName="",
                externalId="",
                title="",
                phoneNumbers=[{"value": "", "type": "work"}],
            ),
            stored(given_name="Olga", family_name="Login"),
            id="onelogin-empty-strings",
        ),
        pytest.param(
            user(userName="carol+qa.0f1e@example.com", emails=[{"value": "carol+qa.0f1e@example.com"}]),
            stored(user_name="carol+qa.0f1e@example.com", email="carol+qa.0f1e@example.com"),
            id="plus-address",
        ),
        pytest.param(
            user(userName=EMAIL.upper()),
            stored(user_name=EMAIL.upper()),
            id="case-only-difference-keeps-both-spellings",
        ),
        pytest.param(
            user(userName="Alice.0f1e@Example.COM", emails=[{"value": "Alice.0f1e@Example.COM", "primary": True}]),
            stored(user_name="Alice.0f1e@Example.COM", email="Alice.0f1e@Example.COM"),
            id="okta-mixed-case-kept-as-sent",
        ),
        pytest.param(
            user(emails=[], active=None),
            stored(),
            id="empty-emails-and-null-active-are-absent",
        ),
        pytest.param(
            user(emails="", name="", active=""),
            stored(given_name=None, family_name=None),
            id="empty-strings-for-complex-attributes-are-absent",
        ),
        pytest.param(
            user(active="False"),
            stored(active=False),
            id="string-false",
        ),
        pytest.param(
            user(active="TRUE"),
            stored(),
            id="string-true-any-case",
        ),
        pytest.param(
            {"userName": EMAIL},
            UserAttributes(user_name=EMAIL, email=EMAIL),
            id="schemas-absent",
        ),
        pytest.param(
            user(schemas=[ENTERPRISE_USER_URN]),
            stored(),
            id="schemas-without-core-urn",
        ),
        pytest.param(
            user(schemas=USER_SCHEMA_URN),
            stored(),
            id="schemas-as-one-string",
        ),
        pytest.param(
            {"USERNAME": EMAIL, "Name": {"GIVENNAME": "Alice", "familyname": "Smith"}, "Active": "false"},
            stored(active=False),
            id="attribute-names-ignore-case",
        ),
        pytest.param(
            user(emails=[{"value": EMAIL2, "type": "home"}, {"value": EMAIL, "type": "work"}]),
            stored(),
            id="no-primary-picks-the-username-address",
        ),
        pytest.param(
            user(emails=[{"value": EMAIL2, "type": "home", "primary": False}, {"value": EMAIL, "primary": "True"}]),
            stored(),
            id="primary-marked-among-several",
        ),
        pytest.param(
            user(emails=[{"value": "", "type": "work"}]),
            stored(),
            id="email-without-address-is-absent",
        ),
        pytest.param(
            user(id="ignored", meta={"created": "yesterday"}, name={"givenName": "A", "formatted": "A S"}),
            stored(given_name="A", family_name=None, formatted_name="A S"),
            id="read-only-attributes-ignored",
        ),
        pytest.param(
            {"userName": "urn1@example.com", f"{USER_SCHEMA_URN}:displayName": "Via URN"},
            UserAttributes(user_name="urn1@example.com", email="urn1@example.com", display_name="Via URN"),
            id="urn-qualified-display-name",
        ),
        pytest.param(
            {
                f"{USER_SCHEMA_URN.upper()}:USERNAME": EMAIL,
                f"{USER_SCHEMA_URN}:name": {"givenName": "Alice", "familyName": "Smith"},
                f"{USER_SCHEMA_URN}:emails": [{"value": EMAIL, "type": "work", "primary": True}],
                f"{USER_SCHEMA_URN}:externalId": "asmith",
                f"{USER_SCHEMA_URN}:active": "false",
            },
            stored(external_id="asmith", active=False),
            id="urn-qualified-keys-in-any-case",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA_URN], USER_SCHEMA_URN: {"userName": EMAIL, "displayName": "Nested"}},
            UserAttributes(user_name=EMAIL, email=EMAIL, display_name="Nested"),
            id="core-urn-object-of-attributes",
        ),
        pytest.param(user(**{USER_SCHEMA_URN: None}), stored(), id="null-core-urn-object"),
        pytest.param(
            user(**{f"{ENTERPRISE_USER_URN}:employeeNumber": "1001", "urn:example:custom:displayName": "Other"}),
            stored(),
            id="other-schema-urn-keys-ignored",
        ),
    ],
)
def test_parse_create_reads_the_stored_attributes(document: dict[str, Any], expected: UserAttributes) -> None:
    assert parse_create(body(document)) == expected


@pytest.mark.parametrize(
    ("raw", "scim_type", "fragment"),
    [
        pytest.param(
            b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": ',
            "invalidSyntax",
            "JSON",
            id="truncated",
        ),
        pytest.param(b"[]", "invalidSyntax", "object", id="array"),
        pytest.param(b"", "invalidSyntax", "JSON", id="empty-body"),
        pytest.param(b'"alice@example.com"', "invalidSyntax", "object", id="string"),
        pytest.param(b"\xff\xfe", "invalidSyntax", "JSON", id="not-utf8"),
        pytest.param(b'{"userName": "\\ud800@example.com"}', "invalidSyntax", "JSON", id="lone-surrogate"),
        pytest.param(body(user(schemas=5)), "invalidSyntax", "schemas", id="schemas-number"),
        pytest.param(body(user(schemas=[USER_SCHEMA_URN, 5])), "invalidSyntax", "schemas", id="schemas-mixed"),
        pytest.param(body(user(userName=None)), "invalidValue", "userName is required", id="null-username"),
        pytest.param(body(user(userName="")), "invalidValue", "userName is required", id="empty-username"),
        pytest.param(
            body({"name": {"givenName": "Alice"}, "emails": [{"value": EMAIL}]}),
            "invalidValue",
            "userName is required",
            id="no-username",
        ),
        pytest.param(
            body({"userName": "alice0f1e", "name": {"givenName": "A"}}),
            "invalidValue",
            "email address",
            id="username-not-email",
        ),
        pytest.param(
            body(user(emails=[{"value": EMAIL2, "primary": True}])),
            "invalidValue",
            "primary email",
            id="primary-email-differs",
        ),
        pytest.param(body(user(emails=[{"value": EMAIL2}])), "invalidValue", "primary email", id="only-email-differs"),
        pytest.param(
            body(user(emails=[{"value": EMAIL, "primary": True}, {"value": EMAIL2, "primary": True}])),
            "invalidValue",
            "one of emails",
            id="two-primaries",
        ),
        pytest.param(
            body(user(emails=[{"value": EMAIL, "primary": "yes"}])),
            "invalidValue",
            "primary",
            id="primary-not-boolean",
        ),
        pytest.param(body(user(name="Alice Smith")), "invalidValue", "$.name", id="name-as-string"),
        pytest.param(body(user(displayName=5)), "invalidValue", "$.displayName", id="display-name-number"),
        pytest.param(body(user(externalId=["a"])), "invalidValue", "$.externalId", id="external-id-array"),
        pytest.param(body(user(userName=42)), "invalidValue", "$.userName", id="username-number"),
        pytest.param(body(user(name={"givenName": 7})), "invalidValue", "$.name.givenName", id="given-name-number"),
        pytest.param(body(user(emails=["alice@example.com"])), "invalidValue", "$.emails[0]", id="emails-of-strings"),
        pytest.param(body(user(emails=[{"value": 5}])), "invalidValue", "$.emails[0].value", id="email-value-number"),
        pytest.param(body(user(active="yes")), "invalidValue", "active", id="active-yes"),
        pytest.param(body(user(active=1)), "invalidValue", "$.active", id="active-number"),
        pytest.param(body(user(active=[True])), "invalidValue", "$.active", id="active-array"),
        pytest.param(body(user(displayName="A\x00B")), "invalidValue", "NUL", id="nul-in-display-name"),
        pytest.param(
            body({"userName": EMAIL, "username": EMAIL}), "invalidValue", "more than once", id="username-twice"
        ),
        pytest.param(
            body(user(displayName="Plain", **{f"{USER_SCHEMA_URN}:displayName": "Via URN"})),
            "invalidValue",
            "The attribute displayName is given more than once.",
            id="plain-and-urn-key",
        ),
        pytest.param(
            body(user(displayName="Same", **{f"{USER_SCHEMA_URN}:DisplayName": "Same"})),
            "invalidValue",
            "The attribute displayName is given more than once.",
            id="plain-and-urn-key-with-equal-values",
        ),
        pytest.param(
            body(user(**{USER_SCHEMA_URN: {"userName": EMAIL}})),
            "invalidValue",
            "The attribute userName is given more than once.",
            id="plain-and-in-core-urn-object",
        ),
        pytest.param(
            body(user(**{USER_SCHEMA_URN: "Alice"})),
            "invalidValue",
            f"{USER_SCHEMA_URN} must hold an object of attributes.",
            id="core-urn-not-an-object",
        ),
        pytest.param(
            body(user(**{f"{USER_SCHEMA_URN}:displayName": 5})),
            "invalidValue",
            "$.displayName",
            id="urn-key-of-the-wrong-type",
        ),
    ],
)
def test_parse_create_refuses_bad_bodies(raw: bytes, scim_type: str, fragment: str) -> None:
    with pytest.raises(ScimError) as caught:
        parse_create(raw)

    assert (caught.value.status, caught.value.scim_type) == (400, scim_type)
    assert fragment in caught.value.detail


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("alice@example.com", id="plain"),
        pytest.param("carol+qa.x@example.com", id="plus-and-dot"),
        pytest.param("o'brien@mail.example.co.uk", id="apostrophe-subdomains"),
        pytest.param("ALICE@EXAMPLE.COM", id="upper-case"),
        pytest.param("a_b-c@xn--bcher-kva.example", id="punycode-domain"),
        pytest.param("jürgen@bücher.de", id="unicode"),
        pytest.param("1@2.example", id="digits"),
    ],
)
def test_is_email_address_accepts_real_addresses(address: str) -> None:
    assert is_email_address(address)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("alice", id="no-at"),
        pytest.param("alice@localhost", id="single-label-domain"),
        pytest.param("@example.com", id="empty-local-part"),
        pytest.param("alice@", id="empty-domain"),
        pytest.param("alice@@example.com", id="double-at"),
        pytest.param("alice smith@example.com", id="space"),
        pytest.param(" alice@example.com", id="leading-space"),
        pytest.param("alice@example.com\n", id="trailing-newline"),
        pytest.param(".alice@example.com", id="leading-dot"),
        pytest.param("alice.@example.com", id="trailing-dot-local"),
        pytest.param("al..ice@example.com", id="double-dot"),
        pytest.param("alice@-example.com", id="label-starts-with-hyphen"),
        pytest.param("alice@example..com", id="empty-label"),
        pytest.param('"alice"@example.com', id="quoted-local-part"),
        pytest.param("alice@[192.0.2.1]", id="address-literal"),
        pytest.param("a" * 65 + "@example.com", id="local-part-too-long"),
        pytest.param("alice@" + "a" * 250 + ".com", id="address-too-long"),
        pytest.param("alice@exa mple.com", id="space-in-domain"),
    ],
)
def test_is_email_address_refuses_non_addresses(text: str) -> None:
    assert not is_email_address(text)


# --- PUT ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "current", "expected"),
    [
        pytest.param(
            user(name={"givenName": "Alicia", "familyName": "Jones"}),
            stored(),
            stored(given_name="Alicia", family_name="Jones"),
            id="okta-rename",
        ),
        pytest.param(
            user(
                name={"givenName": "Alicia", "familyName": "Smith", "middleName": ""},
                emails=[{"primary": True, "value": EMAIL, "type": "work", "display": EMAIL}],
                active=False,
                id="7d3f0c9e",
                groups=[],
                meta={"resourceType": "User"},
            ),
            stored(),
            stored(given_name="Alicia", active=False),
            id="okta-aiw-deactivate",
        ),
        pytest.param(
            user(emails=[{"primary": True, "value": EMAIL, "type": "work", "display": EMAIL}], active=True),
            stored(active=False),
            stored(),
            id="okta-aiw-reactivate",
        ),
        pytest.param(
            {"schemas": [USER_SCHEMA_URN], "userName": EMAIL, "name": {"givenName": "Alice"}},
            stored(active=False, display_name="Alice S", external_id="x1"),
            stored(active=False, family_name=None),
            id="omitted-active-keeps-inactive-and-omitted-others-clear",
        ),
        pytest.param(
            user(active=None),
            stored(active=False),
            stored(active=False),
            id="null-active-keeps-current",
        ),
        pytest.param(
            user(userName=EMAIL.upper(), emails=[{"value": EMAIL.upper()}]),
            stored(),
            stored(),
            id="same-username-other-case-keeps-stored-spelling",
        ),
        pytest.param(
            user(),
            stored(user_name=EMAIL.upper(), email=EMAIL),
            stored(user_name=EMAIL.upper(), email=EMAIL),
            id="stored-mixed-spelling-kept",
        ),
        pytest.param(
            user(name={"givenName": "Olya", "familyName": "Login"}, emails={"value": EMAIL, "type": "work"}),
            stored(),
            stored(given_name="Olya", family_name="Login"),
            id="onelogin-emails-as-object",
        ),
        pytest.param(
            user(name={"givenName": "Jayden", "familyName": "Cloudy"}, displayName="Jayden Cloudy", id=str(USER_ID)),
            stored(given_name="Jay", family_name="Cloud", display_name="Jay Cloud"),
            stored(given_name="Jayden", family_name="Cloudy", display_name="Jayden Cloudy"),
            id="jumpcloud-rename-put-with-id",
        ),
        pytest.param(
            {"userName": EMAIL, "displayName": "Jayden Cloudy", "id": str(USER_ID), "emails": None},
            stored(),
            stored(given_name=None, family_name=None, display_name="Jayden Cloudy"),
            id="with-id-and-without-emails",
        ),
        pytest.param(
            {
                f"{USER_SCHEMA_URN}:userName": EMAIL.upper(),
                f"{USER_SCHEMA_URN}:name": {"givenName": "Alicia"},
                f"{USER_SCHEMA_URN}:displayName": "Via URN",
                USER_SCHEMA_URN: {"externalId": "asmith"},
            },
            stored(active=False),
            stored(family_name=None, display_name="Via URN", external_id="asmith", active=False, given_name="Alicia"),
            id="urn-qualified-keys",
        ),
        pytest.param(
            user(emails=[{"value": EMAIL.upper(), "type": "WORK", "primary": "true"}]),
            stored(),
            stored(),
            id="same-email-type-and-primary-in-any-case",
        ),
        pytest.param(
            user(emails=[{"value": EMAIL, "primary": True}, {"value": EMAIL2, "type": "home", "primary": False}]),
            stored(),
            stored(),
            id="another-address-is-not-the-stored-email",
        ),
        pytest.param(
            user(emails=[{"value": EMAIL, "type": "home", "primary": True}]),
            stored(),
            stored(),
            id="the-create-body-again-with-another-email-type",
        ),
        pytest.param(
            user(emails={"value": EMAIL.upper(), "type": "work", "primary": False}),
            stored(),
            stored(),
            id="the-create-body-again-with-primary-false",
        ),
    ],
)
def test_parse_replace_replaces_mutable_attributes(
    document: dict[str, Any], current: UserAttributes, expected: UserAttributes
) -> None:
    assert parse_replace(body(document), current) == expected


@pytest.mark.parametrize(
    ("document", "scim_type", "fragment"),
    [
        pytest.param(
            user(userName=EMAIL2, emails=[{"value": EMAIL2, "primary": True}]),
            "mutability",
            "userName",
            id="entra-changed-email",
        ),
        pytest.param(user(userName=EMAIL2, emails=None), "mutability", "userName", id="changed-username"),
        pytest.param(user(emails=[{"value": EMAIL2, "primary": True}]), "mutability", "email", id="changed-email-only"),
        pytest.param({"name": {"givenName": "A"}}, "invalidValue", "userName is required", id="no-username"),
        pytest.param(user(active="maybe"), "invalidValue", "active", id="active-not-boolean"),
        pytest.param(user(name=["Alice"]), "invalidValue", "$.name", id="name-as-array"),
        pytest.param(
            user(**{f"{USER_SCHEMA_URN}:userName": EMAIL2}), "invalidValue", "more than once", id="username-and-urn-key"
        ),
        pytest.param(
            {f"{USER_SCHEMA_URN}:userName": EMAIL2},
            "mutability",
            "userName cannot be changed",
            id="urn-username-change",
        ),
    ],
)
def test_parse_replace_refuses(document: dict[str, Any], scim_type: str, fragment: str) -> None:
    with pytest.raises(ScimError) as caught:
        parse_replace(body(document), stored())

    assert (caught.value.status, caught.value.scim_type) == (400, scim_type)
    assert fragment in caught.value.detail


def test_parse_replace_refuses_broken_json() -> None:
    with pytest.raises(InvalidSyntaxError):
        parse_replace(b'{"userName": "', stored())


# --- rendering ----------------------------------------------------------------------------------------------------


def record(**changes: Any) -> UserRecord:
    return UserRecord(
        id=USER_ID,
        org_id=UUID("00000000-0000-4000-8000-000000000001"),
        attributes=stored(**changes),
        created_by="scim",
        version=3,
        created_at=datetime(2026, 12, 3, 10, 0, 0, 123456, tzinfo=UTC),
        updated_at=datetime(2026, 12, 3, 12, 30, 5, 7000, tzinfo=timezone(timedelta(hours=2))),
    )


def test_render_user_gives_the_full_resource() -> None:
    resource = render_user(
        record(external_id="00u1", display_name="Alice S", formatted_name="Alice Smith"), location=LOCATION
    )

    assert resource == {
        "schemas": [USER_SCHEMA_URN],
        "id": str(USER_ID),
        "externalId": "00u1",
        "userName": EMAIL,
        "name": {"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"},
        "displayName": "Alice S",
        "active": True,
        "emails": [{"value": EMAIL, "type": "work", "primary": True}],
        "meta": {
            "resourceType": "User",
            "created": "2026-12-03T10:00:00.123Z",
            "lastModified": "2026-12-03T10:30:05.007Z",
            "location": LOCATION,
            "version": 'W/"3"',
        },
    }


def test_render_user_leaves_out_what_is_not_set() -> None:
    resource = render_user(record(given_name=None, family_name=None, active=False), location=LOCATION)

    assert set(resource) == {"schemas", "id", "userName", "active", "emails", "meta"}
    assert resource["active"] is False


def test_render_user_gives_only_the_name_parts_that_are_set() -> None:
    resource = render_user(record(given_name=None), location=LOCATION)

    assert resource["name"] == {"familyName": "Smith"}


def test_render_user_keeps_both_spellings() -> None:
    resource = render_user(record(user_name=EMAIL.upper()), location=LOCATION)

    assert resource["userName"] == EMAIL.upper()
    assert resource["emails"] == [{"value": EMAIL, "type": "work", "primary": True}]


def test_render_user_reads_naive_timestamps_as_utc() -> None:
    naive = msgspec.structs.replace(record(), created_at=datetime(2026, 1, 2, 3, 4, 5))

    assert render_user(naive, location=LOCATION)["meta"]["created"] == "2026-01-02T03:04:05.000Z"


def test_render_user_round_trips_through_parse_create() -> None:
    resource = render_user(record(display_name="Alice S", external_id="e1"), location=LOCATION)

    assert parse_create(body(resource)) == stored(display_name="Alice S", external_id="e1")


# --- projection ---------------------------------------------------------------------------------------------------


FULL = render_user(record(external_id="00u1", display_name="Alice S", formatted_name="Alice Smith"), location=LOCATION)
ALWAYS = {"schemas": FULL["schemas"], "id": FULL["id"], "userName": FULL["userName"]}


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param([AttrPath("displayName")], {**ALWAYS, "displayName": "Alice S"}, id="one-attribute"),
        pytest.param([AttrPath("DISPLAYNAME")], {**ALWAYS, "displayName": "Alice S"}, id="any-case"),
        pytest.param([AttrPath("name", "givenName")], {**ALWAYS, "name": {"givenName": "Alice"}}, id="sub-attribute"),
        pytest.param(
            [AttrPath("name", "givenName"), AttrPath("name", "familyName")],
            {**ALWAYS, "name": {"givenName": "Alice", "familyName": "Smith"}},
            id="two-sub-attributes",
        ),
        pytest.param(
            [AttrPath("name", "givenName"), AttrPath("name")],
            {**ALWAYS, "name": FULL["name"]},
            id="whole-wins-over-part",
        ),
        pytest.param([AttrPath("emails", "value")], {**ALWAYS, "emails": [{"value": EMAIL}]}, id="multi-valued-sub"),
        pytest.param(
            [AttrPath("name", "familyName", urn=USER_SCHEMA_URN)],
            {**ALWAYS, "name": {"familyName": "Smith"}},
            id="core-urn",
        ),
        pytest.param([AttrPath("department", urn=ENTERPRISE_USER_URN)], ALWAYS, id="extension-ignored"),
        pytest.param([AttrPath("nickName"), AttrPath("name", "middleName")], ALWAYS, id="unknown-ignored"),
        pytest.param([AttrPath("userName")], ALWAYS, id="always-only"),
        pytest.param(
            [AttrPath("meta", "location")],
            {**ALWAYS, "meta": {"location": LOCATION}},
            id="meta-sub-attribute",
        ),
        pytest.param([], FULL, id="empty-list-is-default"),
    ],
)
def test_project_selects_attributes(attributes: list[AttrPath], expected: dict[str, Any]) -> None:
    assert project(FULL, attributes=attributes, excluded=None) == expected


def without(*keys: str) -> dict[str, Any]:
    return {key: value for key, value in FULL.items() if key not in keys}


@pytest.mark.parametrize(
    ("excluded", "expected"),
    [
        pytest.param([AttrPath("displayName")], without("displayName"), id="one-attribute"),
        pytest.param([AttrPath("id"), AttrPath("userName"), AttrPath("schemas")], FULL, id="always-stays"),
        pytest.param(
            [AttrPath("name", "givenName")],
            {**FULL, "name": {"familyName": "Smith", "formatted": "Alice Smith"}},
            id="sub-attribute",
        ),
        pytest.param(
            [AttrPath("name", "givenName"), AttrPath("name", "familyName"), AttrPath("name", "formatted")],
            without("name"),
            id="every-part-drops-the-attribute",
        ),
        pytest.param(
            [AttrPath("emails", "value")],
            {**FULL, "emails": [{"type": "work", "primary": True}]},
            id="multi-valued-sub",
        ),
        pytest.param([AttrPath("meta"), AttrPath("active")], without("meta", "active"), id="meta-and-active"),
        pytest.param([AttrPath("title"), AttrPath("manager", urn=ENTERPRISE_USER_URN)], FULL, id="unknown-ignored"),
    ],
)
def test_project_excludes_attributes(excluded: list[AttrPath], expected: dict[str, Any]) -> None:
    assert project(FULL, attributes=None, excluded=excluded) == expected


def test_project_with_both_selects_then_excludes() -> None:
    projected = project(
        FULL,
        attributes=[AttrPath("name"), AttrPath("displayName")],
        excluded=[AttrPath("name", "formatted"), AttrPath("userName")],
    )

    assert projected == {**ALWAYS, "name": {"givenName": "Alice", "familyName": "Smith"}, "displayName": "Alice S"}


def test_project_leaves_its_input_alone() -> None:
    resource = render_user(record(), location=LOCATION)
    snapshot = msgspec.json.encode(resource)

    project(resource, attributes=None, excluded=[AttrPath("name", "givenName"), AttrPath("meta")])

    assert msgspec.json.encode(resource) == snapshot


# --- properties ---------------------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(document=st.one_of(user_documents, json_values))
def test_parse_create_raises_nothing_but_scim_errors(document: Any) -> None:
    try:
        created = parse_create(body(document))
    except ScimError:
        return

    assert is_email_address(created.user_name)
    assert created.email.lower() == created.user_name.lower()
    assert "" not in (created.given_name, created.family_name, created.formatted_name, created.display_name)


@settings(max_examples=400, deadline=None)
@given(document=st.one_of(user_documents, json_values), active=st.booleans())
def test_parse_replace_never_changes_username_or_email(document: Any, active: bool) -> None:
    current = stored(user_name=EMAIL.upper(), active=active)

    try:
        replaced = parse_replace(body(document), current)
    except ScimError:
        return

    assert (replaced.user_name, replaced.email) == (current.user_name, current.email)
    if not isinstance(document, dict) or document.get("active") in (None, ""):
        assert replaced.active is active


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64))
def test_parse_create_refuses_arbitrary_bytes_with_scim_errors(raw: bytes) -> None:
    with contextlib.suppress(ScimError):
        parse_create(raw)


@pytest.mark.parametrize(
    ("attributes", "excluded", "expected"),
    [
        pytest.param(
            "name.givenName, emails.value",
            "",
            {**ALWAYS, "name": {"givenName": "Alice"}, "emails": [{"value": EMAIL}]},
            id="sub-attributes",
        ),
        pytest.param(
            f"{USER_SCHEMA_URN}:displayName,ACTIVE",
            "",
            {**ALWAYS, "displayName": "Alice S", "active": True},
            id="urn-and-case",
        ),
        pytest.param(
            f"{ENTERPRISE_USER_URN}:department,nickName",
            "",
            ALWAYS,
            id="unknown-and-extension",
        ),
        pytest.param(
            "",
            "meta,name.formatted,id",
            {**without("meta"), "name": {"givenName": "Alice", "familyName": "Smith"}},
            id="excluded",
        ),
    ],
)
def test_project_takes_parsed_attribute_lists(attributes: str, excluded: str, expected: dict[str, Any]) -> None:
    projected = project(FULL, attributes=parse_attribute_list(attributes), excluded=parse_attribute_list(excluded))

    assert projected == expected


# --- input that must be refused cleanly, or stored in one canonical form ----------------------------------------


def test_deeply_nested_json_is_invalid_syntax_not_a_crash() -> None:
    body = b'{"userName": "deep@example.com", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    with pytest.raises(InvalidSyntaxError, match="too deeply"):
        parse_create(body)


_NOT_JSON = "The User is not valid JSON: "
_LONE = "is half of a UTF-16 surrogate pair, without the other."


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        pytest.param(b"", "The User is empty: a JSON object is expected.", id="empty"),
        pytest.param(b" \r\n\t", "The User is empty: a JSON object is expected.", id="only-whitespace"),
        pytest.param(b'{"displayName": "a\\ud800b"}', f"{_NOT_JSON}the escape \\ud800 at byte 18 {_LONE}", id="high"),
        pytest.param(
            b'{"displayName": "a\\uDBFF"}', f"{_NOT_JSON}the escape \\uDBFF at byte 18 {_LONE}", id="high-at-end"
        ),
        pytest.param(
            b'{"displayName": "\\udc00"}', f"{_NOT_JSON}the escape \\udc00 at byte 17 {_LONE}", id="low-alone"
        ),
        pytest.param(
            b'{"displayName": "\\ud800\\ud800"}', f"{_NOT_JSON}the escape \\ud800 at byte 17 {_LONE}", id="high-twice"
        ),
        pytest.param(
            b'{"displayName": "\\\\\\ud800"}', f"{_NOT_JSON}the escape \\ud800 at byte 19 {_LONE}", id="after-backslash"
        ),
        pytest.param(
            b'{"displayName": "\\\\ud800',
            f"{_NOT_JSON}the body ends before the JSON value is complete.",
            id="escaped-backslash-is-no-escape",
        ),
        pytest.param(
            b'{"displayName": "\\ud83d\\ude00", "userName": ',
            f"{_NOT_JSON}the body ends before the JSON value is complete.",
            id="paired-surrogates-then-cut-short",
        ),
        pytest.param(
            b'{"displayName": "\\uZZZZ"}',
            f"{_NOT_JSON}JSON is malformed: invalid character in unicode escape (byte 20).",
            id="other-errors-keep-their-position",
        ),
    ],
)
def test_broken_json_gets_a_detail_that_names_the_problem(raw: bytes, detail: str) -> None:
    with pytest.raises(InvalidSyntaxError) as caught:
        parse_create(raw)

    assert caught.value.detail == detail


@pytest.mark.parametrize(
    ("attribute", "length"),
    [
        pytest.param("externalId", 513, id="external-id"),
        pytest.param("displayName", 1025, id="display-name"),
    ],
)
def test_over_long_strings_are_invalid_values(attribute: str, length: int) -> None:
    body = msgspec.json.encode({"userName": "long@example.com", attribute: "x" * length})

    with pytest.raises(InvalidValueError, match="longer than"):
        parse_create(body)


def test_canonically_equivalent_spellings_are_stored_as_one() -> None:
    decomposed = "zoe\u0308@example.com"

    attributes = parse_create(msgspec.json.encode({"userName": decomposed, "name": {"givenName": "Zoe\u0308"}}))

    assert attributes.user_name == "zo\u00eb@example.com"
    assert attributes.email == "zo\u00eb@example.com"
    assert attributes.given_name == "Zo\u00eb"


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("a\u202eb@example.com", id="right-to-left-override"),
        pytest.param("a\u200bb@example.com", id="zero-width-space"),
        pytest.param("a\u00a0b@example.com", id="no-break-space"),
    ],
)
def test_invisible_characters_in_an_address_are_refused(address: str) -> None:
    with pytest.raises(InvalidValueError, match="email address"):
        parse_create(msgspec.json.encode({"userName": address}))
