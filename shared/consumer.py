"""A downstream subscriber of the ``scim:events`` stream: the reference for teams that consume the events.

It reads with a consumer group (``XREADGROUP``), so the processes of one service share the entries and an entry
delivered but never acknowledged is delivered again; its own unacknowledged entries are read first after a
restart. Each entry is rebuilt into the event's JSON document and decoded with the shared ``EVENT_DECODER``. An
event is applied once per id and only when its version is the next one of its user; it is acknowledged
(``XACK``) once applied or found to be a duplicate or stale.

A gap is recovered from PostgreSQL through the admin API's replay (``GET /api/v1/events?after=...``, paged with
``next_after``). A gap is a version that skips one, or a stream whose oldest entry is newer than the last one
this consumer read (the entries in between may have been trimmed before it read them). Replay starts a margin
before the last event applied, because event ids come from the writer's clock when the write is made and a
write can commit a moment after a later id; what was already applied is skipped by id and version.

The state (versions, recent ids, last entry) lives in memory here. A real consumer keeps it with its own data,
in the transaction that applies each event, so that a crash never applies an event without recording it.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol
from uuid import UUID

import httpx
import msgspec
import redis.asyncio
import redis.exceptions
import structlog

from shared.events import EVENT_DECODER, Event

__all__ = [
    "ConsumerStats",
    "ReplayClient",
    "ReplaySource",
    "StreamConsumer",
    "decode_entry",
]

logger = structlog.get_logger(__name__)

Handler = Callable[[Event], Awaitable[None]]
Entry = tuple[bytes, Mapping[bytes, bytes] | None]


def decode_entry(fields: Mapping[bytes, bytes]) -> Event:
    """The event of one stream entry: its string fields rebuilt into the JSON document of the contract."""
    document = {
        "type": fields[b"type"].decode(),
        "id": fields[b"id"].decode(),
        "org_id": fields[b"org_id"].decode(),
        "user_id": fields[b"user_id"].decode(),
        "version": int(fields[b"version"]),
        "occurred_at": fields[b"occurred_at"].decode(),
        "data": msgspec.Raw(fields[b"data"]),
    }
    event: Event = EVENT_DECODER.decode(msgspec.json.encode(document))
    return event


class ReplaySource(Protocol):
    """Where a consumer recovers events the stream no longer has."""

    def events_after(self, after: UUID | None) -> AsyncIterator[Event]:
        """Every event with an id above ``after`` (all of them when None), in id order."""
        ...


class _ReplayPage(msgspec.Struct, frozen=True):
    events: list[Event]
    next_after: UUID | None


_PAGE_DECODER = msgspec.json.Decoder(_ReplayPage)


class ReplayClient:
    """Pages through ``GET /api/v1/events`` of the admin API, following ``next_after`` to the end.

    ``http`` carries the API's base URL and the admin bearer token; ``org_id`` limits the replay to one tenant.
    """

    def __init__(self, http: httpx.AsyncClient, *, org_id: UUID | None = None, page_size: int = 500) -> None:
        self._http = http
        self._org_id = org_id
        self._page_size = page_size

    async def events_after(self, after: UUID | None) -> AsyncIterator[Event]:
        while True:
            params = {"limit": str(self._page_size)}
            if after is not None:
                params["after"] = str(after)
            if self._org_id is not None:
                params["org_id"] = str(self._org_id)
            response = await self._http.get("/api/v1/events", params=params)
            response.raise_for_status()
            page = _PAGE_DECODER.decode(response.content)
            for event in page.events:
                yield event
            if page.next_after is None:
                return
            after = page.next_after


class ConsumerStats(msgspec.Struct, kw_only=True):
    """What a consumer did so far."""

    applied: int = 0
    duplicates: int = 0
    stale: int = 0
    recoveries: int = 0
    replayed: int = 0
    unfilled_gaps: int = 0


class StreamConsumer:
    """Reads the event stream as one member of a consumer group and hands each event to ``handler`` once."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        replay: ReplaySource,
        handler: Handler,
        *,
        stream: str,
        group: str,
        consumer: str,
        batch: int = 100,
        block_ms: int = 1000,
        replay_margin_seconds: float = 60.0,
        remembered_ids: int = 100_000,
    ) -> None:
        self._redis = client
        self._replay = replay
        self._handler = handler
        self._stream = stream
        self._group = group
        self._consumer = consumer
        self._batch = batch
        self._block_ms = block_ms
        self._margin_ms = int(replay_margin_seconds * 1000)
        self._remembered = remembered_ids
        self._pending_done = False
        self.versions: dict[UUID, int] = {}
        """The last version applied of each user."""
        self.last_event_id: UUID | None = None
        """The highest event id applied: where a replay starts (less the margin)."""
        self.last_entry_id: bytes | None = None
        """The stream entry up to which this consumer has every event (read, or recovered by replay)."""
        self._seen: OrderedDict[UUID, None] = OrderedDict()
        self.stats = ConsumerStats()

    async def ensure_group(self) -> None:
        """Create the consumer group at the start of the stream (and the stream) unless the group exists."""
        try:
            await self._redis.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def poll(self) -> int:
        """Read one batch (this consumer's unacknowledged entries first), apply and acknowledge it.

        Returns how many events were applied, replayed ones included. A handler error propagates and leaves
        its entry unacknowledged; the next poll reads it again.
        """
        applied = 0
        oldest = await self._oldest_entry_past_ours()
        if oldest is not None:
            applied += await self.recover("stream_trimmed")
            self.last_entry_id = oldest
        entries = await self._read()
        for entry_id, fields in entries:
            if fields:
                try:
                    applied += await self._consume(decode_entry(fields))
                except BaseException:
                    self._pending_done = False
                    raise
            else:  # trimmed after it was delivered to us and before we acknowledged it
                applied += await self.recover("pending_entry_trimmed")
            await self._redis.xack(self._stream, self._group, entry_id)
            self.last_entry_id = entry_id
        return applied

    async def recover(self, reason: str = "requested") -> int:
        """Apply every event the replay API has after the last one applied (less the margin), in version order."""
        self.stats.recoveries += 1
        after = None if self.last_event_id is None else _id_floor(self.last_event_id, self._margin_ms)
        missed = [event async for event in self._replay.events_after(after)]
        missed.sort(key=lambda event: (event.user_id, event.version))

        applied = 0
        for event in missed:
            if self._is_known(event):
                continue
            if event.version > self.versions.get(event.user_id, 0) + 1:
                self.stats.unfilled_gaps += 1  # the log has no earlier version either: apply the latest state
            await self._apply(event)
            applied += 1
        self.stats.replayed += applied
        logger.info("consumer_recovered", reason=reason, replayed=applied, read=len(missed))
        return applied

    async def _consume(self, event: Event) -> int:
        if event.id in self._seen:
            self.stats.duplicates += 1
            return 0
        last = self.versions.get(event.user_id, 0)
        if event.version <= last:
            self.stats.stale += 1
            return 0
        if event.version > last + 1:
            applied = await self.recover("version_gap")
            if not self._is_known(event):  # not in the replay either: apply the latest state anyway
                self.stats.unfilled_gaps += 1
                await self._apply(event)
                applied += 1
            return applied
        await self._apply(event)
        return 1

    def _is_known(self, event: Event) -> bool:
        return event.id in self._seen or event.version <= self.versions.get(event.user_id, 0)

    async def _apply(self, event: Event) -> None:
        await self._handler(event)
        self.versions[event.user_id] = event.version
        self._seen[event.id] = None
        if len(self._seen) > self._remembered:
            self._seen.popitem(last=False)
        if self.last_event_id is None or event.id > self.last_event_id:
            self.last_event_id = event.id
        self.stats.applied += 1

    async def _read(self) -> list[Entry]:
        if not self._pending_done:
            pending = await self._xreadgroup("0", block_ms=None)
            if pending:
                return pending
            self._pending_done = True
        return await self._xreadgroup(">", block_ms=self._block_ms)

    async def _xreadgroup(self, position: str, *, block_ms: int | None) -> list[Entry]:
        reply = await self._redis.xreadgroup(
            self._group, self._consumer, {self._stream: position}, count=self._batch, block=block_ms
        )
        if not reply:
            return []
        entries: list[Entry] = reply[0][1]
        return entries

    async def _oldest_entry_past_ours(self) -> bytes | None:
        """The oldest entry left in the stream when it is newer than ``last_entry_id`` (entries may be lost)."""
        if self.last_entry_id is None:
            return None
        oldest = await self._redis.xrange(self._stream, count=1)
        if oldest and _entry_order(oldest[0][0]) > _entry_order(self.last_entry_id):
            entry_id: bytes = oldest[0][0]
            return entry_id
        return None


def _entry_order(entry_id: bytes) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition(b"-")
    return int(milliseconds), int(sequence or 0)


def _id_floor(event_id: UUID, margin_ms: int) -> UUID:
    """The smallest UUIDv7 of ``margin_ms`` before ``event_id``'s timestamp (its first 48 bits)."""
    milliseconds = event_id.int >> 80
    return uuid.UUID(int=max(0, milliseconds - margin_ms) << 80)
