"""The PATCH engine: the operation shapes IdPs send, and the answers RFC 7644 §3.5.2 and the product require."""

from __future__ import annotations

import contextlib
import unicodedata
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain import UserAttributes
from shared.scim.errors import InvalidSyntaxError, ScimError
from shared.scim.patch import PatchOutcome, apply_patch
from shared.scim.schema import ENTERPRISE_USER_URN, PATCH_OP_URN, USER_SCHEMA_URN
from tests.shared.scim.body_strategies import json_values, patch_documents

EMAIL = "alice.0f1e2d3c@example.com"
EMAIL2 = "bob.0f1e2d3c@example.com"


def stored(**changes: Any) -> UserAttributes:
    attributes = UserAttributes(user_name=EMAIL, email=EMAIL, given_name="Alice", family_name="Smith")
    return msgspec.structs.replace(attributes, **changes)


def request(*operations: dict[str, Any]) -> bytes:
    return msgspec.json.encode({"schemas": [PATCH_OP_URN], "Operations": list(operations)})


# --- what IdPs send -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "operations", "expected", "changed"),
    [
        pytest.param(
            stored(),
            [{"op": "replace", "path": "active", "value": False}],
            stored(active=False),
            ("active",),
            id="entra-deactivate",
        ),
        pytest.param(
            stored(),
            [
                {"op": "Replace", "path": "displayName", "value": "Alicia Entra"},
                {"op": "Replace", "path": "name.givenName", "value": "Alicia"},
                {"op": "Replace", "path": "name.familyName", "value": "Entra"},
                {"op": "Replace", "path": "name.formatted", "value": "Alicia Entra"},
                {"op": "Replace", "path": "externalId", "value": "asmith"},
                {"op": "Replace", "path": "active", "value": "False"},
            ],
            stored(
                display_name="Alicia Entra",
                given_name="Alicia",
                family_name="Entra",
                formatted_name="Alicia Entra",
                external_id="asmith",
                active=False,
            ),
            ("externalId", "name.givenName", "name.familyName", "name.formatted", "displayName", "active"),
            id="entra-capitalised-ops-string-false",
        ),
        pytest.param(
            stored(active=False),
            [{"op": "Replace", "path": "active", "value": "True"}],
            stored(),
            ("active",),
            id="entra-string-true",
        ),
        pytest.param(
            stored(),
            [{"op": "replace", "path": USER_SCHEMA_URN, "value": {"displayName": "Whole Schema", "active": False}}],
            stored(display_name="Whole Schema", active=False),
            ("displayName", "active"),
            id="core-schema-urn-as-path",
        ),
        pytest.param(
            stored(),
            [{"op": "replace", "path": "active", "value": "false"}],
            stored(active=False),
            ("active",),
            id="entra-lowercase-string-false",
        ),
        pytest.param(
            stored(),
            [
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": EMAIL},
                {"op": "Replace", "path": "name.familyName", "value": "Changed"},
            ],
            stored(family_name="Changed"),
            ("name.familyName",),
            id="entra-same-email-and-name",
        ),
        pytest.param(
            stored(),
            [
                {"op": "Replace", "path": 'emails[type eq "work"].value', "value": EMAIL.upper()},
                {"op": "Replace", "path": "userName", "value": EMAIL.upper()},
            ],
            stored(),
            (),
            id="entra-same-email-other-case",
        ),
        pytest.param(
            stored(),
            [
                {"op": "replace", "path": 'emails[type eq "work"].value', "value": EMAIL},
                {
                    "op": "replace",
                    "value": {
                        "displayName": "Alicia Smythe",
                        "name.givenName": "Alicia",
                        "name.familyName": "Smythe",
                        f"{ENTERPRISE_USER_URN}:employeeNumber": "1001",
                    },
                },
            ],
            stored(display_name="Alicia Smythe", given_name="Alicia", family_name="Smythe"),
            ("name.givenName", "name.familyName", "displayName"),
            id="entra-pathless-dotted-keys",
        ),
        pytest.param(
            stored(given_name="Alicia", family_name="Smythe"),
            [{"op": "add", "value": {"name.givenName": "Ali"}}],
            stored(given_name="Ali", family_name="Smythe"),
            ("name.givenName",),
            id="entra-pathless-add-dotted",
        ),
        pytest.param(
            stored(),
            [
                {"op": "Replace", "path": "title", "value": "Staff Engineer"},
                {"op": "Add", "path": f"{ENTERPRISE_USER_URN}:department", "value": "Retail"},
                {"op": "Replace", "path": "userType", "value": "Admin"},
                {"op": "Replace", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0101"},
                {"op": "Replace", "path": 'addresses[type eq "work"].formatted', "value": "18/2111"},
                {"op": "Add", "path": "nickName", "value": "Ally"},
                {
                    "op": "Add",
                    "path": f"{ENTERPRISE_USER_URN}:manager",
                    "value": [{"$ref": "../Users/mgr2", "value": "mgr2"}],
                },
                {"op": "Replace", "path": "name.givenName", "value": "Alicia"},
            ],
            stored(given_name="Alicia"),
            ("name.givenName",),
            id="entra-unsupported-attributes-ignored",
        ),
        pytest.param(
            stored(),
            [{"op": "replace", "value": {"active": False}}],
            stored(active=False),
            ("active",),
            id="okta-deactivate-pathless",
        ),
        pytest.param(
            stored(active=False),
            [{"op": "replace", "value": {"active": True}}],
            stored(),
            ("active",),
            id="okta-reactivate-pathless",
        ),
        pytest.param(
            stored(),
            [{"op": "replace", "path": "name.givenName", "value": "Alicia"}],
            stored(given_name="Alicia"),
            ("name.givenName",),
            id="okta-rename",
        ),
        pytest.param(
            stored(given_name="Jay", family_name="Cloud", display_name="Jay Cloud"),
            [
                {"op": "replace", "path": "name.givenName", "value": "Jayden"},
                {"op": "replace", "path": "displayName", "value": "Jayden Cloud"},
            ],
            stored(given_name="Jayden", family_name="Cloud", display_name="Jayden Cloud"),
            ("name.givenName", "displayName"),
            id="jumpcloud-rename",
        ),
        pytest.param(
            stored(),
            [{"op": "replace", "value": {"id": "other", "active": False, "password": "x", "groups": []}}],
            stored(active=False),
            ("active",),
            id="okta-pathless-with-read-only-and-ignored",
        ),
    ],
)
def test_apply_patch_handles_idp_requests(
    current: UserAttributes,
    operations: list[dict[str, Any]],
    expected: UserAttributes,
    changed: tuple[str, ...],
) -> None:
    outcome = apply_patch(current, request(*operations))

    assert outcome == PatchOutcome(attributes=expected, changed=changed)


