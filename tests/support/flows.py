"""What an IdP and the dashboard do against a running API, and what the tests read back from PostgreSQL."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from shared.db import Pool
from tests.conftest import LiveStack

__all__ = [
    "create_user",
    "deactivate",
    "live_sessions",
    "member_ids",
    "new_email",
    "session",
    "set_active",
    "sign_in",
    "worker_audit",
]


def new_email(label: str = "user") -> str:
    """A fresh address in the test tenants' SSO domain."""
    return f"{label}.{secrets.token_hex(4)}@example.com"


def create_user(stack: LiveStack, email: str, **extra: Any) -> dict[str, Any]:
    """Provision a user over SCIM; fail the test unless it answers 201."""
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


def sign_in(stack: LiveStack, email: str) -> httpx.Response:
    """SSO sign-in through the internal API."""
    return httpx.post(
        f"{stack.admin_base}/orgs/{stack.org_id}/sessions", json={"email": email}, headers=stack.admin_headers()
    )


def session(stack: LiveStack, token: str) -> httpx.Response:
    """The dashboard's session check."""
    return httpx.get(f"{stack.admin_base}/session", headers={"Authorization": f"Bearer {token}"})


def member_ids(stack: LiveStack) -> set[str]:
    """The ids of the users who hold a seat in the stack's tenant."""
    response = httpx.get(f"{stack.admin_base}/orgs/{stack.org_id}/members", headers=stack.admin_headers())
    response.raise_for_status()
    return {member["user_id"] for member in response.json()["members"]}


def set_active(stack: LiveStack, user_id: str, active: bool) -> httpx.Response:
    """A path-less PATCH of ``active``, as Okta and JumpCloud send it."""
    return httpx.patch(
        f"{stack.scim_base}/Users/{user_id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": active}}],
        },
        headers=stack.scim_headers(),
    )


def deactivate(stack: LiveStack, user_id: str) -> httpx.Response:
    return set_active(stack, user_id, False)


async def live_sessions(db_pool: Pool, user_id: str) -> int:
    """How many of the user's sessions are not revoked."""
    async with db_pool.acquire() as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM sessions WHERE user_id = $1::uuid AND revoked_at IS NULL", user_id
        )
    return count


async def worker_audit(db_pool: Pool, user_id: str) -> list[str]:
    """The actions the worker audited for the user, oldest first."""
    async with db_pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT action FROM audit_log WHERE target_user_id = $1::uuid AND actor_type = 'worker' ORDER BY id",
            user_id,
        )
    return [row["action"] for row in rows]
