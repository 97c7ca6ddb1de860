"""Query parameters of SCIM list and search requests (RFC 7644 §3.4.2, §3.4.3).

``GET /Users?...`` and ``POST /Users/.search`` carry the same parameters in two shapes; both become one
``ListQuery``. Pagination follows the RFC's arithmetic: ``startIndex`` below 1 counts as 1, a negative ``count``
as 0, ``count=0`` asks only for ``totalResults``, and a count above the service's maximum is lowered to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from shared.scim.ast import AttrPath, Filter
from shared.scim.errors import InvalidSyntaxError, InvalidValueError
from shared.scim.filter import parse_attribute_list, parse_filter
from shared.scim.schema import LIST_RESPONSE_URN

__all__ = [
    "ListLimits",
    "ListQuery",
    "decode_query_string",
    "list_response",
    "query_from_params",
    "query_from_search_body",
]


MAX_START_INDEX = 2**31 - 1
"""The largest ``startIndex`` answered as given (larger ones are lowered to it; no tenant has that many users)."""


class ListLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The service's configured limits for lists and filters."""

    default_count: int = 100
    max_count: int = 1000
    filter_max_length: int = 4096
    filter_max_depth: int = 16


class ListQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed list request."""

    filter: Filter | None = None
    start_index: int = 1
    count: int = 100
    sort_by: str | None = None
    sort_order: str | None = None
    attributes: list[AttrPath] | None = None
    excluded_attributes: list[AttrPath] | None = None


class _SearchBody(msgspec.Struct, kw_only=True, rename="camel"):
    """``POST .search`` body (RFC 7644 §3.4.3); unknown members are tolerated."""

    schemas: list[str] | None = None
    filter: str | None = None
    start_index: int | str | None = None
    count: int | str | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    attributes: list[str] | str | None = None
    excluded_attributes: list[str] | str | None = None


_search_decoder = msgspec.json.Decoder(_SearchBody)


def decode_query_string(raw: bytes) -> dict[str, str]:
    """Decode a query string once with form rules (``+`` is a space, ``%2B`` a plus); the first value of a name wins."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        params.setdefault(name, value)
    return params


def _integer(name: str, value: int | str | None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidValueError(f"{name} must be an integer, not {value[:32]!r}") from None


def _attribute_list(value: list[str] | str | None) -> list[AttrPath] | None:
    if not value:
        return None
    text = value if isinstance(value, str) else ",".join(value)
    return parse_attribute_list(text)


def _build(
    limits: ListLimits,
    *,
    filter_text: str | None,
    start_index: int | str | None,
    count: int | str | None,
    sort_by: str | None,
    sort_order: str | None,
    attributes: list[str] | str | None,
    excluded: list[str] | str | None,
) -> ListQuery:
    start = _integer("startIndex", start_index)
    wanted = _integer("count", count)
    parsed_filter = None
    if filter_text is not None and filter_text.strip():
        parsed_filter = parse_filter(
            filter_text, max_length=limits.filter_max_length, max_depth=limits.filter_max_depth
        )

    return ListQuery(
        filter=parsed_filter,
        start_index=min(MAX_START_INDEX, max(1, start if start is not None else 1)),
        count=min(limits.max_count, max(0, wanted if wanted is not None else limits.default_count)),
        sort_by=sort_by or None,
        sort_order=sort_order or None,
        attributes=_attribute_list(attributes),
        excluded_attributes=_attribute_list(excluded),
    )


def query_from_params(params: Mapping[str, str], limits: ListLimits) -> ListQuery:
    """The list query of ``GET /Users`` from its decoded query parameters (names are case-insensitive)."""
    lowered = {name.lower(): value for name, value in params.items()}
    return _build(
        limits,
        filter_text=lowered.get("filter"),
        start_index=lowered.get("startindex"),
        count=lowered.get("count"),
        sort_by=lowered.get("sortby"),
        sort_order=lowered.get("sortorder"),
        attributes=lowered.get("attributes"),
        excluded=lowered.get("excludedattributes"),
    )


def query_from_search_body(body: bytes, limits: ListLimits) -> ListQuery:
    """The list query of ``POST /Users/.search`` from its JSON body."""
    try:
        search = _search_decoder.decode(body or b"{}")
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: the JSON is fine, a value is not
        raise InvalidValueError(f"the search request has a value of the wrong type: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidSyntaxError(f"the search request is not valid JSON: {exc}") from None
    return _build(
        limits,
        filter_text=search.filter,
        start_index=search.start_index,
        count=search.count,
        sort_by=search.sort_by,
        sort_order=search.sort_order,
        attributes=search.attributes,
        excluded=search.excluded_attributes,
    )


def list_response(resources: list[dict[str, Any]], *, total: int, start_index: int) -> dict[str, Any]:
    """A ListResponse message (RFC 7644 §3.4.2)."""
    return {
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
