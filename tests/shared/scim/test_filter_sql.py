import contextlib
import json
import random
import re
import string
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.db import Pool
from shared.scim.ast import And, Filter, Not, Or
from shared.scim.errors import InvalidFilterError, InvalidValueError
from shared.scim.filter import parse_filter
from shared.scim.filter_eval import evaluate, fold_case
from shared.scim.filter_sql import compile_filter, compile_sort
from tests.shared.scim.strategies import FILTERS, FRAGMENTS, IDS, MOMENTS, TEXT, USER_NAMES, WORDS, render


@dataclass(frozen=True)
class StoredUser:
    """A users row as the tests insert it."""

    user_name: str
    email: str
    id: UUID
    given_name: str | None = None
    family_name: str | None = None
    formatted_name: str | None = None
    display_name: str | None = None
    external_id: str | None = None
    active: bool = True
    created_at: datetime = MOMENTS[0]
    updated_at: datetime = MOMENTS[0]
    version: int = 1

    def scim(self) -> dict[str, Any]:
        """The user's SCIM representation: absent attributes are left out, nothing is invented."""
        resource: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": str(self.id),
            "userName": self.user_name,
            "active": self.active,
            "emails": [{"value": self.email, "type": "work", "primary": True}],
            "meta": {
                "resourceType": "User",
                "created": self.created_at.isoformat(),
                "lastModified": self.updated_at.isoformat(),
                "version": f'W/"{self.version}"',
            },
        }
        name = {
            key: value
            for key, value in (
                ("givenName", self.given_name),
                ("familyName", self.family_name),
                ("formatted", self.formatted_name),
            )
            if value is not None
        }
        if name:
            resource["name"] = name
        if self.display_name is not None:
            resource["displayName"] = self.display_name
        if self.external_id is not None:
            resource["externalId"] = self.external_id
        return resource

    def record(self, org_id: UUID) -> tuple[object, ...]:
        return (
            self.id,
            org_id,
            self.user_name,
            self.email,
            self.given_name,
            self.family_name,
            self.formatted_name,
            self.display_name,
            self.external_id,
            self.active,
            "scim",
            self.version,
            self.created_at,
            self.updated_at,
        )


USER_COLUMNS = [
    "id",
    "org_id",
    "user_name",
    "email",
    "given_name",
    "family_name",
    "formatted_name",
    "display_name",
    "external_id",
    "active",
    "created_by",
    "version",
    "created_at",
    "updated_at",
]


async def create_organization(pool: Pool, users: list[StoredUser]) -> UUID:
    org_id = uuid4()
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("INSERT INTO organizations (id, name) VALUES ($1, 'filter tests')", org_id)
        await connection.copy_records_to_table(
            "users",
            records=[user.record(org_id) for user in users],
            columns=USER_COLUMNS,
        )
    return org_id


async def select_ids(pool: Pool, org_id: UUID, filter: Filter) -> set[UUID]:
    sql, params = compile_filter(filter, first_param=2)
    query = f"SELECT u.id FROM users u WHERE u.org_id = $1 AND u.deleted_at IS NULL AND {sql}"  # noqa: S608 - compiled SQL, values bound
    return {row["id"] for row in await pool.fetch(query, org_id, *params)}


ALICE = StoredUser(
    id=uuid4(),
    user_name="Alice.Smith+qa@Example.com",
    email="alice.smith+qa@example.com",
    given_name="Alice",
    family_name="Smith",
    display_name="Alice Smith",
    external_id="ASmith01",
    created_at=MOMENTS[0],
    updated_at=MOMENTS[2],
)
BOB = StoredUser(id=uuid4(), user_name="bob@example.com", email="Bob@Example.com", given_name="Bob", active=False)
WILDCARD = StoredUser(
    id=uuid4(),
    user_name="100%_off\\deal@example.com",
    email="100%_off\\deal@example.com",
    display_name="50% off",
    external_id="jyoung",
    created_at=MOMENTS[1],
)
CAROL = StoredUser(
    id=uuid4(),
    user_name="carol@example.org",
    email="carol@example.org",
    formatted_name="Carol Ψ'ΦΩΣ",
    display_name="ΨΩΣ",
    external_id="12345",
    created_at=MOMENTS[2],
    updated_at=MOMENTS[2],
)
TEAM = {"alice": ALICE, "bob": BOB, "wildcard": WILDCARD, "carol": CAROL}


