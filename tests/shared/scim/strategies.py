"""Hypothesis strategies for SCIM tests.

Request bodies: arbitrary JSON, and User or PatchOp shapes that come close.

Filters: valid filters over the stored User attributes, and a renderer back to filter text. The filters are
well-typed for the attribute they name (the SQL compiler accepts every one), draw their operands from the pools of
values that test users are built from (so comparisons match often), and use every operator, ``and``, ``or``,
``not``, value paths and ``null``. Strategies are built once, at import.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, get_args
from uuid import UUID

from hypothesis import strategies as st

from shared.scim.ast import And, AttrPath, Compare, CompareOp, Filter, Literal_, Not, Or, Present, ValuePath
from shared.scim.filter import COMPARE_OPERATORS
from shared.scim.schema import ENTERPRISE_USER_URN, PATCH_OP_URN, USER_SCHEMA_URN

EMAIL = "alice.0f1e2d3c@example.com"

ATTRIBUTE_NAMES = (
    "schemas",
    "userName",
    "USERNAME",
    "name",
    "givenName",
    "familyName",
    "formatted",
    "middleName",
    "displayName",
    "externalId",
    "active",
    "emails",
    "value",
    "type",
    "primary",
    "display",
    "id",
    "meta",
    "password",
    "groups",
    "title",
    "name.givenName",
    "name.familyName",
    "emails.value",
    f"{USER_SCHEMA_URN}:name.givenName",
    f"{ENTERPRISE_USER_URN}:department",
    USER_SCHEMA_URN,
    ENTERPRISE_USER_URN,
    "Operations",
    "op",
    "path",
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "True", "false", "yes", EMAIL, EMAIL.upper(), "bob@example.com", "x\x00y", "work"]),
)
KEYS = st.one_of(st.sampled_from(ATTRIBUTE_NAMES), st.text(max_size=8))

json_values: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(KEYS, children, max_size=5),
    ),
    max_leaves=20,
)

PATHS = (
    "displayName",
    "externalId",
    "active",
    "userName",
    "name",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "name.middleName",
    "emails",
    "emails.value",
    'emails[type eq "work"].value',
    'emails[type eq "home"].value',
    'emails[type eq "work"]',
    'emails[type eq "work"].primary',
    f"{USER_SCHEMA_URN}:name.familyName",
    f"{ENTERPRISE_USER_URN}:department",
    'phoneNumbers[type eq "work"].value',
    "title",
    "password",
    "groups",
    "id",
    'emails[value eq "ALICE.0F1E2D3C@EXAMPLE.COM"]',
    'emails[type eq "work" and primary eq true].value',
    'emails[not (type eq "home") or display pr].type',
    "emails[primary eq 1]",
    'members[value eq "1"]',
    "urn:ietf:params:scim:schemas:core:2.0:User",
    'emails[type eq "work"',
    "name..x",
    "urn:foo",
)

operations: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "Add", "Replace", "REMOVE", "move", ""])},
    optional={"path": st.one_of(st.sampled_from(PATHS), st.none(), st.just(""), json_values), "value": json_values},
)

patch_documents: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {"Operations": st.one_of(st.lists(operations, max_size=5), json_values)},
    optional={"schemas": st.one_of(st.just([PATCH_OP_URN]), json_values)},
)

user_documents: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "schemas": st.one_of(st.just([USER_SCHEMA_URN]), json_values),
        "userName": st.one_of(st.sampled_from([EMAIL, EMAIL.upper(), "bob@example.com", ""]), json_values),
        "name": json_values,
        "displayName": json_values,
        "externalId": json_values,
        "active": json_values,
        "emails": st.one_of(
            st.lists(st.fixed_dictionaries({"value": st.sampled_from([EMAIL, EMAIL.title()])}), max_size=2),
            json_values,
        ),
        "password": json_values,
    },
)

# Filters.

ALL_OPERATORS: tuple[CompareOp, ...] = get_args(CompareOp)
EQUALITY: tuple[CompareOp, ...] = ("eq", "ne")
ORDERING: tuple[CompareOp, ...] = ("eq", "ne", "gt", "ge", "lt", "le")

# Pieces of strings: mixed case, LIKE wildcards, the escape character, '+', and letters whose lower case differs
# between naive implementations (final sigma, dotted capital I).
FRAGMENTS = ["a", "A", "b", "B", "ab", "Ab", "é", "É", "%", "_", "\\", "+", ".", "-", " ", "x_y", "Σ", "ς", "İ", "i"]

TEXT = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4).map("".join)

# Values that test users hold and filters compare with, so that comparisons match often.
WORDS = ["Ab", "ab", "a%b", "a_b", "a\\b", "x+y", "é", "Smith", "SMITH ", "ΨΩΣ", "ψως", "İi", "ii"]
USER_NAMES = [
    "Ab@Example.com",
    "ab@example.org",
    "a%b@example.com",
    "a_b@x_y.test",
    "x+y@Example.com",
    "é@example.com",
    "ΨΩΣ@example.com",
    "İi@example.com",
    "smith@a.b",
]
IDS = [UUID(int=(0x0190 << 112) + number * 0x9E3779B97F4A7C15) for number in range(1, 11)]

MOMENTS = [
    datetime(2024, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC),
    datetime(2024, 3, 1, 10, 0, 1, tzinfo=UTC),
    datetime(2025, 1, 31, 23, 59, 59, 999_999, tzinfo=UTC),
]

STRING_PATHS = [
    AttrPath(attr="userName"),
    AttrPath(attr="externalId"),
    AttrPath(attr="displayName"),
    AttrPath(attr="name", sub="givenName"),
    AttrPath(attr="name", sub="familyName"),
    AttrPath(attr="name", sub="formatted"),
    AttrPath(attr="emails"),
    AttrPath(attr="emails", sub="value"),
    AttrPath(attr="emails", sub="type"),
    AttrPath(attr="meta", sub="resourceType"),
]
BOOLEAN_PATHS = [AttrPath(attr="active"), AttrPath(attr="emails", sub="primary")]
DATETIME_PATHS = [AttrPath(attr="meta", sub="created"), AttrPath(attr="meta", sub="lastModified")]
COMPLEX_PATHS = [AttrPath(attr="name"), AttrPath(attr="emails"), AttrPath(attr="meta")]
ID_PATH = AttrPath(attr="id")
ALL_PATHS = [*STRING_PATHS, *BOOLEAN_PATHS, *DATETIME_PATHS, *COMPLEX_PATHS, ID_PATH]

_CASES: list[Callable[[str], str]] = [str, str.upper, str.lower, str.swapcase]


def _piece(text: str, start: int, stop: int) -> str:
    return text[min(start, stop) : max(start, stop)]


def _varied(texts: Sequence[str]) -> st.SearchStrategy[str]:
    """One of ``texts`` in some case, whole or a piece of it."""
    whole = st.builds(lambda text, case: case(text), st.sampled_from(texts), st.sampled_from(_CASES))
    pieces = st.builds(_piece, whole, st.integers(0, 16), st.integers(0, 16))
    return whole | pieces


_HELD = _varied([*WORDS, *USER_NAMES])
STRING_OPERANDS: st.SearchStrategy[Literal_] = st.one_of(  # mostly values that users hold
    _HELD,
    _HELD,
    _HELD,
    TEXT,
    st.sampled_from(["work", "WORK", "User", "user", ""]),
    st.integers(-5, 5),
)

ID_OPERANDS: st.SearchStrategy[Literal_] = st.one_of(
    _varied([str(identifier) for identifier in IDS]),
    st.just("not-a-uuid"),
    st.uuids().map(str),
)

_MOMENT_SPELLINGS: list[Callable[[datetime], str]] = [
    lambda moment: moment.isoformat(),
    lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    lambda moment: moment.astimezone(timezone(timedelta(hours=2))).isoformat(),
    lambda moment: (moment + timedelta(microseconds=1)).isoformat(),
    lambda moment: moment.replace(tzinfo=None, microsecond=0).isoformat(),
]
DATETIME_OPERANDS: st.SearchStrategy[Literal_] = st.builds(
    lambda moment, spell: spell(moment),
    st.sampled_from(MOMENTS),
    st.sampled_from(_MOMENT_SPELLINGS),
)

BOOLEAN_OPERANDS: st.SearchStrategy[Literal_] = st.sampled_from([True, False, "True", "false", "TRUE"])


def _compare(
    paths: Sequence[AttrPath], ops: Sequence[CompareOp], operands: st.SearchStrategy[Literal_]
) -> st.SearchStrategy[Filter]:
    return st.builds(Compare, path=st.sampled_from(paths), op=st.sampled_from(ops), value=operands)


def _null_compare(paths: Sequence[AttrPath]) -> st.SearchStrategy[Filter]:
    return st.builds(Compare, path=st.sampled_from(paths), op=st.sampled_from(EQUALITY), value=st.none())


def _leaves() -> st.SearchStrategy[Filter]:
    """Comparisons and presence tests on top-level and dotted paths."""
    return st.one_of(
        _compare(STRING_PATHS, ALL_OPERATORS, STRING_OPERANDS),
        _compare([ID_PATH], ALL_OPERATORS, ID_OPERANDS),
        _compare(BOOLEAN_PATHS, EQUALITY, BOOLEAN_OPERANDS),
        _compare(DATETIME_PATHS, ORDERING, DATETIME_OPERANDS),
        _null_compare([*STRING_PATHS, *BOOLEAN_PATHS, *DATETIME_PATHS, ID_PATH]),
        st.builds(Present, path=st.sampled_from(ALL_PATHS)),
    )


def _combined(terms: st.SearchStrategy[Filter], max_leaves: int) -> st.SearchStrategy[Filter]:
    return st.recursive(
        terms,
        lambda children: st.one_of(
            st.builds(And, children, children),
            st.builds(Or, children, children),
            st.builds(Not, children),
        ),
        max_leaves=max_leaves,
    )


def _value_paths() -> st.SearchStrategy[Filter]:
    """``emails[...]`` and ``name[...]`` with sub-attribute names relative to the bracketed attribute."""
    email_terms = st.one_of(
        _compare([AttrPath(attr="value"), AttrPath(attr="type")], ALL_OPERATORS, STRING_OPERANDS),
        _compare([AttrPath(attr="primary")], EQUALITY, BOOLEAN_OPERANDS),
        _null_compare([AttrPath(attr="value"), AttrPath(attr="type"), AttrPath(attr="primary")]),
        st.builds(Present, path=st.sampled_from([AttrPath(attr="value"), AttrPath(attr="primary")])),
    )
    name_parts = [AttrPath(attr="givenName"), AttrPath(attr="familyName"), AttrPath(attr="formatted")]
    name_terms = st.one_of(
        _compare(name_parts, ALL_OPERATORS, STRING_OPERANDS),
        _null_compare(name_parts),
        st.builds(Present, path=st.sampled_from(name_parts)),
    )
    return st.one_of(
        st.builds(ValuePath, path=st.just(AttrPath(attr="emails")), filter=_combined(email_terms, 3)),
        st.builds(ValuePath, path=st.just(AttrPath(attr="name")), filter=_combined(name_terms, 3)),
    )


FILTERS: st.SearchStrategy[Filter] = _combined(st.one_of(_leaves(), _value_paths()), max_leaves=8)
"""Valid filters over the stored attributes."""


def render(node: Filter, chance: random.Random) -> str:
    """Filter text that parses back to ``node``: names, operators and keywords in varied case, URNs now and then."""
    match node:
        case And(left=left, right=right):
            return f"({render(left, chance)}) {_case('and', chance)} ({render(right, chance)})"
        case Or(left=left, right=right):
            return f"({render(left, chance)}) {_case('or', chance)} ({render(right, chance)})"
        case Not(inner=inner):
            return f"{_case('not', chance)} ({render(inner, chance)})"
        case Present(path=path):
            return f"{_path(path, chance)} {_case('pr', chance)}"
        case Compare(path=path, op=op, value=value):
            return f"{_path(path, chance)} {_case(op, chance)} {_value(value, chance)}"
        case ValuePath(path=path, filter=inner):
            return f"{_path(path, chance)}[{render(inner, chance)}]"
    raise AssertionError(node)


def _case(word: str, chance: random.Random) -> str:
    return "".join(letter.upper() if chance.random() < 0.3 else letter for letter in word)


def _path(path: AttrPath, chance: random.Random) -> str:
    name = path.attr if path.sub is None else f"{path.attr}.{path.sub}"
    if path.attr in {"userName", "name", "emails", "displayName"} and chance.random() < 0.2:
        name = f"{USER_SCHEMA_URN}:{name}"
    return _case(name, chance)


def _value(value: Literal_, chance: random.Random) -> str:
    if value is None or isinstance(value, bool):
        return _case(json.dumps(value), chance)
    if isinstance(value, str) and _reads_unquoted(value) and chance.random() < 0.3:
        return value  # as Microsoft Entra ID sends it
    return json.dumps(value)


def _reads_unquoted(value: str) -> bool:
    if not value or any(character.isspace() or character in '()[]"' for character in value):
        return False
    if value.lower() in {"true", "false", "null", "and", "or", "not", "pr", *COMPARE_OPERATORS}:
        return False
    try:
        json.loads(value)
    except ValueError:
        return True
    return False
