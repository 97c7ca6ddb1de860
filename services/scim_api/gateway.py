"""The outermost ASGI layer: path normalization, request ids, a body deadline and one summary log line per request.

Identity providers build URLs from a configured base, so ``//Users``, ``/Users/`` and ``//Users/{id}`` arrive
and must route like the plain path without a redirect (the design's wire contract). The framework routes on
``scope["path"]``, so the path is cleaned here, before routing.

A client that stops sending in the middle of a body would otherwise hold its connection (and a database-free but
still open request) for as long as it likes: the body must arrive within ``body_timeout_seconds`` of the request's
start, or reading it raises ``RequestTimeoutError``, which the exception handlers answer with a 408.

HTTP semantics the framework leaves to us: ``HEAD`` is served as ``GET`` without the body (RFC 9110 §9.3.2), and
every ``405`` and ``OPTIONS`` answer carries an ``Allow`` header listing the methods of the route the path names.
``reject_invalid_host`` runs before every handler: URLs in answers are built from ``Host``, and a write must not
commit and then fail to render, so a malformed ``Host`` is a 400 before anything happens (RFC 9110 §7.2).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterable
from typing import cast

import structlog
from litestar import Request
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, ReceiveMessage, Scope, Send

from shared import metrics
from shared.scim.errors import BadRequestError, RequestTimeoutError

__all__ = ["AllowedMethods", "Gateway", "normalize_path", "reject_invalid_host"]

logger = structlog.get_logger(__name__)

_SLASHES = re.compile(r"/{2,}")
# RFC 3986 §3.2.2: an IP literal in brackets, or a reg-name / IPv4 address; then an optional port.
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~%!$&'()*+,;=-]*)(?::(?P<port>[0-9]{0,5}))?")
_PARAMETER = re.compile(r"\{[^}:]+(:[^}]+)?\}")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Metric labels take only these methods: anything a client invents is "other", so series stay bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def normalize_path(path: str) -> str:
    """Collapse repeated slashes and drop a trailing one (the root stays ``/``)."""
    cleaned = _SLASHES.sub("/", path)
    if len(cleaned) > 1:
        cleaned = cleaned.rstrip("/") or "/"
    return cleaned


class AllowedMethods:
    """Which methods each route accepts, looked up by request path (for ``Allow`` headers)."""

    def __init__(self, routes: Iterable[tuple[str, Iterable[str]]]) -> None:
        table = []
        for template, methods in routes:
            allowed = {method.upper() for method in methods} | {"OPTIONS"}
            if "GET" in allowed:
                allowed.add("HEAD")
            table.append((template.count("{"), _template_pattern(template), ", ".join(sorted(allowed))))
        # A fixed segment wins over a parameter, as in routing: ``/Users/.search`` is not ``/Users/{id}``.
        table.sort(key=lambda row: row[0])
        self._table = [(pattern, allow) for _, pattern, allow in table]

    def for_path(self, path: str) -> str | None:
        """The ``Allow`` value for ``path``, or None when no route has that path."""
        for pattern, allow in self._table:
            if pattern.fullmatch(path):
                return allow
        return None


def _template_pattern(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    for match in _PARAMETER.finditer(template):
        parts.append(re.escape(template[position : match.start()]))
        parts.append(".*" if match.group(1) == ":path" else "[^/]+")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))


class Gateway:
    """Wraps the Litestar app; see the module docstring."""

    def __init__(
        self, app: ASGIApp, *, allowed_methods: AllowedMethods | None = None, body_timeout_seconds: float = 30.0
    ) -> None:
        self.app = app
        self.allowed_methods = allowed_methods or AllowedMethods([])
        self.body_timeout_seconds = body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        path = normalize_path(scope["path"])
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        head = scope["method"] == "HEAD"
        http_scope = cast(
            "HTTPScope",
            {
                **scope,
                "path": path,
                "raw_path": path.encode("utf-8", "surrogateescape"),
                "method": "GET" if head else scope["method"],
            },
        )
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if status == 405 or scope["method"] == "OPTIONS":
                    headers = self._with_allow(headers, path)
                message = cast("Message", {**message, "headers": headers})
            elif message["type"] == "http.response.body" and head:
                message = cast("Message", {**message, "body": b""})
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(http_scope, self._with_body_deadline(receive), send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = str(http_scope.get("path_template") or "unmatched")
            method = scope["method"] if scope["method"] in _METHODS else "other"
            metrics.REQUESTS.labels(method=method, route=route, status=str(status)).inc()
            metrics.REQUEST_SECONDS.labels(method=method, route=route).observe(seconds)
            if route not in ("/healthz", "/readyz", "/metrics"):
                logger.info("request", method=method, route=route, status=status, seconds=round(seconds, 4))
            structlog.contextvars.clear_contextvars()

    def _with_allow(self, headers: list[tuple[bytes, bytes]], path: str) -> list[tuple[bytes, bytes]]:
        allow = self.allowed_methods.for_path(path)
        if allow is None:
            return headers
        return [(name, value) for name, value in headers if name.lower() != b"allow"] + [(b"allow", allow.encode())]

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


async def reject_invalid_host(request: Request[object, object, State]) -> None:
    """Refuse a request whose ``Host`` header is not ``host[:port]`` (a ``before_request`` hook)."""
    host = request.headers.get("host")
    if host is None:
        return
    match = _HOST.fullmatch(host)
    port = match.group("port") if match else None
    if match is None or (port and int(port) > 65535):
        raise BadRequestError("the Host header is not a valid host[:port]")


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None