@pytest.mark.parametrize(
    ("operations", "scim_type"),
    [
        pytest.param(
            [{"op": "Replace", "path": 'emails[type eq "work"].value', "value": EMAIL2}],
            "mutability",
            id="entra-change-work-email",
        ),
        pytest.param(
            [{"op": "Replace", "path": "userName", "value": EMAIL2}],
            "mutability",
            id="entra-change-username",
        ),
        pytest.param(
            [
                {"op": "replace", "path": "displayName", "value": "Half"},
                {"op": "replace", "path": "userName", "value": EMAIL2},
            ],
            "mutability",
            id="no-half-applied-change",
        ),
    ],
)
def test_apply_patch_refuses_idp_email_changes(operations: list[dict[str, Any]], scim_type: str) -> None:
    with pytest.raises(ScimError) as caught:
        apply_patch(stored(), request(*operations))

    assert (caught.value.status, caught.value.scim_type) == (400, scim_type)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param(
            b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [', "JSON", id="truncated"
        ),
        pytest.param(
            msgspec.json.encode({"schemas": [PATCH_OP_URN], "Operations": "replace"}),
            "PatchOp",
            id="operations-not-a-list",
        ),
        pytest.param(b"[]", "object", id="array-body"),
        pytest.param(b"", "The PATCH request is empty: a JSON object is expected.", id="empty-body"),
        pytest.param(
            b'{"Operations": [{"op": "replace", "path": "displayName", "value": "a\\ud800b"}]}',
            "The PATCH request is not valid JSON: the escape \\ud800 at byte 68 is half of a UTF-16 surrogate pair",
            id="lone-surrogate-escape",
        ),
        pytest.param(msgspec.json.encode({"schemas": [PATCH_OP_URN]}), "Operations", id="operations-missing"),
        pytest.param(msgspec.json.encode({"Operations": [5]}), "PatchOp", id="operation-not-an-object"),
        pytest.param(msgspec.json.encode({"Operations": [{"path": "active", "value": False}]}), "op", id="op-missing"),
        pytest.param(msgspec.json.encode({"Operations": [{"op": 1, "value": {}}]}), "op", id="op-not-a-string"),
        pytest.param(request({"op": "merge", "path": "active", "value": False}), "op", id="unknown-op"),
        pytest.param(request({"op": "copy", "path": "active", "from": "x"}), "op", id="json-patch-op"),
        pytest.param(
            msgspec.json.encode({"schemas": 7, "Operations": []}),
            "PatchOp",
            id="schemas-not-strings",
        ),
    ],
)
def test_apply_patch_refuses_malformed_requests(raw: bytes, fragment: str) -> None:
    with pytest.raises(InvalidSyntaxError) as caught:
        apply_patch(stored(), raw)

    assert fragment in caught.value.detail


