"""Exception handlers: one place turns every error into a SCIM Error (under ``/scim/v2``) or admin JSON.

No client input gets a 500: domain errors carry their status, framework errors (unknown route, wrong method,
oversized body, malformed parameters) are mapped, and anything unexpected is logged with its traceback and
answered with a generic 500 that names the request id.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException

from services.scim_api.responses import admin_error, scim_error, scim_error_for
from shared.scim.errors import ScimError

__all__ = ["EXCEPTION_HANDLERS", "SCIM_PREFIX"]

logger = structlog.get_logger(__name__)

SCIM_PREFIX = "/scim/v2"

_SCIM_DETAILS = {
    400: ("the request is malformed", "invalidSyntax"),
    401: ("a bearer token is required", None),
    403: ("access denied", None),
    404: ("no such SCIM endpoint or resource", None),
    405: ("this endpoint does not accept this method", None),
    413: ("the request body is larger than the service accepts", None),
    415: ("send JSON (application/scim+json or application/json)", None),
}


def _is_scim(request: Request[Any, Any, Any]) -> bool:
    path = request.scope["path"]
    return path == SCIM_PREFIX or path.startswith(SCIM_PREFIX + "/")


def handle_scim_error(request: Request[Any, Any, Any], exc: ScimError) -> Response[bytes]:
    if _is_scim(request):
        return scim_error_for(exc)
    return admin_error(exc.status, exc.scim_type or "error", exc.detail)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:
        logger.error("http_exception", status=status, error=type(exc).__name__)
    if _is_scim(request):
        detail, scim_type = _SCIM_DETAILS.get(status, ("the request could not be served", None))
        if status == 405:
            detail = f"{request.method} is not allowed on {request.scope['path']}"
        return scim_error(status, detail, scim_type)
    return admin_error(status, "http_error", str(exc.detail or "the request could not be served"))


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    if isinstance(exc, asyncpg.PostgresError):
        # A database error's text and detail can quote row values (personal data): log what identifies it only.
        logger.error(
            "unhandled_database_error",
            error=type(exc).__name__,
            sqlstate=exc.sqlstate,
            constraint=getattr(exc, "constraint_name", None),
            table=getattr(exc, "table_name", None),
        )
    else:
        logger.exception("unhandled_error", error=type(exc).__name__)
    detail = "internal error; the request id in the X-Request-Id header identifies it in the service's logs"
    if _is_scim(request):
        return scim_error(500, detail)
    return admin_error(500, "internal_error", detail)


EXCEPTION_HANDLERS = {
    ScimError: handle_scim_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
