"""The outermost ASGI layer's pure parts: path normalization and the ``Allow`` table."""

from __future__ import annotations

import pytest

from services.scim_api.gateway import AllowedMethods, normalize_path

ROUTES = AllowedMethods(
    [
        ("/scim/v2/Users", {"GET", "POST", "OPTIONS"}),
        ("/scim/v2/Users/{user_id:str}", {"GET", "PUT", "PATCH", "DELETE", "OPTIONS"}),
        ("/scim/v2/Users/.search", {"POST", "OPTIONS"}),
        ("/scim/v2/Me/{rest:path}", {"GET"}),
    ]
)


@pytest.mark.parametrize(
    ("path", "cleaned"),
    [
        pytest.param("/scim/v2//Users", "/scim/v2/Users", id="doubled"),
        pytest.param("/scim/v2/Users/", "/scim/v2/Users", id="trailing"),
        pytest.param("//scim//v2///Users/abc/", "/scim/v2/Users/abc", id="everywhere"),
        pytest.param("/", "/", id="root"),
        pytest.param("//", "/", id="root-doubled"),
    ],
)
def test_paths_are_normalized(path: str, cleaned: str) -> None:
    assert normalize_path(path) == cleaned


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        pytest.param("/scim/v2/Users", "GET, HEAD, OPTIONS, POST", id="collection"),
        pytest.param("/scim/v2/Users/0190c0de", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT", id="resource"),
        pytest.param("/scim/v2/Users/.search", "OPTIONS, POST", id="fixed-segment-wins"),
        pytest.param("/scim/v2/Me/a/b", "GET, HEAD, OPTIONS", id="path-parameter"),
        pytest.param("/scim/v2/Users/a/b", None, id="too-deep"),
        pytest.param("/scim/v2/Groups", None, id="unknown"),
    ],
)
def test_allow_lists_the_methods_of_the_route_the_path_names(path: str, allow: str | None) -> None:
    assert ROUTES.for_path(path) == allow