# --- RFC 7644 §3.5.2 semantics ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "raw", "expected", "changed"),
    [
        pytest.param(stored(), request(), stored(), (), id="empty-operations-is-a-no-op"),
        pytest.param(
            stored(),
            msgspec.json.encode({"Operations": [{"op": "replace", "path": "displayName", "value": "A"}]}),
            stored(display_name="A"),
            ("displayName",),
            id="schemas-absent",
        ),
        pytest.param(
            stored(),
            msgspec.json.encode({"operations": [{"OP": "REPLACE", "Path": "displayName", "VALUE": "A"}]}),
            stored(display_name="A"),
            ("displayName",),
            id="message-names-ignore-case",
        ),
        pytest.param(
            stored(),
            request({"op": "add", "path": "displayName", "value": "A"}),
            stored(display_name="A"),
            ("displayName",),
            id="add-simple",
        ),
        pytest.param(
            stored(display_name="A"),
            request({"op": "remove", "path": "displayName"}),
            stored(),
            ("displayName",),
            id="remove-simple",
        ),
        pytest.param(
            stored(),
            request({"op": "remove", "path": "displayName"}),
            stored(),
            (),
            id="remove-of-unassigned-is-a-no-op",
        ),
        pytest.param(
            stored(external_id="x"),
            request({"op": "replace", "path": "externalId", "value": None}),
            stored(),
            ("externalId",),
            id="null-value-clears",
        ),
        pytest.param(
            stored(external_id="x"),
            request({"op": "replace", "path": "externalId", "value": ""}),
            stored(),
            ("externalId",),
            id="empty-string-clears",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "path": "name", "value": {"givenName": "Babs"}}),
            stored(given_name="Babs"),
            ("name.givenName",),
            id="replace-complex-merges",
        ),
        pytest.param(
            stored(),
            request({"op": "add", "path": "name", "value": {"formatted": "Alice Smith", "middleName": "Q"}}),
            stored(formatted_name="Alice Smith"),
            ("name.formatted",),
            id="add-complex-merges",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "path": "name", "value": {"givenName": None, "FAMILYNAME": "S"}}),
            stored(given_name=None, family_name="S"),
            ("name.givenName", "name.familyName"),
            id="replace-complex-with-null-part",
        ),
        pytest.param(
            stored(formatted_name="Alice Smith"),
            request({"op": "remove", "path": "name"}),
            stored(given_name=None, family_name=None),
            ("name.givenName", "name.familyName", "name.formatted"),
            id="remove-complex",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "path": "name", "value": None}),
            stored(given_name=None, family_name=None),
            ("name.givenName", "name.familyName"),
            id="null-complex-clears",
        ),
        pytest.param(
            stored(),
            request({"op": "remove", "path": "name.givenName"}),
            stored(given_name=None),
            ("name.givenName",),
            id="remove-sub-attribute",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "path": f"{USER_SCHEMA_URN}:name.familyName", "value": "Jones"}),
            stored(family_name="Jones"),
            ("name.familyName",),
            id="core-urn-path",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "value": {f"{USER_SCHEMA_URN}:name.familyName": "Jones"}}),
            stored(family_name="Jones"),
            ("name.familyName",),
            id="core-urn-key",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "value": {USER_SCHEMA_URN: {"name": {"givenName": "Al"}, "active": "false"}}}),
            stored(given_name="Al", active=False),
            ("name.givenName", "active"),
            id="core-urn-object-key",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "value": {USER_SCHEMA_URN: "", "displayName": "Al S"}}),
            stored(display_name="Al S"),
            ("displayName",),
            id="empty-core-urn-object-is-absent",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "value": {"name": {"givenName": "Al"}, "DisplayName": "Al S"}}),
            stored(given_name="Al", display_name="Al S"),
            ("name.givenName", "displayName"),
            id="pathless-nested",
        ),
        pytest.param(
            stored(),
            request({"op": "add", "value": {ENTERPRISE_USER_URN: {"department": "R&D"}, "urn:example:custom:x": 1}}),
            stored(),
            (),
            id="pathless-extensions-ignored",
        ),
        pytest.param(
            stored(),
            request(
                {"op": "replace", "path": "displayName", "value": "Temp"},
                {"op": "remove", "path": "displayName"},
            ),
            stored(),
            (),
            id="changed-compares-before-and-after",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "path": "name.givenName", "value": "Alice"}),
            stored(),
            (),
            id="same-value-is-no-change",
        ),
        pytest.param(
            stored(),
            request({"op": "remove", "path": "name.middleName"}, {"op": "add", "path": "name.middleName", "value": 1}),
            stored(),
            (),
            id="unstored-sub-attribute-ignored",
        ),
        pytest.param(
            stored(),
            request(
                {"op": "replace", "path": "password", "value": "secret"},
                {"op": "add", "path": "groups", "value": [{"value": "g1"}]},
                {"op": "remove", "path": "roles"},
                {"op": "replace", "path": "id", "value": "x"},
                {"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"},
            ),
            stored(),
            (),
            id="ignored-and-read-only-attributes",
        ),
        pytest.param(
            stored(),
            request({"op": "replace", "path": "", "value": {"displayName": "A"}}),
            stored(display_name="A"),
            ("displayName",),
            id="empty-path-is-no-path",
        ),
    ],
)
def test_apply_patch_follows_rfc_7644(
    current: UserAttributes, raw: bytes, expected: UserAttributes, changed: tuple[str, ...]
) -> None:
    assert apply_patch(current, raw) == PatchOutcome(attributes=expected, changed=changed)


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        pytest.param({"op": "replace", "path": "userName", "value": EMAIL.upper()}, stored(), id="username-other-case"),
        pytest.param({"op": "add", "path": "userName", "value": EMAIL}, stored(), id="add-same-username"),
        pytest.param({"op": "replace", "value": {"userName": EMAIL.title()}}, stored(), id="pathless-username"),
        pytest.param({"op": "replace", "path": "emails.value", "value": EMAIL.upper()}, stored(), id="emails-value"),
        pytest.param(
            {"op": "replace", "path": "emails", "value": [{"value": EMAIL.upper(), "type": "work", "primary": True}]},
            stored(),
            id="whole-emails-array",
        ),
        pytest.param(
            {"op": "replace", "path": "emails", "value": {"value": EMAIL, "type": "work"}},
            stored(),
            id="whole-emails-object",
        ),
        pytest.param(
            {"op": "add", "path": "emails", "value": [{"value": EMAIL, "type": "work", "primary": True}]},
            stored(),
            id="add-same-email",
        ),
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": EMAIL, "display": "Alice"}},
            stored(),
            id="filtered-element",
        ),
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "work"].type', "value": "work"},
            stored(),
            id="same-type",
        ),
        pytest.param({"op": "replace", "path": "emails.type", "value": "WORK"}, stored(), id="same-type-other-case"),
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "work"].primary', "value": True},
            stored(),
            id="same-primary",
        ),
        pytest.param({"op": "add", "path": "emails.primary", "value": "True"}, stored(), id="same-primary-as-string"),
        pytest.param(
            {"op": "replace", "value": {"emails.type": "work", "emails.primary": True}},
            stored(),
            id="pathless-same-type-and-primary",
        ),
        pytest.param(
            {"op": "replace", "path": "emails", "value": [{"value": EMAIL, "type": "Work", "primary": "true"}]},
            stored(),
            id="whole-emails-with-same-type-and-primary",
        ),
        pytest.param(
            {"op": "remove", "path": 'emails[type eq "work"].display'},
            stored(),
            id="unstored-sub-attribute-ignored",
        ),
        pytest.param(
            {"op": "add", "path": 'emails[type eq "home"].value', "value": EMAIL.upper()},
            stored(),
            id="add-same-address-under-another-type",
        ),
        pytest.param(
            {"op": "replace", "value": {"emails": [{"value": EMAIL, "primary": True}], "userName": EMAIL}},
            stored(),
            id="pathless-emails",
        ),
    ],
)
def test_apply_patch_accepts_the_current_username_and_email(
    operation: dict[str, Any], expected: UserAttributes
) -> None:
    current = stored()

    outcome = apply_patch(current, request(operation))

    assert outcome == PatchOutcome(attributes=expected, changed=())
    assert outcome.attributes.user_name == EMAIL


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(f'emails[value eq "{EMAIL.upper()}"].value', id="value-ignoring-case"),
        pytest.param('emails[type eq "work" and primary eq true].value', id="and-primary"),
        pytest.param('emails[primary eq "True"].value', id="string-boolean-operand"),
        pytest.param('emails[not (type eq "home")].value', id="not"),
        pytest.param('emails[type eq "home" or value pr].value', id="or-present"),
        pytest.param('EMAILS[TYPE EQ "Work"].VALUE', id="names-and-operator-ignore-case"),
        pytest.param('emails[value ew "@EXAMPLE.COM"].value', id="ends-with"),
        pytest.param(f'{USER_SCHEMA_URN}:emails[type eq "work"].value', id="core-urn"),
    ],
)
def test_apply_patch_matches_the_email_with_value_filters(path: str) -> None:
    outcome = apply_patch(stored(), request({"op": "replace", "path": path, "value": EMAIL}))

    assert outcome == PatchOutcome(attributes=stored(), changed=())


