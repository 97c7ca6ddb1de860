"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from litestar import Request, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.scim_api.responses import admin_json
from services.scim_api.state import services_of

__all__ = ["healthz", "metrics_endpoint", "readyz"]

_CHECK_TIMEOUT = 2.0


@get("/healthz", sync_to_thread=False)
def healthz() -> Response[bytes]:
    """The process is up."""
    return admin_json({"status": "ok"})


@get("/readyz")
async def readyz(request: Request[object, object, State]) -> Response[bytes]:
    """Ready when PostgreSQL answers. Redis is reported but does not decide readiness.

    SCIM writes commit to PostgreSQL and never wait for Redis (the outbox catches up), so taking replicas out of
    rotation while Redis is down would turn a delay of events into an outage of provisioning.
    """
    services = services_of(request)
    database = await _check(services.pool.fetchval("SELECT 1"))
    redis = await _check(services.queue.ping())
    status = 200 if database == "ok" else 503
    return admin_json(
        {"status": "ready" if status == 200 else "not_ready", "database": database, "redis": redis}, status=status
    )


@get("/metrics", sync_to_thread=False)
def metrics_endpoint() -> Response[bytes]:
    """Prometheus exposition of this process's metrics."""
    # The framework adds the charset itself; the library's content type already names one.
    return Response(content=generate_latest(), media_type=CONTENT_TYPE_LATEST.replace("; charset=utf-8", ""))


async def _check(probe: object) -> str:
    try:
        await asyncio.wait_for(probe, timeout=_CHECK_TIMEOUT)  # type: ignore[arg-type]  # an awaitable probe
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"
