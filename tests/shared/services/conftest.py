from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator

import msgspec
import pytest

from shared.db import Pool, create_pool
from shared.domain import Actor, Organization, UserAttributes, UserRecord
from shared.services.access import AccessService
from shared.services.effects import EffectsService
from shared.services.provisioning import ProvisioningService
from shared.services.tenants import TenantService
from tests.conftest import TestServices
from tests.support.databases import fresh_database

OPERATOR = Actor(type="system", id="tests")
SCIM = Actor(type="scim_token", id="tests", request_id="req-tests")


@pytest.fixture(scope="package")
def services_database(test_services: TestServices) -> Iterator[str]:
    """These tests call the worker's effects directly: the live stack's worker must not see their events."""
    with fresh_database(test_services.database_url, "services") as dsn:
        yield dsn


@pytest.fixture
async def db_pool(services_database: str) -> AsyncIterator[Pool]:
    pool = await create_pool(services_database, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
async def org(db_pool: Pool) -> Organization:
    return await TenantService(db_pool).create_organization(
        f"org-{secrets.token_hex(3)}", sso_domains=["example.com"], provisioning_enabled=True, actor=OPERATOR
    )


@pytest.fixture
def provisioning(db_pool: Pool) -> ProvisioningService:
    return ProvisioningService(db_pool)


@pytest.fixture
def access(db_pool: Pool) -> AccessService:
    return AccessService(db_pool, session_ttl_seconds=3600)


@pytest.fixture
def effects(db_pool: Pool) -> EffectsService:
    return EffectsService(db_pool)


def new_email() -> str:
    return f"user.{secrets.token_hex(4)}@example.com"


async def provision(provisioning: ProvisioningService, org: Organization, email: str | None = None) -> UserRecord:
    address = email or new_email()
    return await provisioning.create(org, UserAttributes(user_name=address, email=address), SCIM)


def set_active(active: bool) -> Callable[[UserAttributes], UserAttributes]:
    """A change (as PUT or PATCH would make) that sets ``active``."""

    def mutate(current: UserAttributes) -> UserAttributes:
        return msgspec.structs.replace(current, active=active)

    return mutate
