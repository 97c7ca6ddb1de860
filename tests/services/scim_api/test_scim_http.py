"""The SCIM wire contract over real HTTP: status codes, media types, error bodies, routing edges."""

from __future__ import annotations

import gzip
import json
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveStack, TestServices
from tests.support.stack import ServiceProcess, free_port

pytestmark = pytest.mark.e2e

SCIM_JSON = "application/scim+json"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _email() -> str:
    return f"http.{secrets.token_hex(4)}@example.com"


def _create(stack: LiveStack, email: str | None = None) -> dict[str, Any]:
    address = email or _email()
    response = httpx.post(
        f"{stack.scim_base}/Users", json={"schemas": [USER_URN], "userName": address}, headers=stack.scim_headers()
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _assert_scim_error(response: httpx.Response, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body["detail"]
    if scim_type is not None:
        assert body["scimType"] == scim_type


def test_created_user_has_location_etag_and_meta(live_stack: LiveStack) -> None:
    email = _email()

    response = httpx.post(
        f"{live_stack.scim_base}/Users",
        json={"schemas": [USER_URN], "userName": email},
        headers=live_stack.scim_headers(),
    )

    body = response.json()
    assert response.status_code == 201
    assert response.headers["content-type"].startswith(SCIM_JSON)
    assert response.headers["location"] == f"{live_stack.scim_base}/Users/{body['id']}"
    assert response.headers["etag"] == 'W/"1"'
    assert body["meta"]["version"] == 'W/"1"'
    assert body["meta"]["location"] == response.headers["location"]
    assert body["emails"] == [{"value": email, "type": "work", "primary": True}]
    assert "password" not in body


def test_if_match_with_a_stale_version_is_412_and_changes_nothing(live_stack: LiveStack) -> None:
    user = _create(live_stack)
    url = f"{live_stack.scim_base}/Users/{user['id']}"
    patch = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "displayName", "value": "One"}]}
    assert httpx.patch(url, json=patch, headers=live_stack.scim_headers()).headers["etag"] == 'W/"2"'

    stale = httpx.patch(url, json=patch, headers={**live_stack.scim_headers(), "If-Match": 'W/"1"'})
    current = httpx.put(
        url,
        json={"schemas": [USER_URN], "userName": user["userName"], "displayName": "Two"},
        headers={**live_stack.scim_headers(), "If-Match": 'W/"2"'},
    )

    _assert_scim_error(stale, 412)
    assert current.status_code == 200
    assert current.json()["displayName"] == "Two"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("//Users", id="double-slash"),
        pytest.param("/Users/", id="trailing-slash"),
        pytest.param("///Users//", id="many-slashes"),
    ],
)
def test_slashes_route_like_the_plain_path(live_stack: LiveStack, path: str) -> None:
    response = httpx.get(f"{live_stack.scim_base}{path}", params={"count": 1}, headers=live_stack.scim_headers())

    assert response.status_code == 200
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]


