from __future__ import annotations

import asyncio
from uuid import UUID

from shared.db import Pool
from shared.domain import Organization
from shared.repositories import members
from shared.services.access import AccessService
from shared.services.effects import EffectsService
from shared.services.provisioning import ProvisioningService
from tests.shared.services.conftest import SCIM, provision, set_active
from tests.support.flows import worker_audit


async def _latest_event(db_pool: Pool, user_id: UUID) -> UUID:
    async with db_pool.acquire() as connection:
        event_id: UUID = await connection.fetchval(
            "SELECT id FROM events WHERE user_id = $1 ORDER BY version DESC LIMIT 1", user_id
        )
    return event_id


async def _audit_actions(db_pool: Pool, user_id: UUID) -> list[str]:
    return await worker_audit(db_pool, str(user_id))


async def test_deactivation_removes_the_seat_and_revokes_sessions_once(
    effects: EffectsService, access: AccessService, provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)
    await access.sign_in(org.id, user.attributes.email)
    await access.sign_in(org.id, user.attributes.email)
    await provisioning.change(org.id, str(user.id), set_active(False), SCIM)
    event_id = await _latest_event(db_pool, user.id)

    first = await effects.apply(event_id)
    second = await effects.apply(event_id)

    assert first.effects == ("member.removed", "sessions.revoked")
    assert first.sessions_revoked == 2
    assert second.effects == ()
    assert await _audit_actions(db_pool, user.id) == ["member.removed", "sessions.revoked"]
    async with db_pool.acquire() as connection:
        assert await members.list_for_org(connection, org.id) == []
        outcome = await connection.fetchrow("SELECT outcome, effects FROM event_effects WHERE event_id = $1", event_id)
    assert outcome is not None
    assert (outcome["outcome"], outcome["effects"]) == ("applied", ["member.removed", "sessions.revoked"])


async def test_the_same_event_applied_concurrently_has_each_effect_once(
    effects: EffectsService, access: AccessService, provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)
    await access.sign_in(org.id, user.attributes.email)
    await provisioning.change(org.id, str(user.id), set_active(False), SCIM)
    event_id = await _latest_event(db_pool, user.id)

    results = await asyncio.gather(*(effects.apply(event_id) for _ in range(4)))

    assert sorted(len(result.effects) for result in results) == [0, 0, 0, 2]
    assert await _audit_actions(db_pool, user.id) == ["member.removed", "sessions.revoked"]


async def test_a_late_deactivation_event_keeps_a_seat_taken_after_reactivation(
    effects: EffectsService, access: AccessService, provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)
    old = await access.sign_in(org.id, user.attributes.email)
    await provisioning.change(org.id, str(user.id), set_active(False), SCIM)
    deactivation = await _latest_event(db_pool, user.id)
    await provisioning.change(org.id, str(user.id), set_active(True), SCIM)
    new = await access.sign_in(org.id, user.attributes.email)

    result = await effects.apply(deactivation)

    assert result.effects == ("sessions.revoked",)
    assert await access.check_session(new.session_token) is not None
    assert await access.check_session(old.session_token) is None
    async with db_pool.acquire() as connection:
        seats = await members.list_for_org(connection, org.id)
    assert [seat.user_id for seat in seats] == [user.id]


async def test_events_applied_out_of_order_converge_to_the_current_state(
    effects: EffectsService, access: AccessService, provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)
    await access.sign_in(org.id, user.attributes.email)
    for active in (False, True, False):
        await provisioning.change(org.id, str(user.id), set_active(active), SCIM)
    async with db_pool.acquire() as connection:
        rows = await connection.fetch("SELECT id FROM events WHERE user_id = $1 ORDER BY version DESC", user.id)

    for row in rows:
        await effects.apply(row["id"])

    assert await _audit_actions(db_pool, user.id) == ["member.removed", "sessions.revoked"]
    async with db_pool.acquire() as connection:
        assert await members.list_for_org(connection, org.id) == []
        settled = await connection.fetchval(
            "SELECT count(*) FROM events WHERE user_id = $1 AND settled_at IS NOT NULL", user.id
        )
    assert settled == len(rows)


async def test_deletion_removes_the_seat(
    effects: EffectsService, access: AccessService, provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)
    grant = await access.sign_in(org.id, user.attributes.email)

    await provisioning.delete(org.id, str(user.id), SCIM)
    result = await effects.apply(await _latest_event(db_pool, user.id))

    assert await access.check_session(grant.session_token) is None
    assert result.effects == ("member.removed", "sessions.revoked")


async def test_an_unknown_event_is_reported_not_found(effects: EffectsService) -> None:
    result = await effects.apply(UUID(int=1))

    assert not result.found


async def test_dead_letter_is_recorded_with_the_error(
    effects: EffectsService, provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)
    event_id = await _latest_event(db_pool, user.id)

    await effects.dead_letter(event_id, attempts=8, error="OSError: connection refused")

    async with db_pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT outcome, attempts, error FROM event_effects WHERE event_id = $1", event_id
        )
    assert row is not None
    assert (row["outcome"], row["attempts"], row["error"]) == ("dead", 8, "OSError: connection refused")


async def test_a_dead_letter_after_the_event_was_applied_keeps_the_applied_outcome_and_audits_nothing(
    effects: EffectsService, access: AccessService, provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)
    await access.sign_in(org.id, user.attributes.email)
    await provisioning.change(org.id, str(user.id), set_active(False), SCIM)
    event_id = await _latest_event(db_pool, user.id)
    await effects.apply(event_id)

    recorded = await effects.dead_letter(event_id, attempts=8, error="TimeoutError: no outcome within 15 s")

    assert not recorded
    assert await _audit_actions(db_pool, user.id) == ["member.removed", "sessions.revoked"]
    async with db_pool.acquire() as connection:
        outcome = await connection.fetchval("SELECT outcome FROM event_effects WHERE event_id = $1", event_id)
    assert outcome == "applied"


async def test_a_dead_letter_is_audited_once(
    effects: EffectsService, provisioning: ProvisioningService, org: Organization, db_pool: Pool
) -> None:
    user = await provision(provisioning, org)
    event_id = await _latest_event(db_pool, user.id)

    first = await effects.dead_letter(event_id, attempts=8, error="OSError: connection refused")
    second = await effects.dead_letter(event_id, attempts=9, error="OSError: connection refused")

    assert (first, second) == (True, False)
    assert await _audit_actions(db_pool, user.id) == ["event.dead_lettered"]
