from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.db import Pool
from shared.scim.errors import ForbiddenError, UnauthorizedError
from shared.services.tenants import TenantService, normalize_domain
from tests.shared.services.conftest import OPERATOR


async def _tenant_with_token(service: TenantService) -> tuple[str, str]:
    org = await service.create_organization(
        "cache", sso_domains=["example.com"], provisioning_enabled=True, actor=OPERATOR
    )
    issued = await service.issue_token(org.id, actor=OPERATOR)
    return str(issued.id), issued.token


async def test_a_revocation_through_the_same_process_takes_effect_at_once(db_pool: Pool) -> None:
    service = TenantService(db_pool, token_cache_seconds=60)
    token_id, token = await _tenant_with_token(service)
    await service.authenticate(f"Bearer {token}")

    await service.revoke_token(uuid.UUID(token_id), actor=OPERATOR)

    with pytest.raises(UnauthorizedError):
        await service.authenticate(f"Bearer {token}")


async def test_a_revocation_elsewhere_takes_effect_within_the_cache_time(db_pool: Pool) -> None:
    api = TenantService(db_pool, token_cache_seconds=0.3)
    operator = TenantService(db_pool)
    token_id, token = await _tenant_with_token(operator)
    await api.authenticate(f"Bearer {token}")

    await operator.revoke_token(uuid.UUID(token_id), actor=OPERATOR)
    still_cached = await api.authenticate(f"Bearer {token}")
    await asyncio.sleep(0.35)

    assert still_cached.token_id == uuid.UUID(token_id)
    with pytest.raises(UnauthorizedError):
        await api.authenticate(f"Bearer {token}")


async def test_without_a_cache_every_request_sees_the_current_organization(db_pool: Pool) -> None:
    service = TenantService(db_pool)
    _, token = await _tenant_with_token(service)
    caller = await service.authenticate(f"Bearer {token}")

    await TenantService(db_pool).update_organization(caller.organization.id, provisioning_enabled=False, actor=OPERATOR)

    with pytest.raises(ForbiddenError, match="provisioning is not enabled"):
        await service.authenticate(f"Bearer {token}")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        pytest.param("Example.COM", "example.com", id="lower-cased"),
        pytest.param(" @acme.io ", "acme.io", id="at-sign-and-spaces"),
    ],
)
def test_domains_are_normalized(raw: str, stored: str) -> None:
    assert normalize_domain(raw) == stored


@pytest.mark.parametrize("raw", ["", "localhost", "a@b.com", "exa mple.com"], ids=["empty", "no-dot", "email", "space"])
def test_non_domains_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="not an email domain"):
        normalize_domain(raw)
