"""The reference consumer against real Redis; the replay API is stood in for by the events it would return."""

from __future__ import annotations

import datetime
import secrets
import uuid
from collections.abc import AsyncIterator
from uuid import UUID

import pytest
import redis.asyncio as aioredis
from uuid_utils.compat import uuid7

from shared.consumer import StreamConsumer, decode_entry
from shared.domain import UserAttributes
from shared.events import Event, EventData, UserCreated, UserSnapshot, UserUpdated
from shared.relay import stream_fields
from shared.repositories.events import OutboxEntry
from tests.conftest import TestServices

USER = uuid.uuid4()
ORG = uuid.uuid4()


def _event(version: int, user_id: UUID = USER) -> Event:
    attributes = UserAttributes(user_name="a@example.com", email="a@example.com", display_name=f"v{version}")
    cls = UserCreated if version == 1 else UserUpdated
    return cls(
        id=uuid7(),
        org_id=ORG,
        user_id=user_id,
        version=version,
        occurred_at=datetime.datetime.now(datetime.UTC),
        data=EventData(user=UserSnapshot.of(user_id, attributes, "scim"), changed=("displayName",)),
    )


class LogReplay:
    """The events PostgreSQL holds, answered as the replay API pages them (id order, after an id)."""

    def __init__(self, log: list[Event]) -> None:
        self.log = sorted(log, key=lambda event: event.id)
        self.calls: list[UUID | None] = []

    async def events_after(self, after: UUID | None) -> AsyncIterator[Event]:
        self.calls.append(after)
        for event in self.log:
            if after is None or event.id > after:
                yield event


class Applied:
    def __init__(self) -> None:
        self.versions: list[int] = []
        self.fail_next = False

    async def __call__(self, event: Event) -> None:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the downstream store is down")
        self.versions.append(event.version)


@pytest.fixture
def stream(test_services: TestServices) -> str:
    return f"{test_services.redis_prefix}consumer-{secrets.token_hex(3)}:scim:events"


async def _publish(redis_client: aioredis.Redis, stream: str, *events: Event) -> None:
    for event in events:
        await redis_client.xadd(stream, stream_fields(OutboxEntry.of(event)))  # type: ignore[arg-type]  # str fields are valid


async def _consumer(
    redis_client: aioredis.Redis, stream: str, log: list[Event], handler: Applied, **options: int
) -> StreamConsumer:
    consumer = StreamConsumer(
        redis_client,
        LogReplay(log),
        handler,
        stream=stream,
        group="billing",
        consumer="billing-1",
        block_ms=options.pop("block_ms", 10),
        **options,
    )
    await consumer.ensure_group()
    return consumer


async def _drain(consumer: StreamConsumer) -> None:
    while await consumer.poll():
        pass


def test_an_entry_decodes_to_the_event_it_was_made_from() -> None:
    event = _event(2)
    fields = {key.encode(): value.encode() for key, value in stream_fields(OutboxEntry.of(event)).items()}

    assert decode_entry(fields) == event


async def test_a_duplicate_entry_is_applied_once_and_both_are_acknowledged(
    redis_client: aioredis.Redis, stream: str
) -> None:
    first = _event(1)
    handler = Applied()
    consumer = await _consumer(redis_client, stream, [first], handler)
    await _publish(redis_client, stream, first, first)

    await _drain(consumer)

    assert handler.versions == [1]
    assert consumer.stats.duplicates == 1
    assert (await redis_client.xpending(stream, "billing"))["pending"] == 0


async def test_a_version_already_applied_is_ignored_even_once_its_id_is_forgotten(
    redis_client: aioredis.Redis, stream: str
) -> None:
    log = [_event(1), _event(2)]
    handler = Applied()
    consumer = await _consumer(redis_client, stream, log, handler, remembered_ids=1)
    await _publish(redis_client, stream, *log, log[0])

    await _drain(consumer)

    assert handler.versions == [1, 2]
    assert consumer.stats.stale == 1


async def test_a_skipped_version_is_recovered_from_the_replay_in_order(
    redis_client: aioredis.Redis, stream: str
) -> None:
    log = [_event(1), _event(2), _event(3)]
    handler = Applied()
    consumer = await _consumer(redis_client, stream, log, handler)
    await _publish(redis_client, stream, log[0], log[2])

    await _drain(consumer)

    assert handler.versions == [1, 2, 3]
    assert consumer.stats.recoveries == 1


async def test_entries_trimmed_before_they_were_read_are_recovered_from_the_replay(
    redis_client: aioredis.Redis, stream: str
) -> None:
    others = [uuid.uuid4() for _ in range(5)]
    log = [_event(1, user) for user in others] + [_event(version) for version in range(1, 6)]
    handler = Applied()
    consumer = await _consumer(redis_client, stream, log, handler, batch=2)
    await _publish(redis_client, stream, *log)
    await consumer.poll()

    await redis_client.xtrim(stream, maxlen=2, approximate=False)
    await _drain(consumer)

    assert sorted(handler.versions) == sorted(event.version for event in log)
    assert consumer.stats.recoveries >= 1


async def test_an_entry_whose_handler_failed_is_delivered_again(redis_client: aioredis.Redis, stream: str) -> None:
    log = [_event(1), _event(2)]
    handler = Applied()
    consumer = await _consumer(redis_client, stream, log, handler)
    await _publish(redis_client, stream, *log)
    handler.fail_next = True

    with pytest.raises(RuntimeError):
        await consumer.poll()
    await _drain(consumer)

    assert handler.versions == [1, 2]
    assert (await redis_client.xpending(stream, "billing"))["pending"] == 0
