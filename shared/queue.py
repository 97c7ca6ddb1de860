"""The Redis connection the relay publishes through, with ARQ's job encoding set to msgspec (never pickle)."""

from __future__ import annotations

import msgspec
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

from shared.settings import Settings

__all__ = ["decode_job", "encode_job", "open_queue"]

encode_job = msgspec.msgpack.encode
decode_job = msgspec.msgpack.decode


def open_queue(settings: Settings) -> ArqRedis:
    """A Redis client for the stream and the job queue. It connects lazily, so a process starts with Redis down."""
    assert settings.redis_url is not None  # noqa: S101 - processes start only with a Redis URL
    pool = ConnectionPool.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    return ArqRedis(
        pool,
        job_serializer=encode_job,
        job_deserializer=decode_job,
        default_queue_name=settings.queue_name,
    )