@pytest.mark.parametrize(
    ("path", "scim_type"),
    [
        pytest.param('emails[display eq "Alice"].value', "noTarget", id="unstored-sub-attribute-matches-nothing"),
        pytest.param('emails[bogus eq "work"].value', "invalidPath", id="unknown-sub-attribute-in-filter"),
        pytest.param('emails[name.givenName eq "x"].value', "invalidPath", id="foreign-attribute-in-filter"),
        pytest.param('emails[value sw "bob"].value', "noTarget", id="other-address"),
        pytest.param("emails[primary eq false]", "noTarget", id="not-primary"),
        pytest.param('emails[type eq "work"', "invalidPath", id="unclosed-filter"),
        pytest.param("emails[]", "invalidPath", id="empty-filter"),
        pytest.param("name..givenName", "invalidPath", id="double-dot"),
        pytest.param('emails[type eq "work"]value', "invalidPath", id="sub-without-dot"),
        pytest.param("name.givenName[value eq 1]", "invalidPath", id="filter-after-sub-attribute"),
        pytest.param('emails[type eq "work"].value.x', "invalidPath", id="two-sub-attributes"),
        pytest.param("display Name", "invalidPath", id="space"),
        pytest.param("   ", "invalidPath", id="blank"),
        pytest.param("urn:foo", "invalidPath", id="urn-without-attribute"),
    ],
)
def test_apply_patch_refuses_paths(path: str, scim_type: str) -> None:
    with pytest.raises(ScimError) as caught:
        apply_patch(stored(), request({"op": "replace", "path": path, "value": EMAIL}))

    assert (caught.value.status, caught.value.scim_type) == (400, scim_type)


