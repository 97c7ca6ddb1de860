"""The event guarantees under faults, through real API and worker processes, PostgreSQL and Redis.

Each test builds a stack of its own (``make_stack``), breaks something on purpose, and ends with the event
invariants: every write left one event, every event was published, every event's effects are recorded.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
import msgspec
import pytest
import redis.asyncio as aioredis
from arq.constants import job_key_prefix

from services.scimctl.embedded import EmbeddedRedis
from shared.consumer import ReplayClient, StreamConsumer
from shared.db import Pool
from shared.events import Event
from shared.relay import APPLY_EVENT
from tests.e2e.conftest import MakeStack, OwnStack
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
from tests.support.stack import eventually, wait_until

pytestmark = pytest.mark.e2e


class Member(msgspec.Struct, frozen=True):
    user_id: str
    email: str
    session_token: str


def _signed_in_members(stack: OwnStack, count: int, label: str) -> list[Member]:
    members = []
    for _ in range(count):
        email = new_email(label)
        user = create_user(stack, email)
        grant = sign_in(stack, email)
        assert grant.status_code == 201, grant.text
        members.append(Member(user["id"], email, grant.json()["session_token"]))
    return members


def _assert_access_cut(stack: OwnStack, member: Member) -> None:
    assert session(stack, member.session_token).status_code == 401
    refused = sign_in(stack, member.email)
    assert refused.status_code == 403
    assert refused.json()["error"] == "user_deactivated"


async def _backends_waiting_on_locks(pool: Pool) -> int:
    async with pool.acquire() as connection:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    return count


async def _deactivation_ids(pool: Pool, user_ids: list[str]) -> list[UUID]:
    async with pool.acquire() as connection:
        rows = await connection.fetch(
            "SELECT id FROM events WHERE user_id = ANY($1::uuid[]) AND type = 'user.deactivated' ORDER BY id",
            user_ids,
        )
    return [row["id"] for row in rows]


async def _assert_removed_once(stack: OwnStack, members: list[Member]) -> None:
    seats = member_ids(stack)
    for member in members:
        assert member.user_id not in seats
        assert await live_sessions(stack.pool, member.user_id) == 0
        assert await worker_audit(stack.pool, member.user_id) == ["member.removed", "sessions.revoked"]


async def test_a_worker_killed_in_the_middle_of_deactivations_applies_each_effect_exactly_once_after_restart(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack("kill", SCIM_JOB_TIMEOUT_SECONDS="4")
    members = _signed_in_members(stack, 8, "kill")
    await check_event_invariants(stack.pool, stack.org_id)
    user_ids = [member.user_id for member in members]

    # The seats stay locked, so each deactivation job stops half-way: user row locked, seat not yet removed.
    async with stack.pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("SELECT 1 FROM team_members WHERE user_id = ANY($1::uuid[]) FOR UPDATE", user_ids)
        for member in members:
            assert deactivate(stack, member.user_id).status_code == 200
            assert session(stack, member.session_token).status_code == 401

        async def all_jobs_half_way() -> bool:
            return await _backends_waiting_on_locks(stack.pool) == len(members)

        await eventually(all_jobs_half_way, within=20, what="every deactivation job to be in progress")
        stack.worker.kill()
    stack.worker.start()

    ledger = await check_event_invariants(stack.pool, stack.org_id, settle_within=60)
    assert ledger.dead == 0
    await _assert_removed_once(stack, members)
    for member in members:
        _assert_access_cut(stack, member)
    async with stack.pool.acquire() as connection:
        attempts = await connection.fetch(
            "SELECT attempts FROM event_effects WHERE event_id = ANY($1::uuid[])",
            await _deactivation_ids(stack.pool, user_ids),
        )
    assert len(attempts) == len(members)
    assert all(row["attempts"] >= 2 for row in attempts)  # the killed run came first


async def test_deactivate_reactivate_deactivate_within_a_second_ends_inactive_and_out_of_the_team(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack("flap")
    members = _signed_in_members(stack, 5, "flap")

    for member in members:
        for active in (False, True, False):
            assert set_active(stack, member.user_id, active).status_code == 200

    ledger = await check_event_invariants(stack.pool, stack.org_id)
    assert ledger.dead == 0
    async with stack.pool.acquire() as connection:
        rows = await connection.fetch(
            """
            SELECT e.user_id::text AS user_id, e.type, e.occurred_at, f.outcome
            FROM events e JOIN event_effects f ON f.event_id = e.id
            WHERE e.org_id = $1::uuid AND e.version > 1
            ORDER BY e.user_id, e.version
            """,
            stack.org_id,
        )
    by_user: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        by_user[row["user_id"]].append(row)
    for member in members:
        flaps = by_user[member.user_id]
        assert [(row["type"], row["outcome"]) for row in flaps] == [
            ("user.deactivated", "applied"),
            ("user.reactivated", "applied"),
            ("user.deactivated", "applied"),
        ]
        assert (flaps[-1]["occurred_at"] - flaps[0]["occurred_at"]).total_seconds() < 1
        _assert_access_cut(stack, member)
    await _assert_removed_once(stack, members)


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Valkey of this test's own, with an append-only file, so that it can be stopped and started again."""
    server = EmbeddedRedis(tmp_path / "valkey", persist=True)
    server.start()
    yield server
    server.stop()


