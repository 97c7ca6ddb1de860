"""Driver errors of the organizations repository become domain errors at its boundary."""

from __future__ import annotations

import uuid

import pytest

from shared.db import Pool
from shared.repositories import organizations
from shared.scim.errors import InvalidValueError, NotFoundError


async def test_an_empty_name_is_an_invalid_value(db_pool: Pool) -> None:
    async with db_pool.acquire() as connection:
        with pytest.raises(InvalidValueError, match="name must not be empty"):
            await organizations.insert(
                connection,
                org_id=uuid.uuid4(),
                name="",
                sso_domains=["example.com"],
                subscription_active=True,
                provisioning_enabled=False,
                jit_enabled=True,
            )


async def test_a_token_for_an_unknown_organization_is_not_found(db_pool: Pool) -> None:
    async with db_pool.acquire() as connection:
        with pytest.raises(NotFoundError, match="no such organization"):
            await organizations.insert_token(
                connection, token_id=uuid.uuid4(), org_id=uuid.uuid4(), token_digest=b"\x00" * 32, label=""
            )
