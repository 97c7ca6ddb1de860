"""The outbox relay: moves committed events from PostgreSQL to Redis (design rule 3).

Each round locks a bounded batch of unpublished events (``FOR UPDATE SKIP LOCKED``, so every API replica may run
a relay), appends each to the stream, enqueues its worker job under the event id, and marks the batch published
in the same transaction. A crash or a Redis failure before the commit leaves the rows unpublished, so they go
out again: delivery is at least once, never lost. The relay sleeps until PostgreSQL notifies a new event
(``LISTEN``), or until the polling interval passes, whichever comes first. A round that fails, for whatever
reason, is logged and tried again with back-off; the relay itself never stops while its process runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import asyncpg
import msgspec
import redis.exceptions
import structlog
from arq.connections import ArqRedis

from shared import metrics
from shared.db import Pool
from shared.repositories import events
from shared.settings import Settings

__all__ = ["APPLY_EVENT", "OutboxRelay", "stream_fields"]

logger = structlog.get_logger(__name__)

APPLY_EVENT = "apply_event"
"""Name of the worker function that applies an event's side effects."""

_CHANNEL = "scim_outbox"
_TRIM_EVERY_SECONDS = 60.0
_MAX_BACKOFF_SECONDS = 10.0
_OUTAGES = (OSError, redis.exceptions.RedisError, asyncpg.PostgresError, asyncpg.InterfaceError)


def stream_fields(entry: events.OutboxEntry) -> dict[str, str]:
    """The stream entry of an outbox row: the contract's fields, ``data`` as JSON text."""
    return {
        "id": str(entry.id),
        "type": entry.type,
        "org_id": str(entry.org_id),
        "user_id": str(entry.user_id),
        "version": str(entry.version),
        "occurred_at": entry.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": msgspec.json.encode(entry.data).decode(),
    }


class OutboxRelay:
    """Publishes the outbox; ``run()`` until cancelled, or ``publish_once()`` for one round."""

    def __init__(self, pool: Pool, redis: ArqRedis, settings: Settings) -> None:
        self._pool = pool
        self._redis = redis
        self._settings = settings
        self._wake = asyncio.Event()
        self._last_trim = 0.0

    async def publish_once(self) -> int:
        """Publish one batch; return how many events went out."""
        async with self._pool.acquire() as connection, connection.transaction():
            batch = await events.claim_unpublished(connection, self._settings.relay_batch_size)
            if not batch:
                return 0
            await self._send(batch)
            await events.mark_published(connection, [event.id for event in batch])
        for event in batch:
            metrics.EVENTS_PUBLISHED.labels(type=event.type).inc()
        return len(batch)

    async def drain(self) -> int:
        """Publish until nothing is left that may go out now; return how many events went out."""
        total = 0
        while published := await self.publish_once():
            total += published
        return total

    async def run_round(self) -> int:
        """Drain the outbox and trim the stream; return how many events went out.

        The backlog metrics are updated even when publishing fails: a Redis outage is when they matter.
        """
        try:
            published = await self.drain()
            await self._maybe_trim()
        finally:
            with contextlib.suppress(*_OUTAGES):
                await self._observe_backlog()
        return published

    async def run(self) -> None:
        """Relay forever: drain, then wait for a notification or the polling interval."""
        listener = asyncio.create_task(self._listen(), name="outbox-listener")
        failures = 0
        try:
            while True:
                self._wake.clear()
                try:
                    published = await self.run_round()
                except Exception as exc:
                    failures += 1
                    metrics.RELAY_FAILURES.inc()
                    delay = min(_MAX_BACKOFF_SECONDS, 0.25 * 2 ** min(failures, 6))
                    if isinstance(exc, _OUTAGES):
                        logger.warning("relay_round_failed", error=type(exc).__name__, retry_in=delay)
                    else:
                        logger.exception("relay_round_crashed", error=type(exc).__name__, retry_in=delay)
                    await asyncio.sleep(delay)
                    continue
                if failures:
                    logger.info("relay_recovered", after_failures=failures)
                    failures = 0
                if published:
                    logger.debug("relay_published", events=published)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._settings.relay_poll_seconds)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _send(self, batch: list[events.OutboxEntry]) -> None:
        stream = self._settings.stream_key
        max_length = self._settings.stream_max_length or None
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in batch:
                pipe.xadd(stream, stream_fields(event), maxlen=max_length, approximate=True)  # type: ignore[arg-type]  # str fields are valid
            await pipe.execute()
        for event in batch:
            # A job id still queued or running is refused by ARQ: the earlier job does the same work.
            await self._redis.enqueue_job(
                APPLY_EVENT, str(event.id), _job_id=str(event.id), _queue_name=self._settings.queue_name
            )

    async def _maybe_trim(self) -> None:
        max_age = self._settings.stream_max_age_seconds
        now = time.monotonic()
        if not max_age or now - self._last_trim < _TRIM_EVERY_SECONDS:
            return
        self._last_trim = now
        oldest_kept_ms = int((time.time() - max_age) * 1000)
        await self._redis.xtrim(self._settings.stream_key, minid=f"{oldest_kept_ms}-0", approximate=True)

    async def _observe_backlog(self) -> None:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(
                "SELECT count(*) AS backlog, min(occurred_at) AS oldest FROM events WHERE published_at IS NULL"
            )
        assert row is not None  # noqa: S101 - an aggregate always returns one row
        metrics.OUTBOX_BACKLOG.set(row["backlog"])
        oldest: datetime | None = row["oldest"]
        metrics.OUTBOX_OLDEST_AGE.set(0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds())

    async def _listen(self) -> None:
        """Keep a LISTEN connection open and wake the relay on every notification; reconnect on failure."""
        dsn = self._settings.database_url
        assert dsn is not None  # noqa: S101 - processes start only with a database URL
        while True:
            try:
                connection = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("relay_listen_connect_failed", error=type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            try:
                await self._listen_until_closed(connection)
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()

    async def _listen_until_closed(self, connection: asyncpg.Connection[asyncpg.Record]) -> None:
        closed = asyncio.Event()
        connection.add_termination_listener(lambda *_: closed.set())
        await connection.add_listener(_CHANNEL, lambda *_: self._wake.set())
        self._wake.set()  # events committed while nobody listened
        await closed.wait()
        logger.warning("relay_listen_connection_lost")
