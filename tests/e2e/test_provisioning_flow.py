"""The main job end to end: IdP → SCIM API → PostgreSQL → relay → Redis → worker → team and sessions."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
import redis

from shared.db import Pool
from tests.conftest import LiveStack, TestServices
from tests.support.stack import wait_until

pytestmark = pytest.mark.e2e


def _create_user(stack: LiveStack, email: str, **extra: Any) -> dict[str, Any]:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": True,
        **extra,
    }
    response = httpx.post(f"{stack.scim_base}/Users", json=body, headers=stack.scim_headers())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _sign_in(stack: LiveStack, email: str) -> httpx.Response:
    return httpx.post(
        f"{stack.admin_base}/orgs/{stack.org_id}/sessions", json={"email": email}, headers=stack.admin_headers()
    )


def _session(stack: LiveStack, token: str) -> httpx.Response:
    return httpx.get(f"{stack.admin_base}/session", headers={"Authorization": f"Bearer {token}"})


def _member_ids(stack: LiveStack) -> set[str]:
    response = httpx.get(f"{stack.admin_base}/orgs/{stack.org_id}/members", headers=stack.admin_headers())
    response.raise_for_status()
    return {member["user_id"] for member in response.json()["members"]}


def _deactivate(stack: LiveStack, user_id: str) -> httpx.Response:
    return httpx.patch(
        f"{stack.scim_base}/Users/{user_id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        },
        headers=stack.scim_headers(),
    )


async def _live_sessions(db_pool: Pool, user_id: str) -> int:
    async with db_pool.acquire() as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM sessions WHERE user_id = $1::uuid AND revoked_at IS NULL", user_id
        )
    return count


async def _worker_audit(db_pool: Pool, user_id: str) -> list[str]:
    async with db_pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT action FROM audit_log WHERE target_user_id = $1::uuid AND actor_type = 'worker' ORDER BY id",
            user_id,
        )
    return [row["action"] for row in rows]


def _stream_types(test_services: TestServices, user_id: str) -> list[str]:
    client = redis.Redis.from_url(test_services.redis_url)
    try:
        entries: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(f"{test_services.redis_prefix}scim:events")  # type: ignore[assignment]  # the sync client returns the list
    finally:
        client.close()
    return [fields[b"type"].decode() for _, fields in entries if fields[b"user_id"].decode() == user_id]


async def test_deactivating_a_member_cuts_access_at_once_and_the_worker_removes_the_seat(
    live_stack: LiveStack, db_pool: Pool, test_services: TestServices
) -> None:
    email = f"member.{secrets.token_hex(4)}@example.com"
    user = _create_user(live_stack, email)
    signed_in = _sign_in(live_stack, email)
    assert signed_in.status_code == 201, signed_in.text
    session_token = signed_in.json()["session_token"]
    assert _session(live_stack, session_token).status_code == 200
    assert user["id"] in _member_ids(live_stack)

    response = _deactivate(live_stack, user["id"])

    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert _session(live_stack, session_token).status_code == 401
    refused = _sign_in(live_stack, email)
    assert refused.status_code == 403
    assert refused.json()["error"] == "user_deactivated"
    wait_until(lambda: user["id"] not in _member_ids(live_stack), timeout=10, what="the seat to be removed")
    assert await _live_sessions(db_pool, user["id"]) == 0
    assert await _worker_audit(db_pool, user["id"]) == ["member.removed", "sessions.revoked"]
    assert _stream_types(test_services, user["id"]).count("user.deactivated") == 1


def test_reactivated_user_rejoins_the_team_at_the_next_sign_in(live_stack: LiveStack) -> None:
    email = f"rejoin.{secrets.token_hex(4)}@example.com"
    user = _create_user(live_stack, email)
    assert _sign_in(live_stack, email).status_code == 201
    _deactivate(live_stack, user["id"])
    wait_until(lambda: user["id"] not in _member_ids(live_stack), timeout=10, what="the seat to be removed")

    reactivated = httpx.patch(
        f"{live_stack.scim_base}/Users/{user['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": True}}],
        },
        headers=live_stack.scim_headers(),
    )

    assert reactivated.json()["active"] is True
    assert user["id"] not in _member_ids(live_stack)
    assert _sign_in(live_stack, email).status_code == 201
    assert user["id"] in _member_ids(live_stack)


async def test_a_worker_killed_mid_run_loses_nothing(live_stack: LiveStack, db_pool: Pool) -> None:
    users = []
    for _ in range(20):
        email = f"killed.{secrets.token_hex(4)}@example.com"
        user = _create_user(live_stack, email)
        assert _sign_in(live_stack, email).status_code == 201
        users.append(user["id"])

    live_stack.worker.kill()
    for user_id in users:
        assert _deactivate(live_stack, user_id).status_code == 200
    live_stack.worker.start()

    wait_until(lambda: not (_member_ids(live_stack) & set(users)), timeout=60, what="every seat to be removed")
    for user_id in users:
        assert await _live_sessions(db_pool, user_id) == 0
        assert await _worker_audit(db_pool, user_id) == ["member.removed", "sessions.revoked"]


def test_a_user_created_by_sign_in_is_found_by_filter_and_linked_by_put(live_stack: LiveStack) -> None:
    email = f"sso.{secrets.token_hex(4)}@example.com"
    signed_in = _sign_in(live_stack, email)
    assert signed_in.status_code == 201
    user_id = signed_in.json()["user_id"]

    found = httpx.get(
        f"{live_stack.scim_base}/Users",
        params={"filter": f'userName eq "{email.upper()}"'},
        headers=live_stack.scim_headers(),
    )
    assert found.status_code == 200
    assert [resource["id"] for resource in found.json()["Resources"]] == [user_id]

    linked = httpx.put(
        f"{live_stack.scim_base}/Users/{user_id}",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "externalId": "00u-import-1",
            "name": {"givenName": "Sam", "familyName": "Signer"},
            "emails": [{"value": email, "primary": True}],
        },
        headers=live_stack.scim_headers(),
    )

    assert linked.status_code == 200, linked.text
    assert linked.json()["externalId"] == "00u-import-1"
    assert linked.json()["active"] is True
    assert user_id in _member_ids(live_stack)
