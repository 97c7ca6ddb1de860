from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import pytest

from shared.db import Pool
from shared.domain import Organization, UserAttributes
from shared.scim.errors import InvalidValueError, NotFoundError, PreconditionFailedError, UniquenessError
from shared.scim.filter_sql import compile_sort
from shared.services.provisioning import DEFAULT_ORDER, ProvisioningService
from shared.services.tenants import TenantService
from tests.shared.services.conftest import OPERATOR, SCIM, new_email, provision, set_active


async def _ids_by_pages(service: ProvisioningService, org: Organization, *, count: int) -> list[UUID]:
    ids: list[UUID] = []
    start = 1
    while True:
        page = await service.search(
            org.id, where="true", params=[], order_by=DEFAULT_ORDER, start_index=start, count=count
        )
        ids.extend(user.id for user in page.users)
        start += count
        if start > page.total:
            return ids


def test_default_order_is_what_the_sort_compiler_gives_without_sort_by() -> None:
    assert compile_sort(None, None) == DEFAULT_ORDER


async def test_sequential_pages_cover_every_user_once_in_creation_order(
    provisioning: ProvisioningService, org: Organization
) -> None:
    created = [(await provision(provisioning, org)).id for _ in range(25)]

    assert await _ids_by_pages(provisioning, org, count=10) == created


async def test_sequential_pages_seek_past_the_last_user_served_after_a_deletion(
    provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    created = [(await provision(provisioning, org)).id for _ in range(6)]
    first = await provisioning.search(org.id, where="true", params=[], order_by=DEFAULT_ORDER, start_index=1, count=3)
    await provisioning.delete(org.id, str(created[0]), SCIM)

    second = await provisioning.search(org.id, where="true", params=[], order_by=DEFAULT_ORDER, start_index=4, count=3)

    assert [user.id for user in first.users] == created[:3]
    assert [user.id for user in second.users] == created[3:]
    assert second.total == 5


async def test_a_fresh_service_pages_by_offset_with_the_same_result(
    provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    created = [(await provision(provisioning, org)).id for _ in range(7)]
    await _ids_by_pages(provisioning, org, count=3)

    cold = ProvisioningService(db_pool)
    page = await cold.search(org.id, where="true", params=[], order_by=DEFAULT_ORDER, start_index=4, count=3)

    assert [user.id for user in page.users] == created[3:6]


async def test_create_refuses_an_email_outside_the_sso_domains(
    provisioning: ProvisioningService, org: Organization
) -> None:
    with pytest.raises(InvalidValueError, match="SSO domains"):
        await provisioning.create(org, UserAttributes(user_name="a@other.test", email="a@other.test"), SCIM)


async def test_create_refuses_a_user_name_taken_in_another_case(
    provisioning: ProvisioningService, org: Organization
) -> None:
    email = new_email()
    await provision(provisioning, org, email)

    with pytest.raises(UniquenessError):
        await provision(provisioning, org, email.upper())


async def test_the_same_user_name_may_exist_in_two_organizations(
    provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    other = await TenantService(db_pool).create_organization(
        "other", sso_domains=["example.com"], provisioning_enabled=True, actor=OPERATOR
    )
    email = new_email()
    first = await provision(provisioning, org, email)

    second = await provision(provisioning, other, email)

    assert first.id != second.id


async def test_another_tenants_user_is_not_found(
    provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    other = await TenantService(db_pool).create_organization(
        "other", sso_domains=["example.com"], provisioning_enabled=True, actor=OPERATOR
    )
    user = await provision(provisioning, other)

    with pytest.raises(NotFoundError):
        await provisioning.get(org.id, str(user.id))
    with pytest.raises(NotFoundError):
        await provisioning.change(org.id, str(user.id), set_active(False), SCIM)


async def test_if_match_with_an_old_version_is_refused(provisioning: ProvisioningService, org: Organization) -> None:
    user = await provision(provisioning, org)
    await provisioning.change(org.id, str(user.id), set_active(False), SCIM)

    with pytest.raises(PreconditionFailedError):
        await provisioning.change(org.id, str(user.id), set_active(True), SCIM, if_match='W/"1"')
    changed = await provisioning.change(org.id, str(user.id), set_active(True), SCIM, if_match='W/"2"')

    assert changed.version == 3


async def test_a_change_that_alters_nothing_writes_no_event(
    provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)

    unchanged = await provisioning.change(org.id, str(user.id), set_active(True), SCIM)

    assert unchanged.version == 1
    async with db_pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM events WHERE user_id = $1", user.id) == 1


async def test_concurrent_changes_of_one_user_each_get_their_own_version(
    provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)

    await asyncio.gather(*(provisioning.change(org.id, str(user.id), set_active(i % 2 == 0), SCIM) for i in range(6)))

    async with db_pool.acquire() as connection:
        versions = await connection.fetch("SELECT version FROM events WHERE user_id = $1 ORDER BY version", user.id)
        current = await connection.fetchval("SELECT version FROM users WHERE id = $1", user.id)
    assert [row["version"] for row in versions] == list(range(1, current + 1))


async def test_delete_frees_the_user_name(provisioning: ProvisioningService, org: Organization) -> None:
    email = new_email()
    user = await provision(provisioning, org, email)

    await provisioning.delete(org.id, str(user.id), SCIM)
    again = await provision(provisioning, org, email)

    assert again.id != user.id
    with pytest.raises(NotFoundError):
        await provisioning.get(org.id, str(user.id))


async def test_a_malformed_id_is_not_found(provisioning: ProvisioningService, org: Organization) -> None:
    with pytest.raises(NotFoundError):
        await provisioning.get(org.id, "not-a-uuid")


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(str.upper, id="upper-case"),
        pytest.param(lambda text: "{" + text + "}", id="braces"),
        pytest.param(lambda text: text.replace("-", ""), id="no-hyphens"),
        pytest.param(lambda text: "urn:uuid:" + text, id="urn"),
        pytest.param(lambda text: " " + text, id="leading-space"),
    ],
)
async def test_only_the_id_as_written_names_the_user(
    provisioning: ProvisioningService, org: Organization, spelling: Callable[[str], str]
) -> None:
    user = await provision(provisioning, org, new_email())

    found = await provisioning.get(org.id, str(user.id))
    with pytest.raises(NotFoundError):
        await provisioning.get(org.id, spelling(str(user.id)))

    assert found.id == user.id
