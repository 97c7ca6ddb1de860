from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.db import Pool
from shared.domain import Organization
from shared.scim.errors import ForbiddenError, InvalidValueError, NotFoundError, UnauthorizedError
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
    with pytest.raises(InvalidValueError, match="not an email domain"):
        normalize_domain(raw)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("", "must not be empty", id="empty"),
        pytest.param("   ", "must not be empty", id="blank"),
        pytest.param("x" * 201, "at most 200 characters", id="too-long"),
        pytest.param("a\x00b", "without NUL", id="nul"),
    ],
)
async def test_an_organization_without_a_usable_name_is_refused(db_pool: Pool, name: str, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        await TenantService(db_pool).create_organization(
            name, sso_domains=["example.com"], provisioning_enabled=False, actor=OPERATOR
        )


async def test_an_organization_name_is_stored_trimmed_and_in_nfc(db_pool: Pool) -> None:
    org = await TenantService(db_pool).create_organization(
        "  Zoe\u0308 Ltd ", sso_domains=["example.com"], provisioning_enabled=False, actor=OPERATOR
    )

    assert org.name == "Zo\u00eb Ltd"


@pytest.mark.parametrize(
    ("domains", "message"),
    [
        pytest.param([], "at least one SSO domain", id="none"),
        pytest.param(["example.com", "not a domain"], "not an email domain: 'not a domain'", id="one-invalid"),
    ],
)
async def test_an_organization_needs_valid_sso_domains(db_pool: Pool, domains: list[str], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        await TenantService(db_pool).create_organization(
            "no domains", sso_domains=domains, provisioning_enabled=False, actor=OPERATOR
        )


async def test_an_update_cannot_empty_the_sso_domains(db_pool: Pool, org: Organization) -> None:
    service = TenantService(db_pool)

    with pytest.raises(InvalidValueError, match="at least one SSO domain"):
        await service.update_organization(org.id, sso_domains=[], actor=OPERATOR)

    unchanged = await service.get_organization(org.id)
    assert unchanged is not None
    assert unchanged.sso_domains == ("example.com",)


async def test_an_update_replaces_the_sso_domains(db_pool: Pool, org: Organization) -> None:
    updated = await TenantService(db_pool).update_organization(
        org.id, sso_domains=["B.example", "a.example", "b.example"], actor=OPERATOR
    )

    assert updated is not None
    assert updated.sso_domains == ("a.example", "b.example")


async def test_an_existing_organization_without_members_lists_none(db_pool: Pool, org: Organization) -> None:
    assert await TenantService(db_pool).list_members(org.id) == []


async def test_a_new_organization_has_no_tokens(db_pool: Pool, org: Organization) -> None:
    assert await TenantService(db_pool).list_tokens(org.id) == []


async def test_issuing_a_token_for_an_unknown_organization_is_not_found(db_pool: Pool) -> None:
    with pytest.raises(NotFoundError, match="no such organization"):
        await TenantService(db_pool).issue_token(uuid.uuid4(), actor=OPERATOR)


async def test_the_tokens_of_an_unknown_organization_are_not_found(db_pool: Pool) -> None:
    with pytest.raises(NotFoundError, match="no such organization"):
        await TenantService(db_pool).list_tokens(uuid.uuid4())


async def test_the_members_of_an_unknown_organization_are_not_found(db_pool: Pool) -> None:
    with pytest.raises(NotFoundError, match="no such organization"):
        await TenantService(db_pool).list_members(uuid.uuid4())