async def _stream_event_ids(redis_url: str, stream: str) -> set[str]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        entries = await client.xrange(stream)
    finally:
        await client.aclose()
    return {fields[b"id"].decode() for _, fields in entries}


async def _org_event_ids(pool: Pool, org_id: str) -> set[str]:
    async with pool.acquire() as connection:
        rows = await connection.fetch("SELECT id::text FROM events WHERE org_id = $1::uuid", org_id)
    return {row["id"] for row in rows}


async def _unpublished(pool: Pool) -> int:
    async with pool.acquire() as connection:
        count: int = await connection.fetchval("SELECT count(*) FROM events WHERE published_at IS NULL")
    return count


def _api_backlog(stack: OwnStack) -> float:
    for line in httpx.get(f"{stack.api.base_url}/metrics").text.splitlines():
        if line.startswith("scim_outbox_backlog "):
            return float(line.split()[1])
    return 0.0


async def test_redis_stopped_during_200_writes_loses_no_write_no_access_cut_and_no_event(
    valkey: EmbeddedRedis, make_stack: MakeStack
) -> None:
    redis_url = f"redis://127.0.0.1:{valkey.port}/0"
    stack = await make_stack("outage", redis_url=redis_url)
    members = _signed_in_members(stack, 50, "outage")
    await check_event_invariants(stack.pool, stack.org_id)

    valkey.stop()
    writes = 0
    for member in members:  # three creates and one deactivation each: 200 writes
        for _ in range(3):
            create_user(stack, new_email("outage-new"))  # fails the test unless it answers 201
        assert deactivate(stack, member.user_id).status_code == 200
        _assert_access_cut(stack, member)
        writes += 4

    assert writes == 200
    assert await _unpublished(stack.pool) == 200
    wait_until(lambda: _api_backlog(stack) > 0, timeout=15, what="the backlog metric to show the outage")
    assert stack.worker.alive()
    assert b"worker_redis_lost" in stack.worker.log()

    valkey.start()

    ledger = await check_event_invariants(stack.pool, stack.org_id, settle_within=60)
    assert ledger.dead == 0
    assert await _org_event_ids(stack.pool, stack.org_id) <= await _stream_event_ids(
        redis_url, stack.settings.stream_key
    )
    await _assert_removed_once(stack, members)
    assert stack.worker.log().count(b"worker_started") >= 2


async def _all_published(pool: Pool) -> bool:
    return await _unpublished(pool) == 0


def _jobs_done(worker_log: bytes) -> set[str]:
    lines = (msgspec.json.decode(line) for line in worker_log.splitlines() if b'"job_done"' in line)
    return {line["event_id"] for line in lines}


