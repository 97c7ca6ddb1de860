"""Worker jobs: thin wrappers that call the shared effects service.

``apply_event`` is keyed by event id; it retries with exponential back-off and, after the last attempt, records
a dead letter with the error. A run that does not finish within ``SCIM_JOB_TIMEOUT_SECONDS`` is a failed attempt
like any other (ARQ's own timeout is a backstop set a little later, so the job still gets to record it).
``reconcile`` (a cron job) re-enqueues published events whose outcome was never recorded, so a job that ARQ
dropped, expired or lost with a killed worker still runs.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from arq import Retry
from arq.connections import ArqRedis

from shared import metrics
from shared.relay import APPLY_EVENT
from shared.repositories import events
from shared.services.effects import EffectsService
from shared.settings import Settings

__all__ = ["JOB_DEADLINE_MARGIN_SECONDS", "apply_event", "reconcile"]

logger = structlog.get_logger(__name__)

_REDRIVE_BATCH = 1000

JOB_DEADLINE_MARGIN_SECONDS = 2
"""How much later than the job's own deadline ARQ cancels it: time left to record a retry or a dead letter."""


async def apply_event(ctx: dict[str, Any], event_id: str) -> None:
    """Apply one event's side effects; retry on failure, dead-letter after the last try."""
    settings: Settings = ctx["settings"]
    effects: EffectsService = ctx["effects"]
    attempt: int = ctx["job_try"]
    started = time.perf_counter()
    structlog.contextvars.bind_contextvars(job_id=ctx.get("job_id"), event_id=event_id)
    try:
        async with asyncio.timeout(settings.job_timeout_seconds):
            result = await effects.apply(UUID(event_id), attempt=attempt)
    except Exception as exc:
        error = _describe(exc, settings)
        if attempt >= settings.worker_max_tries:
            if await effects.dead_letter(UUID(event_id), attempts=attempt, error=error):
                metrics.JOBS.labels(outcome="dead_lettered").inc()
                logger.warning("job_dead_lettered", attempts=attempt, error=type(exc).__name__)
            else:
                logger.debug("job_failed_after_outcome_recorded", attempts=attempt, error=type(exc).__name__)
            return
        delay = settings.worker_retry_base_seconds * 2 ** (attempt - 1)
        metrics.JOBS.labels(outcome="retried").inc()
        logger.info("job_retry", attempt=attempt, retry_in=delay, error=type(exc).__name__)
        raise Retry(defer=delay) from exc
    finally:
        structlog.contextvars.unbind_contextvars("job_id", "event_id")

    if not result.found:
        metrics.JOBS.labels(outcome="unknown_event").inc()
        logger.warning("job_unknown_event", event_id=event_id)
        return
    if result.effects and result.event_type in ("user.deactivated", "user.deleted") and result.occurred_at:
        metrics.DEACTIVATION_LATENCY.observe((datetime.now(UTC) - result.occurred_at).total_seconds())
    metrics.JOBS.labels(outcome="succeeded").inc()
    logger.info(
        "job_done",
        event_id=event_id,
        org_id=str(result.org_id),
        type=result.event_type,
        effects=list(result.effects),
        attempt=attempt,
        seconds=round(time.perf_counter() - started, 4),
    )


def _describe(exc: Exception, settings: Settings) -> str:
    if isinstance(exc, TimeoutError):
        return f"TimeoutError: no outcome within {settings.job_timeout_seconds} s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def reconcile(ctx: dict[str, Any]) -> int:
    """Re-enqueue published events without a recorded outcome; return how many were enqueued anew."""
    settings: Settings = ctx["settings"]
    redis: ArqRedis = ctx["redis"]
    async with ctx["pool"].acquire() as connection:
        stale = await events.unapplied(
            connection, published_before_seconds=settings.reconcile_grace_seconds, limit=_REDRIVE_BATCH
        )
    redriven = 0
    for event_id in stale:
        job = await redis.enqueue_job(
            APPLY_EVENT, str(event_id), _job_id=str(event_id), _queue_name=settings.queue_name
        )
        redriven += job is not None
    if redriven:
        metrics.RECONCILER_REDRIVES.inc(redriven)
        logger.warning("reconciler_redrove", events=redriven, found=len(stale))
    return redriven
