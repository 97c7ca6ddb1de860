from __future__ import annotations

import pytest

from shared.scim.errors import InvalidFilterError, InvalidSyntaxError, InvalidValueError
from shared.scim.listing import (
    MAX_START_INDEX,
    ListLimits,
    decode_query_string,
    query_from_params,
    query_from_search_body,
)

LIMITS = ListLimits(default_count=100, max_count=1000)


@pytest.mark.parametrize(
    ("params", "start", "count"),
    [
        pytest.param({}, 1, 100, id="defaults"),
        pytest.param({"startIndex": "0", "count": "-5"}, 1, 0, id="below-one-and-negative"),
        pytest.param({"startIndex": "7", "count": "5000"}, 7, 1000, id="count-capped"),
        pytest.param({"startIndex": "99999999999999999999"}, MAX_START_INDEX, 100, id="huge-start-index"),
        pytest.param({"STARTINDEX": "3", "Count": "2"}, 3, 2, id="names-in-any-case"),
    ],
)
def test_pagination_arithmetic_follows_rfc_7644(params: dict[str, str], start: int, count: int) -> None:
    query = query_from_params(params, LIMITS)

    assert (query.start_index, query.count) == (start, count)


def test_a_non_integer_count_is_invalid_value() -> None:
    with pytest.raises(InvalidValueError, match="count"):
        query_from_params({"count": "ten"}, LIMITS)


def test_query_strings_are_decoded_once_with_form_rules() -> None:
    params = decode_query_string(b"filter=userName+eq+%22carol%2Bqa%40example.com%22&filter=ignored")

    assert params == {"filter": 'userName eq "carol+qa@example.com"'}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(b'{"filter": 5}', InvalidValueError, id="filter-not-a-string"),
        pytest.param(b'{"filter": ', InvalidSyntaxError, id="truncated"),
        pytest.param(b'{"filter": "userName eq"}', InvalidFilterError, id="bad-filter"),
    ],
)
def test_bad_search_bodies_get_the_right_error(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        query_from_search_body(body, LIMITS)


def test_a_search_body_reads_like_the_query_parameters() -> None:
    query = query_from_search_body(
        b'{"filter": "active eq true", "startIndex": 2, "count": "3", "attributes": ["userName"]}', LIMITS
    )

    assert (query.start_index, query.count) == (2, 3)
    assert query.filter is not None
    assert query.attributes is not None
    assert [path.attr for path in query.attributes] == ["userName"]
