"""The internal API under /api/v1 over real HTTP."""

from __future__ import annotations

import secrets
import uuid

import httpx
import pytest

from tests.conftest import LiveStack
from tests.support.stack import wait_until

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Authorization": "Bearer wrong"}, id="wrong"),
    ],
)
def test_the_admin_api_needs_the_admin_token(live_stack: LiveStack, headers: dict[str, str]) -> None:
    response = httpx.get(f"{live_stack.admin_base}/orgs", headers=headers)

    assert response.status_code == 401
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"name": "x"}', id="missing-domains"),
        pytest.param(b'{"name": "x", "sso_domains": ["not a domain"]}', id="bad-domain"),
        pytest.param(b'{"name": "x", "sso_domains": ["a.com"], "colour": "red"}', id="unknown-field"),
    ],
)
def test_a_bad_organization_body_is_400(live_stack: LiveStack, body: bytes) -> None:
    response = httpx.post(f"{live_stack.admin_base}/orgs", content=body, headers=live_stack.admin_headers())

    assert response.status_code == 400
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param(
            {"name": "   ", "sso_domains": ["e.example"]}, "the organization name must not be empty", id="blank"
        ),
        pytest.param(
            {"name": "n", "sso_domains": []},
            "an organization needs at least one SSO domain: only emails in them can join",
            id="no-domain",
        ),
        pytest.param({"name": "n", "sso_domains": [" @ "]}, "not an email domain: ' @ '", id="empty-domain"),
    ],
)
def test_an_organization_that_could_not_work_is_refused_saying_why(
    live_stack: LiveStack, body: dict[str, object], detail: str
) -> None:
    response = httpx.post(f"{live_stack.admin_base}/orgs", json=body, headers=live_stack.admin_headers())

    assert response.status_code == 400, response.text
    assert response.json() == {"error": "invalidValue", "detail": detail}


def test_an_update_cannot_remove_every_sso_domain(live_stack: LiveStack) -> None:
    org_id, _ = live_stack.new_tenant("keeps its domains", domains=["keep.example"])
    url = f"{live_stack.admin_base}/orgs/{org_id}"

    response = httpx.patch(url, json={"sso_domains": []}, headers=live_stack.admin_headers())
    after = httpx.get(url, headers=live_stack.admin_headers()).json()

    assert response.status_code == 400
    assert "at least one SSO domain" in response.json()["detail"]
    assert after["sso_domains"] == ["keep.example"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/orgs/{org}", id="get"),
        pytest.param("PATCH", "/orgs/{org}", id="update"),
        pytest.param("GET", "/orgs/{org}/members", id="members"),
        pytest.param("GET", "/orgs/{org}/tokens", id="tokens"),
        pytest.param("POST", "/orgs/{org}/tokens", id="new-token"),
    ],
)
def test_an_unknown_organization_is_404(live_stack: LiveStack, method: str, path: str) -> None:
    response = httpx.request(
        method, f"{live_stack.admin_base}{path.format(org=uuid.uuid4())}", json={}, headers=live_stack.admin_headers()
    )

    assert response.status_code == 404
    assert response.json() == {"error": "error", "detail": "no such organization"}


@pytest.mark.parametrize(
    ("method", "path", "detail"),
    [
        pytest.param("GET", "/orgs/not-a-uuid", "'not-a-uuid' is not a valid organization id", id="get-org"),
        pytest.param("PATCH", "/orgs/not-a-uuid", "'not-a-uuid' is not a valid organization id", id="update-org"),
        pytest.param("GET", "/orgs/42/members", "'42' is not a valid organization id", id="members"),
        pytest.param("POST", "/orgs/x/sessions", "'x' is not a valid organization id", id="sign-in"),
        pytest.param("DELETE", "/tokens/not-a-uuid", "'not-a-uuid' is not a valid token id", id="revoke-token"),
    ],
)
def test_a_malformed_id_in_the_path_is_404_saying_so(
    live_stack: LiveStack, method: str, path: str, detail: str
) -> None:
    response = httpx.request(method, f"{live_stack.admin_base}{path}", json={}, headers=live_stack.admin_headers())

    assert response.status_code == 404
    assert response.json() == {"error": "error", "detail": f"{detail}: ids are UUIDs"}


def test_a_malformed_id_without_the_admin_token_is_401(live_stack: LiveStack) -> None:
    response = httpx.get(f"{live_stack.admin_base}/orgs/not-a-uuid/tokens")

    assert response.status_code == 401


def test_members_of_an_organization_are_listed(live_stack: LiveStack) -> None:
    org_id, _ = live_stack.new_tenant("members listed")
    email = f"member.{secrets.token_hex(4)}@example.com"
    signed_in = httpx.post(
        f"{live_stack.admin_base}/orgs/{org_id}/sessions", json={"email": email}, headers=live_stack.admin_headers()
    )

    response = httpx.get(f"{live_stack.admin_base}/orgs/{org_id}/members", headers=live_stack.admin_headers())

    assert signed_in.status_code == 201, signed_in.text
    assert response.status_code == 200
    assert [(member["email"], member["role"]) for member in response.json()["members"]] == [(email, "member")]


