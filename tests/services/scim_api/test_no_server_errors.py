"""No client input gets a 500: generated requests against the real API answer 2xx or a SCIM error."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import LiveStack

pytestmark = pytest.mark.e2e

SCIM_JSON = "application/scim+json"

_names = st.sampled_from(
    [
        "userName",
        "active",
        "name",
        "name.givenName",
        "emails",
        "emails.value",
        "displayName",
        "externalId",
        "meta.created",
        "id",
        "title",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "",
        "Operations",
        "op",
        "path",
        "value",
        "schemas",
    ]
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(["True", "false", "a@example.com", "ALICE@EXAMPLE.COM", "replace", "add", "remove", "\x00"]),
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_names | st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
_filter_words = st.sampled_from(
    [
        "userName",
        'emails[type eq "work"].value',
        "eq",
        "ne",
        "co",
        "sw",
        "pr",
        "gt",
        "and",
        "or",
        "not",
        "(",
        ")",
        "[",
        "]",
        '"a@example.com"',
        "true",
        "null",
        "42",
        "meta.created",
        '"2026-01-01T00:00:00Z"',
        '"',
        "\\",
    ]
)
_filters = st.lists(_filter_words, max_size=12).map(" ".join) | st.text(max_size=60)


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(SCIM_JSON), response.headers
        assert response.json()["status"] == str(response.status_code)


@pytest.fixture(scope="module")
def user_url(live_stack: LiveStack) -> str:
    email = f"fuzz.{secrets.token_hex(4)}@example.com"
    created = httpx.post(f"{live_stack.scim_base}/Users", json={"userName": email}, headers=live_stack.scim_headers())
    assert created.status_code == 201
    return f"{live_stack.scim_base}/Users/{created.json()['id']}"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_json)
def test_any_json_body_on_every_write_is_answered_without_a_server_error(
    live_stack: LiveStack, user_url: str, body: Any
) -> None:
    content = json.dumps(body).encode()
    headers = live_stack.scim_headers()

    for method, url in (("POST", f"{live_stack.scim_base}/Users"), ("PUT", user_url), ("PATCH", user_url)):
        _check(httpx.request(method, url, content=content, headers=headers))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(st.dictionaries(st.sampled_from(["op", "path", "value"]), _json, max_size=3), max_size=4))
def test_any_patch_operations_are_answered_without_a_server_error(
    live_stack: LiveStack, user_url: str, operations: list[dict[str, Any]]
) -> None:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}

    _check(httpx.patch(user_url, content=json.dumps(body).encode(), headers=live_stack.scim_headers()))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    filter_text=_filters,
    start=st.one_of(st.none(), st.integers(-5, 10**12).map(str), st.text(max_size=5)),
    count=st.one_of(st.none(), st.integers(-5, 10**12).map(str), st.text(max_size=5)),
    sort_by=st.one_of(st.none(), _names),
    attributes=st.one_of(st.none(), st.lists(_names, max_size=3).map(",".join), st.text(max_size=10)),
)
def test_any_list_query_is_answered_without_a_server_error(
    live_stack: LiveStack,
    *,
    filter_text: str,
    start: str | None,
    count: str | None,
    sort_by: str | None,
    attributes: str | None,
) -> None:
    params = {"filter": filter_text, "startIndex": start, "count": count, "sortBy": sort_by, "attributes": attributes}
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in params.items() if value is not None)

    _check(httpx.get(f"{live_stack.scim_base}/Users?{query}", headers=live_stack.scim_headers()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_any_bytes_as_a_body_are_answered_without_a_server_error(
    live_stack: LiveStack, user_url: str, raw: bytes
) -> None:
    headers = live_stack.scim_headers()

    _check(httpx.post(f"{live_stack.scim_base}/Users", content=raw, headers=headers))
    _check(httpx.patch(user_url, content=raw, headers=headers))
    _check(httpx.post(f"{live_stack.scim_base}/Users/.search", content=raw, headers=headers))


_long_text = st.text(min_size=500, max_size=4000) | st.sampled_from(["x" * 3000, "\u00e9" * 1500, "a\u0000b" * 10])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_names, value=_long_text, depth=st.integers(0, 3000))
def test_long_values_and_deep_nesting_are_answered_without_a_server_error(
    live_stack: LiveStack, user_url: str, name: str, value: str, depth: int
) -> None:
    nested = "[" * depth + json.dumps(value) + "]" * depth
    content = f'{{"userName": "deep.{secrets.token_hex(3)}@example.com", {json.dumps(name or "x")}: {nested}}}'

    _check(httpx.post(f"{live_stack.scim_base}/Users", content=content.encode(), headers=live_stack.scim_headers()))
    _check(httpx.put(user_url, content=content.encode(), headers=live_stack.scim_headers()))


def _admin_check(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_json)
def test_any_json_body_on_the_internal_api_is_answered_without_a_server_error(live_stack: LiveStack, body: Any) -> None:
    content = json.dumps(body).encode()
    headers = live_stack.admin_headers()

    for method, path in (
        ("POST", "/orgs"),
        ("PATCH", f"/orgs/{live_stack.org_id}"),
        ("POST", f"/orgs/{live_stack.org_id}/tokens"),
        ("POST", f"/orgs/{live_stack.org_id}/sessions"),
    ):
        _admin_check(httpx.request(method, f"{live_stack.admin_base}{path}", content=content, headers=headers))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(["after", "limit", "org_id", "action", "user_id", "event_id"]),
    value=_long_text | st.text(max_size=30) | st.integers().map(str),
)
def test_any_internal_query_is_answered_without_a_server_error(live_stack: LiveStack, name: str, value: str) -> None:
    for path in ("/audit", "/events"):
        _admin_check(
            httpx.get(
                f"{live_stack.admin_base}{path}?{name}={quote(value, safe='')}", headers=live_stack.admin_headers()
            )
        )