@pytest.fixture(scope="module")
async def team(db_pool: Pool) -> AsyncIterator[UUID]:
    org_id = await create_organization(db_pool, list(TEAM.values()))
    yield org_id
    await db_pool.execute("DELETE FROM organizations WHERE id = $1", org_id)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('userName eq "alice.smith+qa@example.com"', {"alice"}, id="eq-ignores-case"),
        pytest.param('USERNAME EQ "ALICE.SMITH+QA@EXAMPLE.COM"', {"alice"}, id="eq-upper-case"),
        pytest.param('userName eq "alice.smith qa@example.com"', set(), id="plus-is-not-a-space"),
        pytest.param('userName sw "ALICE."', {"alice"}, id="sw-ignores-case"),
        pytest.param('userName co "SMITH+"', {"alice"}, id="co-ignores-case"),
        pytest.param('userName ew "EXAMPLE.COM"', {"alice", "bob", "wildcard"}, id="ew-ignores-case"),
        pytest.param('emails.value ew "@Example.ORG"', {"carol"}, id="emails-value"),
        pytest.param('emails eq "BOB@example.com"', {"bob"}, id="emails-without-sub-attribute"),
        pytest.param('emails[type eq "work"].value eq "carol@EXAMPLE.org"', {"carol"}, id="entra-value-path"),
        pytest.param('emails[type eq "home"]', set(), id="value-path-other-type"),
        pytest.param('emails[type eq "work" and value co "smith"]', {"alice"}, id="value-path-and"),
        pytest.param('userName co "%"', {"wildcard"}, id="percent-is-literal"),
        pytest.param('userName co "_"', {"wildcard"}, id="underscore-is-literal"),
        pytest.param('userName co "\\\\"', {"wildcard"}, id="backslash-is-literal"),
        pytest.param('userName sw "100%_off\\\\"', {"wildcard"}, id="sw-with-wildcards"),
        pytest.param('userName sw "1__"', set(), id="underscores-match-only-underscores"),
        pytest.param('displayName ew "% OFF"', {"wildcard"}, id="ew-with-percent"),
        pytest.param("externalId eq jyoung", {"wildcard"}, id="entra-unquoted-external-id"),
        pytest.param('externalId eq "JYOUNG"', set(), id="external-id-is-case-exact"),
        pytest.param("externalId eq 12345", {"carol"}, id="number-compares-as-text"),
        pytest.param('externalId sw "AS"', {"alice"}, id="external-id-sw-exact"),
        pytest.param('externalId sw "as"', set(), id="external-id-sw-case-exact"),
        pytest.param('displayName ne "alice smith"', {"bob", "wildcard", "carol"}, id="ne-includes-absent"),
        pytest.param('not (displayName eq "alice smith")', {"bob", "wildcard", "carol"}, id="not-includes-absent"),
        pytest.param('not (externalId co "1")', {"bob", "wildcard"}, id="not-co-includes-absent"),
        pytest.param("displayName eq null", {"bob"}, id="eq-null"),
        pytest.param("displayName ne null", {"alice", "wildcard", "carol"}, id="ne-null"),
        pytest.param("not (displayName pr)", {"bob"}, id="not-pr"),
        pytest.param('displayName eq "ψωσ"', {"carol"}, id="sigma-folds-per-character"),
        pytest.param('displayName eq "ψως"', set(), id="final-sigma-is-another-letter"),
        pytest.param('name.formatted co "ψ\'φωσ"', {"carol"}, id="name-part-folds"),
        pytest.param("name pr", {"alice", "bob", "carol"}, id="complex-pr"),
        pytest.param('name[givenName ne "alice"]', {"bob", "carol"}, id="value-path-on-name-needs-a-name"),
        pytest.param("name.familyName pr", {"alice"}, id="sub-pr"),
        pytest.param("emails pr and meta pr and id pr", set(TEAM), id="always-present"),
        pytest.param("active eq false", {"bob"}, id="boolean"),
        pytest.param('active eq "False"', {"bob"}, id="boolean-string"),
        pytest.param('active ne "TRUE"', {"bob"}, id="boolean-string-ne"),
        pytest.param("emails.primary eq true", set(TEAM), id="primary-constant"),
        pytest.param('meta.resourceType eq "User"', set(TEAM), id="resource-type-constant"),
        pytest.param('meta.resourceType eq "user"', set(), id="resource-type-case-exact"),
        pytest.param(f'id eq "{ALICE.id}"', {"alice"}, id="id"),
        pytest.param(f'id eq "{str(ALICE.id).upper()}"', set(), id="id-case-exact"),
        pytest.param(f'id eq "{{{ALICE.id}}}"', set(), id="id-in-braces-is-not-canonical"),
        pytest.param('id eq "not-a-uuid"', set(), id="id-not-a-uuid-matches-nothing"),
        pytest.param('id ne "not-a-uuid"', set(TEAM), id="id-not-a-uuid-ne-matches-all"),
        pytest.param(f'id sw "{str(CAROL.id)[:8]}"', {"carol"}, id="id-sw"),
        pytest.param(f'meta.created eq "{MOMENTS[1].isoformat()}"', {"wildcard"}, id="created-eq"),
        pytest.param('meta.created gt "2024-03-01T12:00:00.25+02:00"', {"wildcard", "carol"}, id="created-gt-offset"),
        pytest.param('meta.lastModified ge "2025-01-31T23:59:59.999999Z"', {"alice", "carol"}, id="modified-ge"),
        pytest.param('meta.created lt "2024-03-01T10:00:01"', {"alice", "bob"}, id="created-lt-naive-utc"),
        pytest.param(
            'userName sw "alice" or userName sw "bob" and active eq true',
            {"alice"},
            id="and-binds-tighter-than-or",
        ),
        pytest.param(
            '(userName sw "alice" or userName sw "bob") and active eq false',
            {"bob"},
            id="grouping",
        ),
    ],
)
async def test_compiled_filter_selects_users(db_pool: Pool, team: UUID, text: str, expected: set[str]) -> None:
    selected = await select_ids(db_pool, team, parse_filter(text))

    assert selected == {TEAM[key].id for key in expected}
    assert {user.id for user in TEAM.values() if evaluate(parse_filter(text), user.scim())} == selected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        pytest.param('favoriteColor eq "blue"', "favoriteColor is not an attribute", id="unknown-attribute"),
        pytest.param('title eq "Boss"', "title is not an attribute", id="unstored-core-attribute"),
        pytest.param('groups eq "admins"', "groups is not an attribute", id="groups"),
        pytest.param(
            'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Sales"',
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department is not an attribute",
            id="enterprise-attribute",
        ),
        pytest.param('name.middleName eq "J"', "name.middleName is not an attribute", id="unknown-sub-attribute"),
        pytest.param('meta.version eq "W/\\"1\\""', "meta.version cannot be used in a filter", id="meta-version"),
        pytest.param("meta.location pr", "meta.location cannot be used in a filter", id="meta-location"),
        pytest.param('name eq "Alice"', "name is complex; compare one of its sub-attributes", id="complex-eq"),
        pytest.param('emails[display eq "x"]', "emails.display is not a sub-attribute of emails", id="bad-inner"),
        pytest.param('userName[value eq "x"]', "userName is not one", id="value-path-on-simple"),
        pytest.param('name.givenName.x eq "x"', None, id="parser-rejects-first"),
        pytest.param("active gt true", "active is a boolean; only eq, ne and pr apply", id="gt-on-boolean"),
        pytest.param('active co "t"', "active is a boolean", id="co-on-boolean"),
        pytest.param('active eq "yes"', "compare it with true or false", id="boolean-bad-string"),
        pytest.param("active eq 1", "compare it with true or false", id="boolean-number"),
        pytest.param("emails.primary gt false", "emails.primary is a boolean", id="constant-boolean-gt"),
        pytest.param('meta.created gt "yesterday"', "meta.created is a dateTime", id="non-date-string"),
        pytest.param("meta.created gt 2024", "meta.created is a dateTime", id="number-against-date"),
        pytest.param('meta.lastModified co "2024"', "co does not apply", id="co-on-date"),
        pytest.param(
            'meta.created lt "0001-01-01T00:00:00+01:00"',
            "meta.created is a dateTime",
            id="date-out-of-range",
        ),
        pytest.param("userName eq true", "userName is a string", id="boolean-against-string"),
        pytest.param("emails.type eq false", "emails.type is a string", id="boolean-against-constant-string"),
        pytest.param("userName gt null", "gt cannot compare userName with null", id="gt-null"),
        pytest.param("displayName co null", "co cannot compare displayName with null", id="co-null"),
        pytest.param('emails[value co "x"] and x pr', "x is not an attribute", id="error-anywhere-in-the-tree"),
    ],
)
def test_compile_filter_rejects_what_is_not_stored_or_mistyped(text: str, detail: str | None) -> None:
    with pytest.raises(InvalidFilterError) as caught:
        compile_filter(parse_filter(text), first_param=1)

    assert caught.value.scim_type == "invalidFilter"
    if detail is not None:
        assert detail in caught.value.detail


