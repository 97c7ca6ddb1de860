"""The API application: wiring of routes, error handling, and the resources each process holds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from services.scim_api.admin import AdminController, SessionController
from services.scim_api.errors import EXCEPTION_HANDLERS
from services.scim_api.gateway import AllowedMethods, Gateway, reject_invalid_host
from services.scim_api.health import healthz, metrics_endpoint, readyz
from services.scim_api.scim_service import DiscoveryController, UnsupportedController
from services.scim_api.scim_users import UsersController
from services.scim_api.state import ApiServices
from shared.db import create_pool
from shared.logging import configure_logging
from shared.queue import open_queue
from shared.relay import OutboxRelay
from shared.scim.listing import ListLimits
from shared.services.access import AccessService
from shared.services.provisioning import ProvisioningService
from shared.services.tenants import TenantService
from shared.settings import Settings

__all__ = ["app_from_env", "create_app"]

logger = structlog.get_logger(__name__)


def create_app(settings: Settings) -> Gateway:
    """The ASGI application for ``settings`` (database and Redis URLs required)."""
    if settings.database_url is None or settings.redis_url is None:
        raise ValueError("the API needs DATABASE_URL and REDIS_URL")

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        assert settings.database_url is not None  # noqa: S101 - checked above
        pool = await create_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
        queue = open_queue(settings)
        app.state["services"] = ApiServices(
            settings=settings,
            pool=pool,
            queue=queue,
            tenants=TenantService(pool, token_cache_seconds=settings.token_cache_seconds),
            provisioning=ProvisioningService(pool),
            access=AccessService(pool, session_ttl_seconds=settings.session_ttl_seconds),
            list_limits=ListLimits(
                default_count=settings.list_default_count,
                max_count=settings.list_max_count,
                filter_max_length=settings.filter_max_length,
                filter_max_depth=settings.filter_max_depth,
            ),
        )
        relay = None
        if settings.relay_enabled:
            relay = asyncio.create_task(OutboxRelay(pool, queue, settings).run(), name="outbox-relay")
        logger.info("api_started", relay=settings.relay_enabled)
        try:
            yield
        finally:
            if relay is not None:
                relay.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relay
            await queue.aclose()
            await pool.close()
            logger.info("api_stopped")

    app = Litestar(
        route_handlers=[
            UsersController,
            DiscoveryController,
            UnsupportedController,
            AdminController,
            SessionController,
            healthz,
            readyz,
            metrics_endpoint,
        ],
        lifespan=[lifespan],
        before_request=reject_invalid_host,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]  # handlers are typed per exception class
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="SCIM provisioning", version="1.0.0", path="/api/openapi"),
        logging_config=None,
        debug=False,
    )
    return Gateway(
        app,
        allowed_methods=AllowedMethods((route.path, route.methods) for route in app.routes),
        body_timeout_seconds=settings.body_timeout_seconds,
    )


def app_from_env() -> Gateway:
    """Factory for the ASGI server: settings from the environment."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