def test_apply_patch_keeps_the_stored_spelling() -> None:
    current = stored(user_name=EMAIL.upper(), email=EMAIL)

    outcome = apply_patch(current, request({"op": "replace", "path": "userName", "value": EMAIL}))

    assert outcome.attributes.user_name == EMAIL.upper()
    assert outcome.attributes.email == EMAIL


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        pytest.param({"op": "remove", "value": {"displayName": "x"}}, "noTarget", id="remove-without-path"),
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "home"].value', "value": EMAIL},
            "noTarget",
            id="replace-unmatched-filter",
        ),
        pytest.param({"op": "remove", "path": 'emails[type eq "home"]'}, "noTarget", id="remove-unmatched-filter"),
        pytest.param(
            {"op": "add", "path": 'emails[type eq "home"].value', "value": EMAIL2},
            "mutability",
            id="add-second-address",
        ),
        pytest.param({"op": "add", "path": "emails", "value": [{"value": EMAIL2}]}, "mutability", id="add-email"),
        pytest.param({"op": "remove", "path": "userName"}, "mutability", id="remove-username"),
        pytest.param({"op": "replace", "path": "userName", "value": None}, "mutability", id="null-username"),
        pytest.param({"op": "remove", "path": "emails"}, "mutability", id="remove-emails"),
        pytest.param({"op": "remove", "path": 'emails[type eq "work"].value'}, "mutability", id="remove-work-email"),
        pytest.param({"op": "replace", "path": "emails", "value": []}, "mutability", id="empty-emails"),
        pytest.param({"op": "replace", "path": "emails.value", "value": ""}, "mutability", id="blank-email"),
        pytest.param(
            {"op": "replace", "path": "emails", "value": [{"value": EMAIL2, "primary": True}, {"value": EMAIL}]},
            "mutability",
            id="new-primary-email",
        ),
        pytest.param({"op": "replace", "value": {"userName": EMAIL2}}, "mutability", id="pathless-username"),
        pytest.param({"op": "remove", "path": "active"}, "invalidValue", id="remove-active"),
        pytest.param({"op": "replace", "path": "active", "value": None}, "invalidValue", id="null-active"),
        pytest.param({"op": "replace", "path": "active", "value": "yes"}, "invalidValue", id="active-yes"),
        pytest.param({"op": "replace", "path": "active", "value": 0}, "invalidValue", id="active-number"),
        pytest.param({"op": "replace", "value": {"active": "off"}}, "invalidValue", id="pathless-active-off"),
        pytest.param({"op": "replace", "path": "displayName", "value": 5}, "invalidValue", id="display-name-number"),
        pytest.param(
            {"op": "replace", "path": "externalId", "value": {"a": 1}}, "invalidValue", id="external-id-object"
        ),
        pytest.param({"op": "replace", "path": "name", "value": "Alice Smith"}, "invalidValue", id="name-string"),
        pytest.param(
            {"op": "replace", "path": "name", "value": {"givenName": 1}}, "invalidValue", id="name-part-number"
        ),
        pytest.param(
            {"op": "replace", "path": "name.givenName", "value": ["A"]}, "invalidValue", id="given-name-array"
        ),
        pytest.param({"op": "replace", "path": "userName", "value": 5}, "invalidValue", id="username-number"),
        pytest.param({"op": "replace", "path": "emails.value", "value": 5}, "invalidValue", id="email-value-number"),
        pytest.param({"op": "replace", "path": "emails", "value": ["a@b.c"]}, "invalidValue", id="emails-strings"),
        pytest.param({"op": "replace", "path": "displayName", "value": "a\x00b"}, "invalidValue", id="nul"),
        pytest.param({"op": "replace", "path": "displayName"}, "invalidValue", id="replace-without-value"),
        pytest.param({"op": "add", "value": ["displayName"]}, "invalidValue", id="pathless-value-not-object"),
        pytest.param({"op": "replace", "value": None}, "invalidValue", id="pathless-null"),
        pytest.param({"op": "replace", "value": {USER_SCHEMA_URN: "x"}}, "invalidValue", id="core-urn-not-an-object"),
        pytest.param({"op": "replace", "path": 5, "value": "x"}, "invalidPath", id="path-not-a-string"),
        pytest.param({"op": "replace", "path": "no such path", "value": "x"}, "invalidPath", id="unparsable-path"),
        pytest.param({"op": "replace", "path": "active.value", "value": True}, "invalidPath", id="sub-of-simple"),
        pytest.param({"op": "remove", "path": "displayName.x"}, "invalidPath", id="sub-of-display-name"),
        pytest.param({"op": "replace", "path": "userName.x", "value": "x"}, "invalidPath", id="sub-of-username"),
        pytest.param(
            {"op": "replace", "path": 'name[givenName eq "Alice"]', "value": {}},
            "invalidPath",
            id="filter-on-single-valued",
        ),
        pytest.param({"op": "replace", "value": {"name.givenName.x": "A"}}, "invalidPath", id="dotted-key-too-deep"),
        pytest.param({"op": "replace", "value": {"active.x": True}}, "invalidPath", id="dotted-key-sub-of-simple"),
    ],
)
def test_apply_patch_refuses(operation: dict[str, Any], scim_type: str) -> None:
    with pytest.raises(ScimError) as caught:
        apply_patch(stored(), request(operation))

    assert (caught.value.status, caught.value.scim_type) == (400, scim_type)
    assert caught.value.detail