def test_compile_filter_binds_every_value_and_numbers_from_first_param() -> None:
    hostile = "x' OR 1=1; DROP TABLE users; --"
    text = f'userName eq "{hostile}" or displayName co "{hostile}" or meta.created gt "2024-01-01T00:00:00Z"'

    sql, params = compile_filter(parse_filter(text), first_param=4)

    assert hostile not in sql
    assert "DROP" not in sql
    assert sorted(set(re.findall(r"\$\d+", sql))) == ["$4", "$5", "$6"]
    assert params == [hostile, f"%{hostile}%", datetime(2024, 1, 1, tzinfo=UTC)]


def test_compile_filter_writes_the_indexed_expressions() -> None:
    sql, _ = compile_filter(parse_filter('userName sw "a" or emails.value co "b"'), first_param=1)

    assert sql == "(lower(u.user_name) LIKE lower($1::text) OR lower(u.email) LIKE lower($2::text))"


@pytest.mark.parametrize(
    ("sort_by", "sort_order", "expected"),
    [
        pytest.param(None, None, "u.id", id="default-is-creation-order"),
        pytest.param("", "", "u.id", id="blank"),
        pytest.param(None, "descending", "u.id", id="order-without-sort-by"),
        pytest.param("userName", None, 'lower(u.user_name) COLLATE "C" ASC NULLS LAST, u.id', id="ascending-default"),
        pytest.param(
            "USERNAME",
            "Descending",
            'lower(u.user_name) COLLATE "C" DESC NULLS FIRST, u.id',
            id="any-case",
        ),
        pytest.param(
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            "ascending",
            'lower(u.family_name) COLLATE "C" ASC NULLS LAST, u.id',
            id="urn-qualified",
        ),
        pytest.param("name.givenName", None, 'lower(u.given_name) COLLATE "C" ASC NULLS LAST, u.id', id="given-name"),
        pytest.param(
            "name.formatted",
            None,
            'lower(u.formatted_name) COLLATE "C" ASC NULLS LAST, u.id',
            id="formatted",
        ),
        pytest.param("displayName", None, 'lower(u.display_name) COLLATE "C" ASC NULLS LAST, u.id', id="display"),
        pytest.param("externalId", None, 'u.external_id COLLATE "C" ASC NULLS LAST, u.id', id="case-exact"),
        pytest.param("emails", None, 'lower(u.email) COLLATE "C" ASC NULLS LAST, u.id', id="emails-means-primary"),
        pytest.param("emails.value", None, 'lower(u.email) COLLATE "C" ASC NULLS LAST, u.id', id="emails-value"),
        pytest.param("meta.created", "descending", "u.created_at DESC NULLS FIRST, u.id", id="created"),
        pytest.param("meta.lastModified", None, "u.updated_at ASC NULLS LAST, u.id", id="last-modified"),
        pytest.param("id", None, "u.id", id="id"),
        pytest.param("id", "descending", "u.id DESC", id="id-descending"),
        pytest.param("favoriteColor", "descending", "u.id", id="unknown-ties"),
        pytest.param("name", None, "u.id", id="complex-ties"),
        pytest.param("emails.type", None, "u.id", id="constant-ties"),
        pytest.param("userName,displayName", None, "u.id", id="two-attributes-tie"),
        pytest.param("user name", None, "u.id", id="malformed-ties"),
    ],
)
def test_compile_sort_orders_by_attribute(sort_by: str | None, sort_order: str | None, expected: str) -> None:
    assert compile_sort(sort_by, sort_order) == expected


