"""The outermost ASGI layer: path normalization, request ids and one summary log line per request.

Identity providers build URLs from a configured base, so ``//Users``, ``/Users/`` and ``//Users/{id}`` arrive
and must route like the plain path without a redirect (the design's wire contract). The framework routes on
``scope["path"]``, so the path is cleaned here, before routing.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import cast

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from shared import metrics

__all__ = ["Gateway", "normalize_path"]

logger = structlog.get_logger(__name__)

_SLASHES = re.compile(r"/{2,}")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Metric labels take only these methods: anything a client invents is "other", so series stay bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def normalize_path(path: str) -> str:
    """Collapse repeated slashes and drop a trailing one (the root stays ``/``)."""
    cleaned = _SLASHES.sub("/", path)
    if len(cleaned) > 1:
        cleaned = cleaned.rstrip("/") or "/"
    return cleaned


class Gateway:
    """Wraps the Litestar app; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        path = normalize_path(scope["path"])
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        http_scope = cast("HTTPScope", {**scope, "path": path, "raw_path": path.encode("utf-8", "surrogateescape")})
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = cast("Message", {**message, "headers": headers})
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(http_scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = str(http_scope.get("path_template") or "unmatched")
            method = http_scope["method"] if http_scope["method"] in _METHODS else "other"
            metrics.REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.REQUEST_SECONDS.labels(method=method, route=route).observe(seconds)
            if route not in ("/healthz", "/readyz", "/metrics"):
                logger.info("request", method=method, route=route, status=status, seconds=round(seconds, 4))
            structlog.contextvars.clear_contextvars()


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None