_FIXED_TYPE = "The email's type is always work; it cannot be changed."
_FIXED_PRIMARY = "The email is always the primary one; primary cannot be false."


@pytest.mark.parametrize(
    ("operation", "scim_type", "detail"),
    [
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "work"].type', "value": "home"},
            "mutability",
            _FIXED_TYPE,
            id="type-by-value-path",
        ),
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "work"].primary', "value": False},
            "mutability",
            _FIXED_PRIMARY,
            id="primary-by-value-path",
        ),
        pytest.param(
            {"op": "Replace", "path": 'emails[type eq "work"].primary', "value": "False"},
            "mutability",
            _FIXED_PRIMARY,
            id="primary-as-string",
        ),
        pytest.param({"op": "replace", "path": "emails.type", "value": "home"}, "mutability", _FIXED_TYPE, id="type"),
        pytest.param(
            {"op": "add", "path": f"{USER_SCHEMA_URN}:emails.primary", "value": False},
            "mutability",
            _FIXED_PRIMARY,
            id="add-primary-with-core-urn",
        ),
        pytest.param(
            {"op": "replace", "value": {"emails.primary": False}}, "mutability", _FIXED_PRIMARY, id="pathless-primary"
        ),
        pytest.param(
            {"op": "replace", "path": "emails", "value": [{"value": EMAIL, "type": "home"}]},
            "mutability",
            _FIXED_TYPE,
            id="whole-emails-with-another-type",
        ),
        pytest.param(
            {"op": "replace", "path": "emails", "value": {"value": EMAIL.upper(), "primary": False}},
            "mutability",
            _FIXED_PRIMARY,
            id="whole-email-object-not-primary",
        ),
        pytest.param(
            {"op": "add", "path": "emails", "value": [{"value": EMAIL, "type": "home", "primary": True}]},
            "mutability",
            _FIXED_TYPE,
            id="add-same-address-with-another-type",
        ),
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": EMAIL, "primary": False}},
            "mutability",
            _FIXED_PRIMARY,
            id="filtered-element-not-primary",
        ),
        pytest.param(
            {"op": "add", "path": 'emails[type eq "home"]', "value": {"value": EMAIL, "type": "home"}},
            "mutability",
            _FIXED_TYPE,
            id="add-under-unmatched-filter-with-another-type",
        ),
        pytest.param(
            {"op": "add", "path": 'emails[type eq "home"].type', "value": "home"},
            "mutability",
            _FIXED_TYPE,
            id="add-type-under-unmatched-filter",
        ),
        pytest.param(
            {"op": "remove", "path": 'emails[type eq "work"].type'},
            "mutability",
            "emails.type cannot be removed.",
            id="remove-type",
        ),
        pytest.param(
            {"op": "remove", "path": "emails.primary"},
            "mutability",
            "emails.primary cannot be removed.",
            id="remove-primary",
        ),
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "work"].type', "value": None},
            "mutability",
            "emails.type cannot be removed.",
            id="null-type",
        ),
        pytest.param(
            {"op": "replace", "path": "emails.primary", "value": ""},
            "mutability",
            "emails.primary cannot be removed.",
            id="empty-primary",
        ),
        pytest.param(
            {"op": "replace", "path": "emails.type", "value": 5},
            "invalidValue",
            "emails.type must be a string.",
            id="type-not-a-string",
        ),
        pytest.param(
            {"op": "replace", "path": "emails.primary", "value": "no"},
            "invalidValue",
            "emails.primary must be true or false.",
            id="primary-not-a-boolean",
        ),
        pytest.param(
            {"op": "replace", "path": 'emails[type eq "home"].type', "value": "home"},
            "noTarget",
            "No email matches the value filter of the path.",
            id="replace-type-under-unmatched-filter",
        ),
    ],
)
def test_apply_patch_refuses_changes_to_the_email_type_and_primary(
    operation: dict[str, Any], scim_type: str, detail: str
) -> None:
    with pytest.raises(ScimError) as caught:
        apply_patch(stored(), request(operation))

    assert (caught.value.status, caught.value.scim_type, caught.value.detail) == (400, scim_type, detail)