def test_a_user_path_with_a_trailing_slash_routes_to_the_user(live_stack: LiveStack) -> None:
    user = _create(live_stack)

    response = httpx.get(f"{live_stack.scim_base}//Users/{user['id']}/", headers=live_stack.scim_headers())

    assert response.status_code == 200
    assert response.json()["id"] == user["id"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/Nothing", 404, id="unknown-endpoint"),
        pytest.param("GET", "/Users/00000000-0000-0000-0000-000000000000", 404, id="unknown-user"),
        pytest.param("GET", "/Users/not-a-uuid", 404, id="malformed-id"),
        pytest.param("DELETE", "/Schemas", 405, id="write-to-discovery"),
        pytest.param("POST", "/ResourceTypes", 405, id="post-to-resource-types"),
        pytest.param("POST", "/Groups", 501, id="group-write"),
        pytest.param("GET", "/Me", 501, id="me"),
        pytest.param("POST", "/Bulk", 501, id="bulk"),
    ],
)
def test_errors_are_scim_errors(live_stack: LiveStack, method: str, path: str, status: int) -> None:
    response = httpx.request(method, f"{live_stack.scim_base}{path}", headers=live_stack.scim_headers(), content=b"{}")

    _assert_scim_error(response, status)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer scim_unknown", id="unknown-token"),
        pytest.param("Basic dXNlcjpwYXNz", id="basic-auth"),
        pytest.param("Bearer", id="empty-bearer"),
    ],
)
def test_requests_without_a_live_token_are_401(live_stack: LiveStack, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = httpx.get(f"{live_stack.scim_base}/Users", headers=headers)

    _assert_scim_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_revoked_token_is_401(live_stack: LiveStack) -> None:
    org_id, token = live_stack.new_tenant("revoked")
    tokens = httpx.get(f"{live_stack.admin_base}/orgs/{org_id}/tokens", headers=live_stack.admin_headers()).json()
    token_id = tokens["tokens"][0]["id"]

    revoked = httpx.delete(f"{live_stack.admin_base}/tokens/{token_id}", headers=live_stack.admin_headers())
    response = httpx.get(f"{live_stack.scim_base}/Users", headers={"Authorization": f"Bearer {token}"})

    assert revoked.status_code == 204
    _assert_scim_error(response, 401)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"provisioning_enabled": False}, id="provisioning-off"),
        pytest.param({"subscription_active": False}, id="subscription-inactive"),
    ],
)
def test_tenants_that_may_not_provision_get_403(live_stack: LiveStack, change: dict[str, bool]) -> None:
    org_id, token = live_stack.new_tenant("forbidden")
    httpx.patch(f"{live_stack.admin_base}/orgs/{org_id}", json=change, headers=live_stack.admin_headers())

    response = httpx.get(f"{live_stack.scim_base}/Users", headers={"Authorization": f"Bearer {token}"})

    _assert_scim_error(response, 403)


def test_another_tenants_user_is_404(live_stack: LiveStack) -> None:
    _, other_token = live_stack.new_tenant("other tenant")
    user = _create(live_stack)

    response = httpx.get(
        f"{live_stack.scim_base}/Users/{user['id']}", headers={"Authorization": f"Bearer {other_token}"}
    )

    _assert_scim_error(response, 404)


def test_a_body_over_the_limit_is_413(live_stack: LiveStack) -> None:
    body = b'{"userName": "' + b"a" * (1024 * 1024 + 10) + b'"}'

    response = httpx.post(f"{live_stack.scim_base}/Users", content=body, headers=live_stack.scim_headers())

    _assert_scim_error(response, 413)


def test_an_email_outside_the_sso_domains_is_invalid_value(live_stack: LiveStack) -> None:
    response = httpx.post(
        f"{live_stack.scim_base}/Users",
        json={"schemas": [USER_URN], "userName": "someone@elsewhere.test"},
        headers=live_stack.scim_headers(),
    )

    _assert_scim_error(response, 400, "invalidValue")


