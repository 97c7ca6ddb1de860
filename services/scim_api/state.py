"""What one API process holds: settings, the pool, the Redis client and the services built on them."""

from __future__ import annotations

from dataclasses import dataclass

from arq.connections import ArqRedis
from litestar import Request
from litestar.datastructures import State

from shared.db import Pool
from shared.scim.listing import ListLimits
from shared.services.access import AccessService
from shared.services.provisioning import ProvisioningService
from shared.services.tenants import TenantService
from shared.settings import Settings

__all__ = ["ApiServices", "services_of"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiServices:
    settings: Settings
    pool: Pool
    queue: ArqRedis
    tenants: TenantService
    provisioning: ProvisioningService
    access: AccessService
    list_limits: ListLimits


def services_of(request: Request[object, object, State]) -> ApiServices:
    """The services of the app serving ``request`` (set up by the lifespan)."""
    services: ApiServices = request.app.state["services"]
    return services
