"""The worker's ARQ settings and its start-up and shut-down."""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from arq import cron
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Function, func
from prometheus_client import start_http_server

from services.worker.jobs import JOB_DEADLINE_MARGIN_SECONDS, apply_event, reconcile
from shared.db import create_pool
from shared.queue import decode_job, encode_job
from shared.relay import APPLY_EVENT
from shared.services.effects import EffectsService
from shared.settings import Settings

__all__ = ["WorkerSettings", "worker_options"]

logger = structlog.get_logger(__name__)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    assert settings.database_url is not None  # noqa: S101 - scimctl checks this before starting a worker
    ctx["pool"] = await create_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    ctx["effects"] = EffectsService(ctx["pool"])
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port)
    logger.info("worker_started", queue=settings.queue_name, concurrency=settings.worker_concurrency)


async def shutdown(ctx: dict[str, Any]) -> None:
    pool = ctx.get("pool")
    if pool is not None:
        await pool.close()
    logger.info("worker_stopped")


class WorkerSettings:
    """What every worker runs; ``worker_options`` adds what comes from the environment."""

    functions: ClassVar[list[Function]] = [func(apply_event, name=APPLY_EVENT)]
    on_startup = startup
    on_shutdown = shutdown
    job_serializer = encode_job
    job_deserializer = decode_job
    keep_result = 0  # results are not kept, so the reconciler can re-enqueue an event under its own id
    retry_jobs = True


def _every(seconds: int) -> dict[str, Any]:
    """Cron fields that fire every ``seconds`` (rounded to what a minute or an hour can divide)."""
    if seconds < 60:
        step = next(step for step in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30) if step >= seconds)
        return {"second": set(range(0, 60, step))}
    minutes = max(1, min(seconds // 60, 60))
    step = next(step for step in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60) if step >= minutes)
    return {"minute": set(range(0, 60, step)), "second": 0}


def worker_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``arq.worker.run_worker(WorkerSettings, **options)``."""
    assert settings.redis_url is not None  # noqa: S101 - scimctl checks this before starting a worker
    reconciler: CronJob = cron(reconcile, name="reconcile", run_at_startup=True, **_every(settings.reconcile_seconds))
    return {
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.queue_name,
        "max_jobs": settings.worker_concurrency,
        "max_tries": settings.worker_max_tries + 1,
        # The job gives up at its own deadline and records the failure; ARQ's is a backstop a little later.
        "job_timeout": settings.job_timeout_seconds + JOB_DEADLINE_MARGIN_SECONDS,
        "cron_jobs": [reconciler],
        "ctx": {"settings": settings},
        "health_check_key": f"{settings.queue_name}:health-check",
    }
