"""The main job end to end: IdP → SCIM API → PostgreSQL → relay → Redis → worker → team and sessions."""

from __future__ import annotations

import httpx
import pytest
import redis

from shared.db import Pool
from tests.conftest import LiveStack, TestServices
from tests.support.flows import (
    create_user,
    deactivate,
    live_sessions,
    member_ids,
    new_email,
    session,
    set_active,
    sign_in,
    worker_audit,
)
from tests.support.invariants import check_event_invariants
from tests.support.stack import wait_until

pytestmark = pytest.mark.e2e


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
    email = new_email("member")
    user = create_user(live_stack, email)
    signed_in = sign_in(live_stack, email)
    assert signed_in.status_code == 201, signed_in.text
    session_token = signed_in.json()["session_token"]
    assert session(live_stack, session_token).status_code == 200
    assert user["id"] in member_ids(live_stack)

    response = deactivate(live_stack, user["id"])

    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert session(live_stack, session_token).status_code == 401
    refused = sign_in(live_stack, email)
    assert refused.status_code == 403
    assert refused.json()["error"] == "user_deactivated"
    wait_until(lambda: user["id"] not in member_ids(live_stack), timeout=10, what="the seat to be removed")
    assert await live_sessions(db_pool, user["id"]) == 0
    assert await worker_audit(db_pool, user["id"]) == ["member.removed", "sessions.revoked"]
    assert _stream_types(test_services, user["id"]).count("user.deactivated") == 1
    await check_event_invariants(db_pool, live_stack.org_id)


async def test_reactivated_user_rejoins_the_team_at_the_next_sign_in(live_stack: LiveStack, db_pool: Pool) -> None:
    email = new_email("rejoin")
    user = create_user(live_stack, email)
    assert sign_in(live_stack, email).status_code == 201
    deactivate(live_stack, user["id"])
    wait_until(lambda: user["id"] not in member_ids(live_stack), timeout=10, what="the seat to be removed")

    reactivated = set_active(live_stack, user["id"], True)

    assert reactivated.json()["active"] is True
    assert user["id"] not in member_ids(live_stack)
    assert sign_in(live_stack, email).status_code == 201
    assert user["id"] in member_ids(live_stack)
    await check_event_invariants(db_pool, live_stack.org_id)


async def test_deactivations_made_while_the_worker_is_down_are_applied_when_it_returns(
    live_stack: LiveStack, db_pool: Pool
) -> None:
    users = []
    for _ in range(20):
        email = new_email("killed")
        user = create_user(live_stack, email)
        assert sign_in(live_stack, email).status_code == 201
        users.append(user["id"])

    live_stack.worker.kill()
    for user_id in users:
        assert deactivate(live_stack, user_id).status_code == 200
    live_stack.worker.start()

    wait_until(lambda: not (member_ids(live_stack) & set(users)), timeout=60, what="every seat to be removed")
    for user_id in users:
        assert await live_sessions(db_pool, user_id) == 0
        assert await worker_audit(db_pool, user_id) == ["member.removed", "sessions.revoked"]
    await check_event_invariants(db_pool, live_stack.org_id)


async def test_a_user_created_by_sign_in_is_found_by_filter_and_linked_by_put(
    live_stack: LiveStack, db_pool: Pool
) -> None:
    email = new_email("sso")
    signed_in = sign_in(live_stack, email)
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
    assert user_id in member_ids(live_stack)
    await check_event_invariants(db_pool, live_stack.org_id)