def test_plain_json_requests_are_accepted(live_stack: LiveStack) -> None:
    response = httpx.post(
        f"{live_stack.scim_base}/Users",
        content=f'{{"userName": "{_email()}"}}'.encode(),
        headers={**live_stack.scim_headers(), "Content-Type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 201
    assert response.headers["content-type"].startswith(SCIM_JSON)


def test_attributes_and_excluded_attributes_shape_reads(live_stack: LiveStack) -> None:
    user = _create(live_stack)
    url = f"{live_stack.scim_base}/Users/{user['id']}"

    only = httpx.get(url, params={"attributes": "displayName,emails.value"}, headers=live_stack.scim_headers()).json()
    without = httpx.get(url, params={"excludedAttributes": "emails,meta"}, headers=live_stack.scim_headers()).json()

    assert set(only) == {"schemas", "id", "userName", "emails"}
    assert only["emails"] == [{"value": user["userName"]}]
    assert "emails" not in without
    assert "meta" not in without
    assert without["active"] is True


def test_search_by_post_matches_the_get_listing(live_stack: LiveStack) -> None:
    user = _create(live_stack)
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": f'userName eq "{user["userName"]}"',
        "attributes": ["userName"],
    }

    response = httpx.post(f"{live_stack.scim_base}/Users/.search", json=search, headers=live_stack.scim_headers())

    assert response.status_code == 200
    assert response.json()["totalResults"] == 1
    assert response.json()["Resources"][0] == {"schemas": [USER_URN], "id": user["id"], "userName": user["userName"]}


def test_sort_by_user_name_descending(live_stack: LiveStack) -> None:
    tag = secrets.token_hex(3)
    for prefix in ("b", "a", "c"):
        _create(live_stack, f"{prefix}.{tag}@example.com")

    response = httpx.get(
        f"{live_stack.scim_base}/Users",
        params={"filter": f'userName ew ".{tag}@example.com"', "sortBy": "userName", "sortOrder": "descending"},
        headers=live_stack.scim_headers(),
    )

    assert [resource["userName"][0] for resource in response.json()["Resources"]] == ["c", "b", "a"]


def test_count_above_the_maximum_is_lowered(live_stack: LiveStack) -> None:
    response = httpx.get(f"{live_stack.scim_base}/Users", params={"count": 10**9}, headers=live_stack.scim_headers())

    assert response.status_code == 200
    assert response.json()["itemsPerPage"] <= 1000


def test_service_provider_config_describes_the_service(live_stack: LiveStack) -> None:
    config = httpx.get(f"{live_stack.scim_base}/ServiceProviderConfig", headers=live_stack.scim_headers()).json()
    schema = httpx.get(f"{live_stack.scim_base}/Schemas/{USER_URN}", headers=live_stack.scim_headers()).json()

    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert config["etag"]["supported"] is True
    mutability = {attribute["name"]: attribute["mutability"] for attribute in schema["attributes"]}
    assert mutability["userName"] == "immutable"
    assert mutability["emails"] == "immutable"
    assert mutability["id"] == "readOnly"


def test_every_response_carries_a_request_id(live_stack: LiveStack) -> None:
    response = httpx.get(
        f"{live_stack.scim_base}/Users", headers={**live_stack.scim_headers(), "X-Request-Id": "abc-123"}
    )

    assert response.headers["x-request-id"] == "abc-123"


def test_a_user_is_found_by_the_exact_timestamps_it_was_shown_with(live_stack: LiveStack) -> None:
    user = _create(live_stack)
    changed = httpx.patch(
        f"{live_stack.scim_base}/Users/{user['id']}",
        json={"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "displayName", "value": "Later"}]},
        headers=live_stack.scim_headers(),
    ).json()
    query = f'meta.created eq "{user["meta"]["created"]}" and meta.lastModified eq "{changed["meta"]["lastModified"]}"'

    found = httpx.get(f"{live_stack.scim_base}/Users", params={"filter": query}, headers=live_stack.scim_headers())

    assert [resource["id"] for resource in found.json()["Resources"]] == [user["id"]]


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        pytest.param("application/xml", b"<User/>", 415, id="xml"),
        pytest.param("application/x-www-form-urlencoded", b"userName=a", 415, id="form"),
        pytest.param("application/scim+json; charset=ISO-8859-1", None, 201, id="latin-1"),
        pytest.param("application/json", None, 201, id="utf-8-bom"),
        pytest.param("application/scim+json; charset=klingon", b"{}", 415, id="unknown-charset"),
    ],
)
def test_bodies_are_read_as_declared(live_stack: LiveStack, content_type: str, body: bytes | None, status: int) -> None:
    address = f"jos\u00e9.{secrets.token_hex(3)}@example.com"
    if body is None and "ISO-8859-1" in content_type:
        body = f'{{"userName": "{address}"}}'.encode("latin-1")
    elif body is None:
        body = b"\xef\xbb\xbf" + f'{{"userName": "{address}"}}'.encode()

    response = httpx.post(
        f"{live_stack.scim_base}/Users",
        content=body,
        headers={"Authorization": f"Bearer {live_stack.scim_token}", "Content-Type": content_type},
    )

    if status == 201:
        assert response.status_code == 201, response.text
        assert response.json()["userName"] == address
    else:
        _assert_scim_error(response, status)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"userName": "deep@example.com", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}", id="deep-json"),
        pytest.param(b'{"userName": "long@example.com", "externalId": "' + b"x" * 3000 + b'"}', id="long-external-id"),
        pytest.param('{"userName": "a\u202eb@example.com"}'.encode(), id="invisible-character"),
    ],
)
def test_hostile_bodies_are_400(live_stack: LiveStack, body: bytes) -> None:
    response = httpx.post(f"{live_stack.scim_base}/Users", content=body, headers=live_stack.scim_headers())

    _assert_scim_error(response, 400)


