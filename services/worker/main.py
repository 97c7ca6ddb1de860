"""The worker process: ARQ settings, and a loop that keeps the worker alive while Redis comes and goes.

ARQ's own runner exits as soon as a Redis command fails. Here ``serve`` runs one ARQ worker at a time on a Redis
client and a PostgreSQL pool that outlive it; when Redis is lost it lets the jobs in flight finish their
PostgreSQL work, logs ``worker_redis_lost`` and starts a new ARQ worker with back-off until Redis answers again.
Jobs are not lost meanwhile: they wait in Redis, and the reconciler re-drives any event whose effects were never
recorded. SIGINT or SIGTERM stops taking jobs, waits a moment for the running ones, and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any, ClassVar

import redis.exceptions
import structlog
from arq import cron
from arq.cron import CronJob
from arq.worker import Function, Worker, create_worker, func
from prometheus_client import start_http_server

from services.worker.jobs import JOB_DEADLINE_MARGIN_SECONDS, apply_event, reconcile
from shared.db import create_pool
from shared.queue import decode_job, encode_job, open_queue
from shared.relay import APPLY_EVENT
from shared.services.effects import EffectsService
from shared.settings import Settings

__all__ = ["WorkerSettings", "serve", "worker_options"]

logger = structlog.get_logger(__name__)

_STOP_GRACE_SECONDS = 10.0
_MAX_RESTART_DELAY_SECONDS = 10.0
_REDIS_ERRORS = (redis.exceptions.RedisError, OSError)


async def startup(ctx: dict[str, Any]) -> None:
    """Called by ARQ once it reaches Redis: each time the worker (re)starts."""
    settings: Settings = ctx["settings"]
    ctx["started"] = True
    logger.info("worker_started", queue=settings.queue_name, concurrency=settings.worker_concurrency)


class WorkerSettings:
    """What every worker runs; ``worker_options`` adds what comes from the environment."""

    functions: ClassVar[list[Function]] = [func(apply_event, name=APPLY_EVENT)]
    on_startup = startup
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
    """Keyword arguments for ``arq.worker.create_worker(WorkerSettings, redis_pool=..., ctx=..., **options)``."""
    reconciler: CronJob = cron(reconcile, name="reconcile", run_at_startup=True, **_every(settings.reconcile_seconds))
    return {
        "queue_name": settings.queue_name,
        "max_jobs": settings.worker_concurrency,
        "poll_delay": settings.worker_poll_seconds,
        "max_tries": settings.worker_max_tries + 1,
        # The job gives up at its own deadline and records the failure; ARQ's is a backstop a little later.
        "job_timeout": settings.job_timeout_seconds + JOB_DEADLINE_MARGIN_SECONDS,
        "cron_jobs": [reconciler],
        "health_check_key": f"{settings.queue_name}:health-check",
    }


async def serve(settings: Settings) -> None:
    """Run the worker until SIGINT or SIGTERM, starting ARQ again with back-off whenever Redis is lost."""
    assert settings.database_url is not None  # noqa: S101 - scimctl checks this before starting a worker
    pool = await create_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    queue = open_queue(settings)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    shared = {"settings": settings, "pool": pool, "effects": EffectsService(pool)}
    failures = 0
    try:
        while not stop.is_set():
            ctx = dict(shared)
            worker = create_worker(
                WorkerSettings,  # type: ignore[arg-type]  # arq reads a plain settings class; its Protocol wants ClassVar-free attributes
                redis_pool=queue,
                ctx=ctx,
                handle_signals=False,
                **worker_options(settings),
            )
            lost = await _run_once(worker, stop, settings)
            if lost is None:
                break
            failures = 1 if ctx.get("started") else failures + 1
            delay = min(_MAX_RESTART_DELAY_SECONDS, 0.5 * 2 ** (failures - 1))
            logger.warning("worker_redis_lost", error=type(lost).__name__, attempt=failures, restart_in=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
    finally:
        await queue.aclose()
        await pool.close()
        logger.info("worker_stopped")


async def _run_once(worker: Worker, stop: asyncio.Event, settings: Settings) -> BaseException | None:
    """Run one ARQ worker until ``stop`` is set (None) or Redis fails it (the error); other errors propagate."""
    main = asyncio.create_task(worker.async_run(), name="arq-worker")
    stopping = asyncio.create_task(stop.wait(), name="worker-stop")
    try:
        await asyncio.wait({main, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()

    if not main.done():
        worker.allow_pick_jobs = False
        await _finish_jobs(worker, within=_STOP_GRACE_SECONDS)
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError, *_REDIS_ERRORS):
            await main
        with contextlib.suppress(*_REDIS_ERRORS):
            await worker.pool.delete(worker.health_check_key)
        return None

    # Jobs in flight finish their PostgreSQL transaction; only their ARQ bookkeeping fails with Redis gone.
    await _finish_jobs(worker, within=settings.job_timeout_seconds + JOB_DEADLINE_MARGIN_SECONDS)
    error = main.exception()
    if error is None or isinstance(error, _REDIS_ERRORS):
        return error
    raise error


async def _finish_jobs(worker: Worker, *, within: float) -> None:
    """Wait up to ``within`` seconds for the worker's running jobs, then cancel what is left."""
    running = [task for task in worker.tasks.values() if not task.done()]
    if running:
        _, late = await asyncio.wait(running, timeout=within)
        for task in late:
            task.cancel()
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
