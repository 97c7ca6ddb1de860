from __future__ import annotations

import asyncio
import contextlib
import datetime
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import msgspec
import pytest
import redis.exceptions
from arq.connections import ArqRedis
from prometheus_client import REGISTRY

from shared.db import Pool, create_pool
from shared.domain import Actor, Organization, UserAttributes
from shared.events import EVENT_DECODER, EventData, UserDeactivated, UserSnapshot
from shared.queue import open_queue
from shared.relay import OutboxRelay, stream_fields
from shared.repositories import events
from shared.services.provisioning import ProvisioningService
from shared.services.tenants import TenantService
from shared.settings import Settings
from tests.conftest import TestServices
from tests.support.databases import fresh_database
from tests.support.stack import eventually, free_port

SCIM = Actor(type="scim_token", id="tests")


@pytest.fixture(scope="module")
def outbox_database(test_services: TestServices) -> Iterator[str]:
    # The API of the end-to-end tests runs a relay on the run's database; these tests need an outbox of their own.
    with fresh_database(test_services.database_url, "relay") as dsn:
        yield dsn


@pytest.fixture(scope="module")
async def db_pool(outbox_database: str) -> AsyncIterator[Pool]:
    pool = await create_pool(outbox_database, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
def relay_settings(test_services: TestServices, outbox_database: str) -> Settings:
    # Each test gets its own stream and queue, so counts are exact.
    return test_services.settings(
        database_url=outbox_database, redis_prefix=f"{test_services.redis_prefix}relay-{secrets.token_hex(3)}:"
    )


@pytest.fixture
async def queue(relay_settings: Settings) -> AsyncIterator[ArqRedis]:
    client = open_queue(relay_settings)
    yield client
    await client.aclose()


@pytest.fixture
async def org(db_pool: Pool) -> Organization:
    return await TenantService(db_pool).create_organization(
        "relay", sso_domains=["example.com"], provisioning_enabled=True, actor=SCIM
    )


async def _flush_outbox(db_pool: Pool, relay: OutboxRelay) -> None:
    # Earlier tests leave unpublished events in the shared database; publish them out of the way.
    await relay.drain()


def _set_active(active: bool) -> Callable[[UserAttributes], UserAttributes]:
    def mutate(current: UserAttributes) -> UserAttributes:
        return msgspec.structs.replace(current, active=active)

    return mutate


async def _user_with_three_events(db_pool: Pool, org: Organization) -> str:
    service = ProvisioningService(db_pool)
    email = f"relay.{secrets.token_hex(4)}@example.com"
    user = await service.create(org, UserAttributes(user_name=email, email=email), SCIM)
    for active in (False, True):
        await service.change(org.id, str(user.id), _set_active(active), SCIM)
    return str(user.id)


async def _stream_versions(queue: ArqRedis, settings: Settings, user_id: str) -> list[int]:
    entries = await queue.xrange(settings.stream_key)
    return [int(fields[b"version"]) for _, fields in entries if fields[b"user_id"].decode() == user_id]


async def test_events_reach_the_stream_and_the_queue_in_version_order(
    db_pool: Pool, queue: ArqRedis, relay_settings: Settings, org: Organization
) -> None:
    relay = OutboxRelay(db_pool, queue, relay_settings)
    await _flush_outbox(db_pool, relay)
    user_id = await _user_with_three_events(db_pool, org)

    published = await relay.drain()

    assert published == 3
    assert await _stream_versions(queue, relay_settings, user_id) == [1, 2, 3]
    queued = await queue.zrange(relay_settings.queue_name, 0, -1)
    assert len(queued) == 3
    async with db_pool.acquire() as connection:
        pending = await connection.fetchval(
            "SELECT count(*) FROM events WHERE user_id = $1::uuid AND published_at IS NULL", user_id
        )
    assert pending == 0


async def test_one_round_publishes_only_the_oldest_unpublished_version_of_a_user(
    db_pool: Pool, queue: ArqRedis, relay_settings: Settings, org: Organization
) -> None:
    relay = OutboxRelay(db_pool, queue, relay_settings)
    await _flush_outbox(db_pool, relay)
    user_id = await _user_with_three_events(db_pool, org)

    first_round = await relay.publish_once()

    assert first_round == 1
    assert await _stream_versions(queue, relay_settings, user_id) == [1]


async def test_a_crash_before_marking_republishes_instead_of_losing(
    db_pool: Pool, queue: ArqRedis, relay_settings: Settings, org: Organization
) -> None:
    relay = OutboxRelay(db_pool, queue, relay_settings)
    await _flush_outbox(db_pool, relay)
    service = ProvisioningService(db_pool)
    email = f"crash.{secrets.token_hex(4)}@example.com"
    user = await service.create(org, UserAttributes(user_name=email, email=email), SCIM)

    async with db_pool.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        batch = await events.claim_unpublished(connection, 10)
        await relay._send(batch)  # published, then the process dies before marking
        await transaction.rollback()
    await relay.drain()

    assert await _stream_versions(queue, relay_settings, str(user.id)) == [1, 1]


async def test_stream_entries_carry_the_contract_fields(
    db_pool: Pool, queue: ArqRedis, relay_settings: Settings, org: Organization
) -> None:
    relay = OutboxRelay(db_pool, queue, relay_settings)
    await _flush_outbox(db_pool, relay)
    user_id = await _user_with_three_events(db_pool, org)
    await relay.drain()

    entries = await queue.xrange(relay_settings.stream_key)
    fields = {key.decode(): value.decode() for key, value in entries[-1][1].items()}

    assert set(fields) == {"id", "type", "org_id", "user_id", "version", "occurred_at", "data"}
    assert fields["user_id"] == user_id
    assert fields["type"] == "user.reactivated"
    assert fields["occurred_at"].endswith("Z")
    data = msgspec.json.decode(fields["data"], type=EventData)
    assert data.changed == ("active",)
    assert data.user.active


def test_stream_fields_round_trip_through_the_event_decoder() -> None:
    user_id = uuid.uuid4()
    event = UserDeactivated(
        id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        user_id=user_id,
        version=4,
        occurred_at=datetime.datetime(2026, 12, 3, 10, 0, tzinfo=datetime.UTC),
        data=EventData(
            user=UserSnapshot.of(
                user_id, UserAttributes(user_name="a@example.com", email="a@example.com", active=False), "scim"
            ),
            changed=("active",),
        ),
    )
    fields = stream_fields(events.OutboxEntry.of(event))
    document = {**fields, "version": int(fields["version"]), "data": msgspec.json.decode(fields["data"])}

    assert EVENT_DECODER.decode(msgspec.json.encode(document)) == event


async def test_a_row_this_release_cannot_decode_still_goes_out(
    db_pool: Pool, queue: ArqRedis, relay_settings: Settings, org: Organization
) -> None:
    relay = OutboxRelay(db_pool, queue, relay_settings)
    await relay.drain()
    user_id = uuid.uuid4()
    async with db_pool.acquire() as connection:
        await connection.execute(
            """
            INSERT INTO events (id, type, org_id, user_id, version, occurred_at, data)
            VALUES ($1, 'user.updated', $2, $3, 1, now(), $4)
            """,
            uuid.uuid4(),
            org.id,
            user_id,
            {"user": {"id": str(user_id)}, "changed": [], "added_in_a_later_release": True},
        )

    published = await relay.drain()

    assert published == 1
    assert await _stream_versions(queue, relay_settings, str(user_id)) == [1]


def _sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


async def test_the_backlog_is_measured_while_redis_is_unreachable(
    db_pool: Pool, relay_settings: Settings, org: Organization
) -> None:
    unreachable = msgspec.structs.replace(relay_settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    queue = open_queue(unreachable)
    relay = OutboxRelay(db_pool, queue, unreachable)
    await _user_with_three_events(db_pool, org)

    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await relay.run_round()
    finally:
        await queue.aclose()

    assert _sample("scim_outbox_backlog") >= 3
    assert _sample("scim_outbox_oldest_pending_seconds") > 0


class _FailsOnce(OutboxRelay):
    """A relay whose first send hits a bug: an error no outage handler expects."""

    failed = False

    async def _send(self, batch: list[events.OutboxEntry]) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("a bug in publishing")
        await super()._send(batch)


async def test_a_round_that_fails_unexpectedly_is_retried_and_the_relay_keeps_running(
    db_pool: Pool, queue: ArqRedis, relay_settings: Settings, org: Organization
) -> None:
    await _flush_outbox(db_pool, OutboxRelay(db_pool, queue, relay_settings))
    relay = _FailsOnce(db_pool, queue, relay_settings)
    failures_before = _sample("scim_relay_failures_total")
    user_id = await _user_with_three_events(db_pool, org)

    async def failed() -> bool:
        return _sample("scim_relay_failures_total") > failures_before

    async def published() -> bool:
        return await _stream_versions(queue, relay_settings, user_id) == [1, 2, 3]

    running = asyncio.create_task(relay.run())
    try:
        await eventually(failed, within=10, what="a failed round")
        assert not running.done()
        await eventually(published, within=15, what="the relay to publish again")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_several_relays_on_one_outbox_keep_each_users_events_in_order_and_lose_none(
    db_pool: Pool, queue: ArqRedis, relay_settings: Settings, org: Organization
) -> None:
    await _flush_outbox(db_pool, OutboxRelay(db_pool, queue, relay_settings))
    service = ProvisioningService(db_pool)
    users = []
    for _ in range(20):  # a backlog first: five events per user waiting when the relays start
        email = f"many.{secrets.token_hex(4)}@example.com"
        user = await service.create(org, UserAttributes(user_name=email, email=email), SCIM)
        for active in (False, True, False, True):
            await service.change(org.id, str(user.id), _set_active(active), SCIM)
        users.append(user)
    small_batches = msgspec.structs.replace(relay_settings, relay_batch_size=3)
    relays = [OutboxRelay(db_pool, queue, small_batches) for _ in range(6)]
    writes_done = asyncio.Event()

    async def write(user_id: uuid.UUID) -> None:  # then more while they run
        for active in (False, True):
            await service.change(org.id, str(user_id), _set_active(active), SCIM)

    async def relay_until_done(relay: OutboxRelay) -> int:
        total = 0
        while True:
            published = await relay.drain()
            total += published
            if writes_done.is_set() and not published:
                return total
            await asyncio.sleep(0.005)

    relaying = [asyncio.create_task(relay_until_done(relay)) for relay in relays]
    await asyncio.gather(*(write(user.id) for user in users))
    writes_done.set()
    per_relay = await asyncio.gather(*relaying)

    assert sum(per_relay) == 140
    assert sum(1 for count in per_relay if count) > 1, per_relay
    for user in users:
        assert await _stream_versions(queue, relay_settings, str(user.id)) == [1, 2, 3, 4, 5, 6, 7]
    assert await queue.zcard(relay_settings.queue_name) == 140


async def test_while_one_relay_holds_a_users_event_another_publishes_none_of_its_later_ones(
    db_pool: Pool, queue: ArqRedis, relay_settings: Settings, org: Organization
) -> None:
    first = OutboxRelay(db_pool, queue, relay_settings)
    second = OutboxRelay(db_pool, queue, relay_settings)
    await _flush_outbox(db_pool, first)
    user_id = await _user_with_three_events(db_pool, org)

    async with db_pool.acquire() as connection, connection.transaction():
        held = await events.claim_unpublished(connection, 10)
        published_meanwhile = await second.drain()
        await first._send(held)
        await events.mark_published(connection, [event.id for event in held])
    published_after = await second.drain()

    assert [event.version for event in held] == [1]
    assert (published_meanwhile, published_after) == (0, 2)
    assert await _stream_versions(queue, relay_settings, user_id) == [1, 2, 3]
