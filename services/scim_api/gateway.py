"""The outermost ASGI layer: path normalization, request ids, a body deadline and one summary log line per request.

Identity providers build URLs from a configured base, so ``//Users``, ``/Users/`` and ``//Users/{id}`` arrive
and must route like the plain path without a redirect (the design's wire contract). The framework routes on
``scope["path"]``, so the path is cleaned here, before routing.

A client that stops sending in the middle of a body would otherwise hold its connection (and a database-free but
still open request) for as long as it likes: the body must arrive within ``body_timeout_seconds`` of the request's
start, or reading it raises ``RequestTimeoutError``, which the exception handlers answer with a 408.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import cast

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, ReceiveMessage, Scope, Send

from shared import metrics
from shared.scim.errors import RequestTimeoutError

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

    def __init__(self, app: ASGIApp, *, body_timeout_seconds: float = 30.0) -> None:
        self.app = app
        self.body_timeout_seconds = body_timeout_seconds

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
            await self.app(http_scope, self._with_body_deadline(receive), send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = str(http_scope.get("path_template") or "unmatched")
            method = http_scope["method"] if http_scope["method"] in _METHODS else "other"
            metrics.REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.REQUEST_SECONDS.labels(method=method, route=route).observe(seconds)
            if route not in ("/healthz", "/readyz", "/metrics"):
                logger.info("request", method=method, route=route, status=status, seconds=round(seconds, 4))
            structlog.contextvars.clear_contextvars()

    def _with_body_deadline(self, receive: Receive) -> Receive:
        """``receive``, failing once the body has not fully arrived by the deadline; unbounded after the body."""
        deadline = asyncio.get_running_loop().time() + self.body_timeout_seconds
        body_done = False

        async def receive_within_deadline() -> ReceiveMessage:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeoutError(
                    f"the request body did not arrive within {self.body_timeout_seconds:g} s"
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        return receive_within_deadline


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None