def test_a_malformed_group_filter_is_invalid_filter(live_stack: LiveStack) -> None:
    response = httpx.get(
        f"{live_stack.scim_base}/Groups", params={"filter": "garbage(("}, headers=live_stack.scim_headers()
    )

    _assert_scim_error(response, 400, "invalidFilter")


def test_invented_methods_do_not_grow_the_metrics(live_stack: LiveStack) -> None:
    httpx.request("INVENTED", f"{live_stack.scim_base}/nowhere")

    metrics = httpx.get(f"{live_stack.api.base_url}/metrics")

    assert 'method="INVENTED"' not in metrics.text
    assert 'method="other"' in metrics.text
    assert metrics.headers["content-type"].count("charset") == 1


@pytest.fixture(scope="module")
def impatient_api(test_services: TestServices, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """An API of its own that waits one second for a request body."""
    env = test_services.environment(SCIM_BODY_TIMEOUT_SECONDS="1")
    api = ServiceProcess("api", env, tmp_path_factory.mktemp("impatient") / "api.log", port=free_port()).start()
    yield api
    api.stop()


def _send_stalled_body(api: ServiceProcess, path: str, token: str) -> tuple[float, bytes]:
    """Declare a 1000-byte body, send one byte, stop; return the seconds until the answer and the answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", api.port or 0), timeout=20) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    return time.monotonic() - started, answer


def test_a_body_that_stops_arriving_is_answered_408(impatient_api: ServiceProcess, live_stack: LiveStack) -> None:
    seconds, answer = _send_stalled_body(impatient_api, "/scim/v2/Users", live_stack.scim_token)

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:500]
    assert SCIM_JSON.encode() in head.lower()
    error = json.loads(body)
    assert error["status"] == "408"
    assert "did not arrive within 1 s" in error["detail"]
    assert 0.9 < seconds < 10


def test_a_slow_but_complete_body_is_read(impatient_api: ServiceProcess, live_stack: LiveStack) -> None:
    email = _email()
    body = json.dumps({"schemas": [USER_URN], "userName": email}).encode()
    with socket.create_connection(("127.0.0.1", impatient_api.port or 0), timeout=20) as connection:
        connection.sendall(
            f"POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {live_stack.scim_token}\r\n"
            f"Content-Type: application/scim+json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        connection.sendall(body[:10])
        time.sleep(0.3)
        connection.sendall(body[10:])
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk

    assert answer.startswith(b"HTTP/1.1 201"), answer[:500]


def test_head_answers_like_get_without_a_body(live_stack: LiveStack) -> None:
    user = _create(live_stack)
    url = f"{live_stack.scim_base}/Users/{user['id']}"

    got = httpx.get(url, headers=live_stack.scim_headers())
    head = httpx.head(url, headers=live_stack.scim_headers())
    anonymous = httpx.head(url)

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["etag"] == got.headers["etag"]
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        pytest.param("OPTIONS", "/Users", "GET, HEAD, OPTIONS, POST", id="options-collection"),
        pytest.param("OPTIONS", "/Users/{id}", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT", id="options-resource"),
        pytest.param("DELETE", "/Users", "GET, HEAD, OPTIONS, POST", id="405-collection"),
        pytest.param("POST", "/Users/{id}", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT", id="405-resource"),
        pytest.param("PUT", "/ServiceProviderConfig", "GET, HEAD, OPTIONS", id="405-discovery"),
    ],
)
def test_options_and_405_name_the_allowed_methods(live_stack: LiveStack, method: str, path: str, allow: str) -> None:
    user = _create(live_stack)

    response = httpx.request(
        method, live_stack.scim_base + path.replace("{id}", user["id"]), headers=live_stack.scim_headers()
    )

    assert response.status_code in (200, 204, 405)
    assert response.status_code != 405 or method != "OPTIONS"
    assert response.headers["allow"] == allow
    if response.status_code == 405:
        _assert_scim_error(response, 405)


@pytest.mark.parametrize("path", [pytest.param("", id="plain"), pytest.param("/", id="trailing-slash")])
def test_the_base_url_is_an_index_of_discovery_that_claims_no_schema(live_stack: LiveStack, path: str) -> None:
    response = httpx.get(f"{live_stack.scim_base}{path}", headers=live_stack.scim_headers())

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(SCIM_JSON)
    assert "schemas" not in response.json()
    assert response.json()["serviceProviderConfig"] == f"{live_stack.scim_base}/ServiceProviderConfig"


@pytest.mark.parametrize(
    ("coding", "status"),
    [
        pytest.param("gzip", 415, id="gzip"),
        pytest.param("br", 415, id="brotli"),
        pytest.param("identity", 201, id="identity"),
    ],
)
def test_a_compressed_body_is_415_not_misread(live_stack: LiveStack, coding: str, status: int) -> None:
    body = json.dumps({"userName": _email()}).encode()
    if coding == "gzip":
        body = gzip.compress(body)

    response = httpx.post(
        f"{live_stack.scim_base}/Users", content=body, headers={**live_stack.scim_headers(), "Content-Encoding": coding}
    )

    if status == 201:
        assert response.status_code == 201, response.text
    else:
        _assert_scim_error(response, 415)
        assert coding in response.json()["detail"]


_HOST_DETAIL = "the Host header is not a valid host[:port]"


@pytest.mark.parametrize(
    ("host", "detail"),
    [
        pytest.param("x:99999", _HOST_DETAIL, id="port-out-of-range"),
        pytest.param("x:abc", _HOST_DETAIL, id="port-not-a-number"),
        pytest.param("x:-1", _HOST_DETAIL, id="negative-port"),
        pytest.param("::::", _HOST_DETAIL, id="colons"),
        # The framework refuses these itself, before any route.
        pytest.param("a b", "the request is malformed", id="space"),
        pytest.param("evil.example/path", "the request is malformed", id="path"),
    ],
)
def test_a_malformed_host_is_400_before_any_write(live_stack: LiveStack, host: str, detail: str) -> None:
    email = _email()
    user = _create(live_stack)
    headers = {**live_stack.scim_headers(), "Host": host}

    created = httpx.post(f"{live_stack.scim_base}/Users", json={"userName": email}, headers=headers)
    patched = httpx.patch(
        f"{live_stack.scim_base}/Users/{user['id']}",
        json={"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": False}]},
        headers=headers,
    )
    found = httpx.get(
        f"{live_stack.scim_base}/Users", params={"filter": f'userName eq "{email}"'}, headers=live_stack.scim_headers()
    )
    after = httpx.get(f"{live_stack.scim_base}/Users/{user['id']}", headers=live_stack.scim_headers())

    for response in (created, patched):
        _assert_scim_error(response, 400)
        assert response.json()["detail"] == detail
    assert found.json()["totalResults"] == 0
    assert after.json()["active"] is True
    assert after.json()["meta"]["version"] == user["meta"]["version"]


@pytest.mark.parametrize(
    ("host", "location"),
    [
        pytest.param("scim.example.com", "http://scim.example.com/scim/v2/Users/", id="name"),
        pytest.param("scim.example.com:8443", "http://scim.example.com:8443/scim/v2/Users/", id="name-and-port"),
        pytest.param("[::1]:8000", "http://[::1]:8000/scim/v2/Users/", id="ipv6"),
    ],
)
def test_locations_are_built_from_a_valid_host(live_stack: LiveStack, host: str, location: str) -> None:
    response = httpx.post(
        f"{live_stack.scim_base}/Users",
        json={"userName": _email()},
        headers={**live_stack.scim_headers(), "Host": host},
    )

    assert response.status_code == 201, response.text
    assert response.headers["location"] == location + response.json()["id"]