@pytest.mark.parametrize("sort_order", ["asc", "desc", "up", "1"])
def test_compile_sort_rejects_unknown_sort_order(sort_order: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        compile_sort("userName", sort_order)

    assert caught.value.scim_type == "invalidValue"


async def test_compiled_sort_puts_users_without_a_value_last_then_first(db_pool: Pool, team: UUID) -> None:
    async def order(sort_order: str) -> list[UUID]:
        query = f"SELECT u.id FROM users u WHERE u.org_id = $1 ORDER BY {compile_sort('displayName', sort_order)}"  # noqa: S608 - compiled ORDER BY
        return [row["id"] for row in await db_pool.fetch(query, team)]

    assert await order("ascending") == [WILDCARD.id, ALICE.id, CAROL.id, BOB.id]
    assert await order("descending") == [BOB.id, CAROL.id, ALICE.id, WILDCARD.id]


async def test_compiled_sort_breaks_ties_by_id(db_pool: Pool) -> None:
    users = [
        StoredUser(id=uuid4(), user_name=f"tie{number}@example.com", email=f"tie{number}@example.com")
        for number in range(6)
    ]
    org_id = await create_organization(db_pool, users)
    query = f"SELECT u.id FROM users u WHERE u.org_id = $1 ORDER BY {compile_sort('meta.created', 'descending')}"  # noqa: S608 - compiled ORDER BY

    rows = await db_pool.fetch(query, org_id)

    assert [row["id"] for row in rows] == sorted(user.id for user in users)


async def test_fold_case_agrees_with_postgresql_lower(db_pool: Pool) -> None:
    blocks = [range(0x41, 0x7B), range(0xC0, 0x250), range(0x370, 0x400), range(0x400, 0x530), range(0x1E00, 0x1F00)]
    characters = [chr(point) for block in blocks for point in block if chr(point).isalpha()]

    rows = await db_pool.fetch("SELECT x, lower(x) AS folded FROM unnest($1::text[]) AS x", characters)

    assert [row["folded"] for row in rows] == [fold_case(row["x"]) for row in rows]


INDEXED_CASES = [
    pytest.param('userName eq "member01234.lead@acme-labs.io"', "lower(user_name)", id="user-name-eq"),
    pytest.param('userName sw "MEMBER01234."', "lower(user_name)", id="user-name-sw"),
    pytest.param('userName co "ber01234.le"', "lower(user_name)", id="user-name-co"),
    pytest.param('userName ew "@ACME-labs.io"', "lower(user_name)", id="user-name-ew"),
    pytest.param('emails.value eq "Member01234.Lead@Acme-Labs.io"', "lower(email)", id="email-eq"),
    pytest.param('emails sw "member01234.L"', "lower(email)", id="email-sw"),
    pytest.param('emails[type eq "work"].value co "ber01234.le"', "lower(email)", id="email-co"),
    pytest.param('emails.value ew "@acme-labs.IO"', "lower(email)", id="email-ew"),
]


@pytest.fixture(scope="module")
async def crowd(db_pool: Pool) -> AsyncIterator[UUID]:
    chance = random.Random(7)
    roles = ["lead", "dev", "ops", "qa", "sales"]
    users = [StoredUser(id=uuid4(), user_name="Member01234.Lead@Acme-Labs.io", email="member01234.lead@acme-labs.io")]
    users += [
        StoredUser(
            id=uuid4(),
            user_name=f"Member{number:05d}.{chance.choice(roles)}@Team{number % 7}.example.com",
            email=f"member{number:05d}.{chance.choice(roles)}@team{number % 7}.example.com",
            display_name="".join(chance.choices(string.ascii_letters, k=8)),
        )
        for number in range(4000)
        if number != 1234
    ]

    org_id = await create_organization(db_pool, users)
    await db_pool.execute("ANALYZE users")
    yield org_id
    await db_pool.execute("DELETE FROM organizations WHERE id = $1", org_id)


@pytest.mark.parametrize(("text", "expression"), INDEXED_CASES)
async def test_case_insensitive_filters_on_user_name_and_email_use_an_index(
    db_pool: Pool,
    crowd: UUID,
    text: str,
    expression: str,
) -> None:
    sql, params = compile_filter(parse_filter(text), first_param=2)
    query = f"SELECT u.id FROM users u WHERE u.org_id = $1 AND u.deleted_at IS NULL AND {sql}"  # noqa: S608 - compiled SQL, values bound

    plan = json.loads(await db_pool.fetchval(f"EXPLAIN (FORMAT JSON) {query}", crowd, *params))
    nodes = list(_plan_nodes(plan[0]["Plan"]))

    assert not [node for node in nodes if node["Node Type"] == "Seq Scan"], nodes
    assert any(
        node.get("Index Name", "").startswith("users_") and expression in node.get("Index Cond", "") for node in nodes
    ), nodes
    assert len(await db_pool.fetch(query, crowd, *params)) == 1


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def _stored_user(
    *,
    user_name: str,
    email_case: Callable[[str], str],
    identifier: UUID,
    parts: tuple[str | None, ...],
    active: bool,
    created_at: datetime,
    updated_at: datetime,
) -> StoredUser:
    given_name, family_name, formatted_name, display_name, external_id = parts
    return StoredUser(
        id=identifier,
        user_name=user_name,
        email=email_case(user_name),
        given_name=given_name,
        family_name=family_name,
        formatted_name=formatted_name,
        display_name=display_name,
        external_id=external_id,
        active=active,
        created_at=created_at,
        updated_at=updated_at,
    )


OPTIONAL_TEXT = st.one_of(st.none(), st.sampled_from(WORDS), st.sampled_from(WORDS), TEXT)
STORED_USERS = st.builds(
    _stored_user,
    user_name=st.sampled_from(USER_NAMES)
    | st.builds("{}@{}".format, TEXT, st.sampled_from(["Example.com", "x_y.test"])),
    email_case=st.sampled_from([str, str.lower, str.upper]),
    identifier=st.sampled_from(IDS),
    parts=st.tuples(*[OPTIONAL_TEXT] * 5),
    active=st.booleans(),
    created_at=st.sampled_from(MOMENTS),
    updated_at=st.sampled_from(MOMENTS),
)
TEAMS = st.lists(
    STORED_USERS,
    min_size=2,
    max_size=8,
    unique_by=(lambda user: fold_case(user.user_name), lambda user: user.id),
)


@settings(max_examples=200, deadline=None)
@given(users=TEAMS, drawn=st.lists(FILTERS, min_size=1, max_size=4), chance=st.randoms(use_true_random=False))
async def test_compiled_filter_selects_exactly_the_users_evaluate_accepts(
    db_pool: Pool,
    users: list[StoredUser],
    drawn: list[Filter],
    chance: random.Random,
) -> None:
    texts = [render(filter_, chance) for filter_ in drawn]
    parsed = [parse_filter(text, max_depth=64) for text in texts]
    checked = [node for filter_ in parsed for node in _subtrees(filter_)]
    columns: list[str] = []
    params: list[object] = []
    for node in checked:
        sql, node_params = compile_filter(node, first_param=2 + len(params))
        columns.append(sql)
        params.extend(node_params)

    org_id = await create_organization(db_pool, users)
    try:
        query = f"SELECT u.id, {', '.join(columns)} FROM users u WHERE u.org_id = $1"  # noqa: S608 - compiled SQL, values bound
        rows = await db_pool.fetch(query, org_id, *params)
    finally:
        await db_pool.execute("DELETE FROM organizations WHERE id = $1", org_id)

    assert parsed == drawn, texts
    resources = {user.id: user.scim() for user in users}
    for column, node in enumerate(checked, start=1):
        selected = {row["id"] for row in rows if row[column]}
        assert all(row[column] is not None for row in rows), (node, columns[column - 1])
        assert selected == {id_ for id_, resource in resources.items() if evaluate(node, resource)}, (node, params)


def _subtrees(node: Filter) -> Iterator[Filter]:
    """``node`` and every filter inside it that stands on its own (value filters' insides name sub-attributes)."""
    yield node
    match node:
        case And(left=left, right=right) | Or(left=left, right=right):
            yield from _subtrees(left)
            yield from _subtrees(right)
        case Not(inner=inner):
            yield from _subtrees(inner)


FILTER_SCRAPS = [
    *FRAGMENTS, '"', "(", ")", "[", "]", " eq ", " pr", " and ", " or ", "not ", "userName", "emails", ".value",
    "active", "meta.created", "meta.version", "title", "null", "true", "1",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=120) | st.lists(st.sampled_from(FILTER_SCRAPS), max_size=20).map("".join))
def test_compile_filter_raises_only_invalid_filter(text: str) -> None:
    try:
        parsed = parse_filter(text)
    except InvalidFilterError:
        return

    with contextlib.suppress(InvalidFilterError):
        compile_filter(parsed, first_param=1)
