"""Request bodies of SCIM writes: JSON as ``application/scim+json`` or ``application/json``, in any charset.

The design accepts both media types with any charset. A body without a Content-Type is read as JSON too (some
clients omit it); a body declared as anything else (XML, a form) is 415. A declared charset other than UTF-8 is
transcoded, and a UTF-8 byte order mark is dropped, so the JSON decoders always see UTF-8. A body sent with a
content coding (gzip, br, ...) is 415: the service reads bodies as sent, and says so rather than misreading them.
"""

from __future__ import annotations

import codecs

from litestar import Request
from litestar.datastructures import State

from shared.scim.errors import InvalidSyntaxError, UnsupportedMediaTypeError

__all__ = ["json_body"]

_JSON_TYPES = frozenset({"application/scim+json", "application/json", "text/json"})
_UTF8 = frozenset({"utf-8", "utf8"})


async def json_body(request: Request[object, object, State]) -> bytes:
    """The request body as UTF-8 JSON bytes (not yet parsed)."""
    body = await request.body()
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    media_type = media_type.strip().lower()
    if media_type and media_type not in _JSON_TYPES and not media_type.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"send the body as application/scim+json or application/json, not {media_type[:64]}"
        )

    coding = request.headers.get("content-encoding", "").strip().lower()
    if coding not in ("", "identity"):
        raise UnsupportedMediaTypeError(
            f"Content-Encoding {coding[:32]!r} is not supported; send the body uncompressed"
        )

    charset = _charset(parameters)
    if charset is not None and charset not in _UTF8:
        body = _transcode(body, charset)
    return body.removeprefix(codecs.BOM_UTF8)


def _charset(parameters: str) -> str | None:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def _transcode(body: bytes, charset: str) -> bytes:
    try:
        return body.decode(charset).encode("utf-8")
    except LookupError:
        raise UnsupportedMediaTypeError(f"unknown charset {charset[:32]!r}; UTF-8 is always understood") from None
    except UnicodeDecodeError:
        raise InvalidSyntaxError(f"the body is not valid {charset[:32]}") from None