# --- properties ---------------------------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(document=st.one_of(patch_documents, json_values))
def test_apply_patch_raises_nothing_but_scim_errors(document: Any) -> None:
    current = stored()

    try:
        outcome = apply_patch(current, msgspec.json.encode(document))
    except ScimError:
        return

    assert (outcome.attributes.user_name, outcome.attributes.email) == (current.user_name, current.email)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=64))
def test_apply_patch_refuses_arbitrary_bytes_with_scim_errors(raw: bytes) -> None:
    with contextlib.suppress(ScimError):
        apply_patch(stored(), raw)


Model = dict[str, Any]
Step = tuple[dict[str, Any], Callable[[Model], None]]

FIELDS = {
    "displayName": "display_name",
    "externalId": "external_id",
    "name.givenName": "given_name",
    "name.familyName": "family_name",
    "name.formatted": "formatted_name",
    f"{USER_SCHEMA_URN}:name.familyName": "family_name",
}
NAME_PARTS = {"givenName": "given_name", "familyName": "family_name", "formatted": "formatted_name"}
texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
values = st.one_of(st.none(), texts)
adds = st.sampled_from(["add", "replace", "Add", "Replace", "ADD"])
spellings = st.sampled_from([EMAIL, EMAIL.upper(), EMAIL.title()])


def as_stored(value: str | None) -> str | None:
    """A string as the engine stores it: ``""`` is unassigned, text is in NFC (U+2F800 is stored as U+4E3D)."""
    return unicodedata.normalize("NFC", value) if value else None


def assign(field: str, value: str | None) -> Callable[[Model], None]:
    def effect(model: Model) -> None:
        model[field] = as_stored(value)

    return effect


def assign_all(assignments: list[tuple[str, Any]]) -> Callable[[Model], None]:
    def effect(model: Model) -> None:
        for field, value in assignments:
            model[field] = value

    return effect


def unchanged(model: Model) -> None:
    del model  # the step changes nothing


@st.composite
def set_string(draw: st.DrawFn) -> Step:
    path = draw(st.sampled_from(sorted(FIELDS)))
    value = draw(values)
    return {"op": draw(adds), "path": path, "value": value}, assign(FIELDS[path], value)