async def test_the_same_event_delivered_twice_at_once_to_two_workers_has_each_effect_once(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack("twice")
    members = _signed_in_members(stack, 4, "twice")
    await check_event_invariants(stack.pool, stack.org_id)
    stack.worker.stop()
    user_ids = [member.user_id for member in members]

    async with stack.pool.acquire() as blocker, blocker.transaction():
        await blocker.execute("SELECT 1 FROM team_members WHERE user_id = ANY($1::uuid[]) FOR UPDATE", user_ids)
        for member in members:
            assert deactivate(stack, member.user_id).status_code == 200
        await eventually(lambda: _all_published(stack.pool), within=10, what="the relay to enqueue the events")
        event_ids = await _deactivation_ids(stack.pool, user_ids)
        queue = stack.queue()
        for event_id in event_ids:  # the same event under a second job id, as a re-drive racing the relay would be
            await queue.enqueue_job(APPLY_EVENT, str(event_id), _job_id=f"{event_id}:again")
        await queue.aclose()
        # Each worker takes as many jobs as there are events: the first the relay's, the second the copies.
        first = stack.start_worker(SCIM_WORKER_CONCURRENCY=str(len(members)))
        second = stack.start_worker(SCIM_WORKER_CONCURRENCY=str(len(members)))

        async def both_deliveries_waiting() -> bool:
            return await _backends_waiting_on_locks(stack.pool) == 2 * len(members)

        await eventually(both_deliveries_waiting, within=20, what="both deliveries of every event to be running")

    ledger = await check_event_invariants(stack.pool, stack.org_id)
    assert ledger.dead == 0
    await _assert_removed_once(stack, members)
    expected = {str(event_id) for event_id in event_ids}
    assert expected <= _jobs_done(first.log())
    assert expected <= _jobs_done(second.log())


async def test_one_users_events_delivered_newest_first_converge_with_each_effect_recorded_once(
    make_stack: MakeStack,
) -> None:
    stack = await make_stack("order")
    stack.worker.stop()
    users = []
    for _ in range(2):
        email = new_email("order")
        user_id = create_user(stack, email)["id"]
        assert sign_in(stack, email).status_code == 201
        assert deactivate(stack, user_id).status_code == 200
        assert set_active(stack, user_id, True).status_code == 200
        assert sign_in(stack, email).status_code == 201
        assert deactivate(stack, user_id).status_code == 200
        users.append(user_id)
    await eventually(lambda: _all_published(stack.pool), within=10, what="the relay to enqueue the events")

    queue = stack.queue()
    async with stack.pool.acquire() as connection:
        versions = {row["id"]: row["version"] for row in await connection.fetch("SELECT id::text, version FROM events")}
    queued: list[tuple[bytes, float]] = await queue.zrange(stack.settings.queue_name, 0, -1, withscores=True)
    jobs = {job_id: score for job_id, score in queued if job_id.decode() in versions}  # not the reconciler's
    assert len(jobs) == len(versions)
    oldest = min(jobs.values())
    newest_first = {job_id: oldest - 1000 * versions[job_id.decode()] for job_id in jobs}
    await queue.zadd(stack.settings.queue_name, newest_first, xx=True)
    await queue.aclose()
    stack.start_worker(SCIM_WORKER_CONCURRENCY="1")

    ledger = await check_event_invariants(stack.pool, stack.org_id)
    assert ledger.dead == 0
    async with stack.pool.acquire() as connection:
        for user_id in users:
            rows = await connection.fetch(
                """
                SELECT e.version, f.effects FROM events e JOIN event_effects f ON f.event_id = e.id
                WHERE e.user_id = $1::uuid ORDER BY f.recorded_at
                """,
                user_id,
            )
            assert [(row["version"], row["effects"]) for row in rows] == [
                (4, ["member.removed", "sessions.revoked"]),
                (3, []),
                (2, []),
                (1, []),
            ]
            revoked = await connection.fetchval(
                "SELECT detail FROM audit_log WHERE target_user_id = $1::uuid AND action = 'sessions.revoked'", user_id
            )
            assert revoked == {"count": 2}
            assert await live_sessions(stack.pool, user_id) == 0
            assert await worker_audit(stack.pool, user_id) == ["member.removed", "sessions.revoked"]
    assert not (member_ids(stack) & set(users))
    for user_id in users:
        user = httpx.get(f"{stack.scim_base}/Users/{user_id}", headers=stack.scim_headers())
        assert user.json()["active"] is False


class Downstream:
    """What a downstream service would keep: the versions it applied per user, and every event id."""

    def __init__(self) -> None:
        self.versions: dict[UUID, list[int]] = defaultdict(list)
        self.ids: set[UUID] = set()

    async def __call__(self, event: Event) -> None:
        self.versions[event.user_id].append(event.version)
        self.ids.add(event.id)


async def test_a_consumer_behind_the_stream_trim_recovers_every_event_by_replay_without_version_gaps(
    make_stack: MakeStack, redis_client: aioredis.Redis
) -> None:
    stack = await make_stack("trim", SCIM_STREAM_MAX_LENGTH="20")
    downstream = Downstream()
    api = httpx.AsyncClient(base_url=stack.api.base_url, headers=stack.admin_headers())
    consumer = StreamConsumer(
        redis_client,
        ReplayClient(api, org_id=UUID(stack.org_id), page_size=100),
        downstream,
        stream=stack.settings.stream_key,
        group="directory-sync",
        consumer="directory-sync-1",
        block_ms=50,
    )
    await consumer.ensure_group()
    users = [create_user(stack, new_email("trim"))["id"] for _ in range(10)]
    await check_event_invariants(stack.pool, stack.org_id)
    while await consumer.poll():
        pass
    assert sum(len(versions) for versions in downstream.versions.values()) == 10

    async with httpx.AsyncClient(base_url=stack.scim_base, headers=stack.scim_headers()) as scim:

        async def rename(user_id: str, name: str) -> int:
            body = {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": name}],
            }
            return (await scim.patch(f"/Users/{user_id}", json=body)).status_code

        for round_number in range(30):  # the consumer is away while 300 more events go by
            answers = await asyncio.gather(*(rename(user_id, f"round {round_number}") for user_id in users))
            assert set(answers) == {200}
    await check_event_invariants(stack.pool, stack.org_id)
    assert await redis_client.xlen(stack.settings.stream_key) < 310

    while await consumer.poll():
        pass
    await api.aclose()

    assert consumer.stats.recoveries >= 1
    assert downstream.ids == {UUID(event_id) for event_id in await _org_event_ids(stack.pool, stack.org_id)}
    async with stack.pool.acquire() as connection:
        current = {row["id"]: row["version"] for row in await connection.fetch("SELECT id, version FROM users")}
    for user_id, versions in downstream.versions.items():
        assert versions == list(range(1, current[user_id] + 1))


async def test_jobs_that_redis_lost_are_re_driven_by_the_reconciler(make_stack: MakeStack) -> None:
    stack = await make_stack("lost")
    members = _signed_in_members(stack, 3, "lost")
    await check_event_invariants(stack.pool, stack.org_id)
    stack.worker.stop()
    for member in members:
        assert deactivate(stack, member.user_id).status_code == 200
    await eventually(lambda: _all_published(stack.pool), within=10, what="the relay to enqueue the events")

    queue = stack.queue()
    lost = [str(event_id) for event_id in await _deactivation_ids(stack.pool, [m.user_id for m in members])]
    assert await queue.zrem(stack.settings.queue_name, *lost) == len(lost)
    assert await queue.delete(*(job_key_prefix + event_id for event_id in lost)) == len(lost)
    await queue.aclose()
    stack.worker.start()

    ledger = await check_event_invariants(stack.pool, stack.org_id)
    assert ledger.dead == 0
    await _assert_removed_once(stack, members)
    assert b"reconciler_redrove" in stack.worker.log()
