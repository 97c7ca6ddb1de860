from __future__ import annotations

import uuid

import pytest

from shared.db import Pool
from shared.domain import Organization
from shared.repositories import members
from shared.scim.errors import InvalidValueError, NotFoundError
from shared.services.access import AccessService, SignInRefusedError
from shared.services.provisioning import ProvisioningService
from shared.services.tenants import TenantService
from tests.shared.services.conftest import SCIM, new_email, provision, set_active


async def test_first_sign_in_of_a_provisioned_user_joins_the_team(
    access: AccessService, provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)

    grant = await access.sign_in(org.id, user.attributes.email.upper())

    assert grant.user_id == user.id
    assert not grant.created_user
    assert grant.joined_team
    async with db_pool.acquire() as connection:
        seats = await members.list_for_org(connection, org.id)
    assert [(seat.user_id, seat.role) for seat in seats] == [(user.id, "member")]


async def test_second_sign_in_does_not_join_again(
    access: AccessService, provisioning: ProvisioningService, org: Organization
) -> None:
    user = await provision(provisioning, org)
    await access.sign_in(org.id, user.attributes.email)

    again = await access.sign_in(org.id, user.attributes.email)

    assert not again.joined_team


async def test_unprovisioned_sign_in_creates_an_sso_user(
    access: AccessService, org: Organization, db_pool: Pool
) -> None:
    email = new_email()

    grant = await access.sign_in(org.id, email)

    assert grant.created_user
    async with db_pool.acquire() as connection:
        row = await connection.fetchrow("SELECT created_by, email FROM users WHERE id = $1", grant.user_id)
        event = await connection.fetchrow("SELECT type FROM events WHERE user_id = $1", grant.user_id)
    assert row is not None
    assert (row["created_by"], row["email"]) == ("sso", email)
    assert event is not None
    assert event["type"] == "user.created"


async def test_sign_in_is_refused_for_a_deactivated_user(
    access: AccessService, provisioning: ProvisioningService, org: Organization
) -> None:
    user = await provision(provisioning, org)
    await provisioning.change(org.id, str(user.id), set_active(False), SCIM)

    with pytest.raises(SignInRefusedError) as refused:
        await access.sign_in(org.id, user.attributes.email)

    assert refused.value.reason == "user_deactivated"


async def test_deactivation_invalidates_existing_sessions_at_once(
    access: AccessService, provisioning: ProvisioningService, org: Organization
) -> None:
    user = await provision(provisioning, org)
    grant = await access.sign_in(org.id, user.attributes.email)
    assert await access.check_session(grant.session_token) is not None

    await provisioning.change(org.id, str(user.id), set_active(False), SCIM)

    assert await access.check_session(grant.session_token) is None


async def test_reactivation_does_not_revive_sessions_from_before_the_deactivation(
    access: AccessService, provisioning: ProvisioningService, org: Organization
) -> None:
    user = await provision(provisioning, org)
    old = await access.sign_in(org.id, user.attributes.email)
    await provisioning.change(org.id, str(user.id), set_active(False), SCIM)
    await provisioning.change(org.id, str(user.id), set_active(True), SCIM)

    new = await access.sign_in(org.id, user.attributes.email)

    assert await access.check_session(old.session_token) is None
    assert await access.check_session(new.session_token) is not None


async def test_sign_in_outside_the_sso_domains_is_invalid(access: AccessService, org: Organization) -> None:
    with pytest.raises(InvalidValueError):
        await access.sign_in(org.id, "someone@elsewhere.test")


async def test_sign_in_without_jit_refuses_unknown_users(access: AccessService, db_pool: Pool) -> None:
    no_jit = await TenantService(db_pool).create_organization(
        "no-jit", sso_domains=["example.com"], provisioning_enabled=True, jit_enabled=False, actor=SCIM
    )

    with pytest.raises(SignInRefusedError) as refused:
        await access.sign_in(no_jit.id, new_email())

    assert refused.value.reason == "not_provisioned"


async def test_sign_in_to_an_unknown_organization_is_not_found(access: AccessService) -> None:
    with pytest.raises(NotFoundError):
        await access.sign_in(uuid.uuid4(), new_email())


async def test_unknown_session_token_is_invalid(access: AccessService) -> None:
    assert await access.check_session("sess_not-a-real-token") is None