@st.composite
def remove_string(draw: st.DrawFn) -> Step:
    path = draw(st.sampled_from(sorted(FIELDS)))
    return {"op": draw(st.sampled_from(["remove", "Remove"])), "path": path}, assign(FIELDS[path], None)


@st.composite
def merge_name(draw: st.DrawFn) -> Step:
    parts = draw(st.dictionaries(st.sampled_from(sorted(NAME_PARTS)), values, max_size=3))
    effect = assign_all([(NAME_PARTS[key], as_stored(value)) for key, value in parts.items()])
    return {"op": draw(adds), "path": "name", "value": parts}, effect


REMOVE_NAME: Step = ({"op": "remove", "path": "name"}, assign_all([(field, None) for field in NAME_PARTS.values()]))


@st.composite
def set_active(draw: st.DrawFn) -> Step:
    active = draw(st.booleans())
    value = draw(st.sampled_from([active, str(active), str(active).lower(), str(active).upper()]))
    return {"op": draw(adds), "path": "active", "value": value}, assign_all([("active", active)])


@st.composite
def pathless(draw: st.DrawFn) -> Step:
    keys = draw(
        st.lists(st.sampled_from(["displayName", "externalId", "name.givenName", "name.formatted"]), unique=True)
    )
    chosen: dict[str, Any] = {key: draw(values) for key in keys}
    assignments: list[tuple[str, Any]] = [(FIELDS[key], as_stored(value)) for key, value in chosen.items()]
    if draw(st.booleans()):
        active = draw(st.booleans())
        chosen["active"] = active
        assignments.append(("active", active))
    return {"op": draw(adds), "value": chosen}, assign_all(assignments)


@st.composite
def same_identity(draw: st.DrawFn) -> Step:
    spelling = draw(spellings)
    operation: dict[str, Any] = draw(
        st.sampled_from(
            [
                {"op": "replace", "path": "userName", "value": spelling},
                {"op": "add", "path": 'emails[type eq "work"].value', "value": spelling},
                {"op": "replace", "path": "emails", "value": [{"value": spelling, "type": "work", "primary": True}]},
                {"op": "replace", "value": {"userName": spelling, "emails": {"value": spelling}}},
                {"op": "replace", "path": "title", "value": spelling},
                {"op": "add", "path": f"{ENTERPRISE_USER_URN}:department", "value": spelling},
            ]
        )
    )
    return operation, unchanged


steps = st.one_of(
    set_string(), remove_string(), merge_name(), st.just(REMOVE_NAME), set_active(), pathless(), same_identity()
)
currents = st.builds(
    UserAttributes,
    user_name=spellings,
    email=spellings,
    given_name=st.one_of(st.none(), texts.filter(bool)),
    family_name=st.one_of(st.none(), texts.filter(bool)),
    formatted_name=st.one_of(st.none(), texts.filter(bool)),
    display_name=st.one_of(st.none(), texts.filter(bool)),
    external_id=st.one_of(st.none(), texts.filter(bool)),
    active=st.booleans(),
)
CHANGE_ORDER = (
    ("external_id", "externalId"),
    ("given_name", "name.givenName"),
    ("family_name", "name.familyName"),
    ("formatted_name", "name.formatted"),
    ("display_name", "displayName"),
    ("active", "active"),
)


@settings(max_examples=500, deadline=None)
@given(current=currents, chosen=st.lists(steps, max_size=6))
def test_apply_patch_matches_a_sequential_model(current: UserAttributes, chosen: list[Step]) -> None:
    model = msgspec.structs.asdict(current)
    for _, effect in chosen:
        effect(model)

    outcome = apply_patch(current, request(*(operation for operation, _ in chosen)))

    assert outcome.attributes == UserAttributes(**model)
    assert (outcome.attributes.user_name, outcome.attributes.email) == (current.user_name, current.email)
    assert outcome.changed == tuple(name for field, name in CHANGE_ORDER if model[field] != getattr(current, field))


def test_the_current_address_in_another_normal_form_is_a_no_op() -> None:
    current = stored(user_name="zo\u00eb@example.com", email="zo\u00eb@example.com")
    body = request(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ZOE\u0308@example.com"},
        {"op": "replace", "path": "userName", "value": "zoe\u0308@example.com"},
    )

    assert apply_patch(current, body) == PatchOutcome(attributes=current, changed=())


def test_deeply_nested_patch_json_is_invalid_syntax() -> None:
    body = b'{"Operations": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    with pytest.raises(InvalidSyntaxError, match="too deeply"):
        apply_patch(stored(), body)