def test_sign_in_to_an_unknown_organization_is_404(live_stack: LiveStack) -> None:
    response = httpx.post(
        f"{live_stack.admin_base}/orgs/{uuid.uuid4()}/sessions",
        json={"email": "a@example.com"},
        headers=live_stack.admin_headers(),
    )

    assert response.status_code == 404


def test_sign_in_outside_the_sso_domains_is_400(live_stack: LiveStack) -> None:
    response = httpx.post(
        f"{live_stack.admin_base}/orgs/{live_stack.org_id}/sessions",
        json={"email": "a@elsewhere.test"},
        headers=live_stack.admin_headers(),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalidValue"


def test_event_replay_pages_through_the_log_in_order(live_stack: LiveStack) -> None:
    org_id, token = live_stack.new_tenant("replay")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    for _ in range(5):
        email = f"replay.{secrets.token_hex(4)}@example.com"
        assert httpx.post(f"{live_stack.scim_base}/Users", json={"userName": email}, headers=headers).status_code == 201

    seen: list[str] = []
    after: str | None = None
    while True:
        params = {"org_id": org_id, "limit": "2", **({"after": after} if after else {})}
        page = httpx.get(f"{live_stack.admin_base}/events", params=params, headers=live_stack.admin_headers()).json()
        seen.extend(event["id"] for event in page["events"])
        after = page["next_after"]
        if after is None:
            break

    assert len(seen) == 5
    assert seen == sorted(seen)


def test_audit_records_name_the_token_but_never_contain_it(live_stack: LiveStack) -> None:
    org_id, token = live_stack.new_tenant("audited")
    email = f"audit.{secrets.token_hex(4)}@example.com"
    httpx.post(
        f"{live_stack.scim_base}/Users",
        json={"userName": email},
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": "audit-req-1"},
    )

    def created_record() -> bool:
        records = httpx.get(
            f"{live_stack.admin_base}/audit",
            params={"org_id": org_id, "action": "user.created"},
            headers=live_stack.admin_headers(),
        ).json()["records"]
        return len(records) == 1

    wait_until(created_record, timeout=5, what="the audit record")
    response = httpx.get(
        f"{live_stack.admin_base}/audit", params={"org_id": org_id}, headers=live_stack.admin_headers()
    )
    records = response.json()["records"]

    assert token not in response.text
    created = next(record for record in records if record["action"] == "user.created")
    assert created["actor_type"] == "scim_token"
    assert created["request_id"] == "audit-req-1"
    assert "userName" in created["changed"]
    assert {record["action"] for record in records} >= {"organization.created", "token.created", "user.created"}


def test_an_invalid_session_token_is_401(live_stack: LiveStack) -> None:
    response = httpx.get(f"{live_stack.admin_base}/session", headers={"Authorization": "Bearer sess_nope"})

    assert response.status_code == 401


def test_health_and_readiness_answer(live_stack: LiveStack) -> None:
    assert httpx.get(f"{live_stack.api.base_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{live_stack.api.base_url}/readyz").json()
    assert ready == {"status": "ready", "database": "ok", "redis": "ok"}
    metrics = httpx.get(f"{live_stack.api.base_url}/metrics").text
    assert "scim_events_published_total" in metrics
    assert "scim_http_requests_total" in metrics


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", "/orgs", {"name": "", "sso_domains": ["e.example"]}, id="empty-name"),
        pytest.param("POST", "/orgs", {"name": "a\u0000b", "sso_domains": ["e.example"]}, id="nul-in-name"),
        pytest.param("POST", "/orgs", {"name": "n", "sso_domains": ["a\u0000.example"]}, id="nul-in-domain"),
        pytest.param("POST", "/orgs/{org}/tokens", {"label": "a\u0000"}, id="nul-in-label"),
        pytest.param("POST", "/orgs/{org}/sessions", {"email": "a\u0000@example.com"}, id="nul-in-email"),
        pytest.param("PATCH", "/orgs/{org}", {"sso_domains": ["a\u0000.example"]}, id="nul-in-new-domain"),
    ],
)
def test_unstorable_admin_input_is_400(live_stack: LiveStack, method: str, path: str, body: dict[str, object]) -> None:
    response = httpx.request(
        method,
        f"{live_stack.admin_base}{path.format(org=live_stack.org_id)}",
        json=body,
        headers=live_stack.admin_headers(),
    )

    assert response.status_code == 400, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"after": "99999999999999999999999"}, id="after-overflow"),
        pytest.param({"after": "-1"}, id="after-negative"),
        pytest.param({"action": "\u0000"}, id="nul-in-action"),
        pytest.param({"org_id": "not-a-uuid"}, id="bad-org-id"),
    ],
)
def test_bad_audit_queries_are_400(live_stack: LiveStack, params: dict[str, str]) -> None:
    response = httpx.get(f"{live_stack.admin_base}/audit", params=params, headers=live_stack.admin_headers())

    assert response.status_code == 400, response.text
