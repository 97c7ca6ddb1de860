"""Response helpers: every SCIM answer is ``application/scim+json``; admin answers are plain JSON."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response

from shared.scim.errors import ScimError
from shared.scim.schema import ERROR_URN

__all__ = ["SCIM_MEDIA_TYPE", "admin_error", "admin_json", "scim_error", "scim_error_for", "scim_json"]

SCIM_MEDIA_TYPE = "application/scim+json"

_encoder = msgspec.json.Encoder()


def scim_json(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    """A SCIM response with a JSON body."""
    return Response(content=_encoder.encode(body), status_code=status, media_type=SCIM_MEDIA_TYPE, headers=headers)


def scim_error(status: int, detail: str, scim_type: str | None = None) -> Response[bytes]:
    """A SCIM Error response (RFC 7644 §3.12): ``status`` is a string in the body."""
    body: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(status), "detail": detail}
    if scim_type is not None:
        body["scimType"] = scim_type
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return scim_json(body, status=status, headers=headers)


def scim_error_for(exc: ScimError) -> Response[bytes]:
    return scim_error(exc.status, exc.detail, exc.scim_type)


def admin_json(body: Any, *, status: int = 200) -> Response[bytes]:
    """An internal API response."""
    return Response(content=_encoder.encode(body), status_code=status, media_type="application/json")


def admin_error(status: int, error: str, detail: str) -> Response[bytes]:
    """An internal API error: ``{"error": code, "detail": text}``."""
    return admin_json({"error": error, "detail": detail}, status=status)
