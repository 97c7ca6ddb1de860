from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.scim.ast import AttrPath, Compare, Not
from shared.scim.filter import parse_filter
from shared.scim.filter_eval import evaluate, fold_case, operand_boolean, operand_datetime, operand_text
from shared.scim.schema import ENTERPRISE_USER_URN

USER_ID = "0190f5a4-6c1e-7cc3-9f0e-3d2b8a1c4e5f"

BARBARA: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": USER_ID,
    "externalId": "Bjensen-01",
    "userName": "Barbara.Jensen+qa@Example.com",
    "name": {"givenName": "Barbara", "familyName": "O'Malley", "formatted": "Ms. Barbara J Jensen"},
    "displayName": "Babs Jensen",
    "active": True,
    "emails": [{"value": "Barbara.Jensen+qa@Example.com", "type": "work", "primary": True}],
    "meta": {
        "resourceType": "User",
        "created": "2024-03-01T10:00:00.250000+00:00",
        "lastModified": "2024-06-01T12:30:00+00:00",
        "version": 'W/"3"',
    },
    ENTERPRISE_USER_URN: {"department": "Sales", "manager": {"value": "26118915", "displayName": "John Smith"}},
}

NAMELESS: dict[str, Any] = {
    "id": "0190f5a4-6c1e-7cc3-9f0e-000000000002",
    "userName": "nobody@example.com",
    "active": False,
    "emails": [{"value": "nobody@example.com", "type": "work", "primary": True}],
    "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('userName eq "barbara.jensen+qa@example.com"', True, id="eq-ignores-case"),
        pytest.param('userName eq "BARBARA.JENSEN+QA@EXAMPLE.COM"', True, id="eq-upper-case"),
        pytest.param('userName eq "barbara.jensen qa@example.com"', False, id="plus-is-not-space"),
        pytest.param('userName ne "barbara.jensen+qa@example.com"', False, id="ne-ignores-case"),
        pytest.param('userName co "JENSEN+"', True, id="co-ignores-case"),
        pytest.param('userName sw "barbara."', True, id="sw"),
        pytest.param('userName ew "@EXAMPLE.COM"', True, id="ew"),
        pytest.param('userName sw "jensen"', False, id="sw-not-prefix"),
        pytest.param('userName gt "BARBARA"', True, id="gt-folds-case"),
        pytest.param('userName lt "barbara"', False, id="lt-folds-case"),
        pytest.param('userName ge "barbara.jensen+qa@example.com"', True, id="ge-equal"),
        pytest.param('userName le "barbara.jensen+qa@example.com"', True, id="le-equal"),
        pytest.param('externalId eq "bjensen-01"', False, id="external-id-is-case-exact"),
        pytest.param('externalId eq "Bjensen-01"', True, id="external-id-exact"),
        pytest.param("externalId eq Bjensen-01", True, id="external-id-unquoted"),
        pytest.param('externalId co "jensen"', True, id="external-id-co-exact"),
        pytest.param('externalId co "JENSEN"', False, id="external-id-co-case-exact"),
        pytest.param(f'id eq "{USER_ID}"', True, id="id-exact"),
        pytest.param(f'id eq "{USER_ID.upper()}"', False, id="id-is-case-exact"),
        pytest.param('name.familyName co "o\'malley"', True, id="name-part-ignores-case"),
        pytest.param('name.givenName eq "barbara" and name.familyName sw "O"', True, id="and"),
        pytest.param('name.givenName eq "nope" or displayName co "babs"', True, id="or"),
        pytest.param('not (displayName co "babs")', False, id="not"),
        pytest.param("name pr", True, id="pr-complex"),
        pytest.param("title pr", False, id="pr-unknown-absent"),
        pytest.param("active eq true", True, id="boolean"),
        pytest.param('active eq "True"', True, id="boolean-string-any-case"),
        pytest.param('active ne "false"', True, id="boolean-string-ne"),
        pytest.param('active eq "yes"', False, id="boolean-bad-string-is-false"),
        pytest.param("active gt false", False, id="boolean-ordering-is-false"),
        pytest.param("active pr", True, id="boolean-pr"),
        pytest.param('emails eq "barbara.jensen+qa@example.com"', True, id="emails-without-sub-means-value"),
        pytest.param('emails co "example.COM"', True, id="emails-co-without-sub"),
        pytest.param('emails.value eq "barbara.jensen+qa@example.com"', True, id="emails-value"),
        pytest.param('emails.type eq "WORK"', True, id="emails-type-ignores-case"),
        pytest.param("emails.primary eq true", True, id="emails-primary"),
        pytest.param('emails[type eq "work"]', True, id="value-path"),
        pytest.param('emails[type eq "home"]', False, id="value-path-no-match"),
        pytest.param('emails[type eq "work" and value co "jensen"]', True, id="value-path-and"),
        pytest.param('emails[type eq "work"].value eq "Barbara.Jensen+qa@example.com"', True, id="value-path-sub"),
        pytest.param('emails[type eq "home"].value eq "Barbara.Jensen+qa@example.com"', False, id="value-path-sub-no"),
        pytest.param('name[givenName eq "Barbara"]', True, id="value-path-on-singular-complex"),
        pytest.param('meta.resourceType eq "User"', True, id="resource-type"),
        pytest.param('meta.resourceType eq "user"', False, id="resource-type-is-case-exact"),
        pytest.param('meta.created eq "2024-03-01T10:00:00.25Z"', True, id="datetime-eq-other-spelling"),
        pytest.param('meta.created eq "2024-03-01T12:00:00.25+02:00"', True, id="datetime-eq-other-offset"),
        pytest.param('meta.created gt "2024-03-01T10:00:00Z"', True, id="datetime-gt"),
        pytest.param('meta.lastModified lt "2024-06-01T12:30:00Z"', False, id="datetime-lt"),
        pytest.param('meta.lastModified le "2024-06-01T12:30:00"', True, id="datetime-naive-is-utc"),
        pytest.param('meta.created gt "yesterday"', False, id="datetime-bad-operand-is-false"),
        pytest.param('meta.created co "2024"', False, id="datetime-co-is-false"),
        pytest.param('meta.version eq "W/\\"3\\""', True, id="version-exact"),
        pytest.param('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "B"', True, id="core-urn"),
        pytest.param(f'{ENTERPRISE_USER_URN}:department eq "sales"', True, id="enterprise-attribute"),
        pytest.param(f'{ENTERPRISE_USER_URN}:manager.displayName co "smith"', True, id="enterprise-sub-attribute"),
        pytest.param('schemas eq "urn:ietf:params:scim:schemas:core:2.0:user"', True, id="multi-valued-simple"),
        pytest.param('displayName eq "Babs Jensen" and userName eq 5', False, id="number-against-string"),
    ],
)
def test_evaluate_matches_barbara(text: str, expected: bool) -> None:
    assert evaluate(parse_filter(text), BARBARA) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('displayName eq "x"', False, id="eq-absent"),
        pytest.param('displayName ne "x"', True, id="ne-absent-is-true"),
        pytest.param('not (displayName eq "x")', True, id="not-eq-absent-is-true"),
        pytest.param('displayName co ""', False, id="co-absent"),
        pytest.param('displayName gt ""', False, id="gt-absent"),
        pytest.param('displayName lt "zzz"', False, id="lt-absent"),
        pytest.param("displayName eq null", True, id="eq-null-absent"),
        pytest.param("displayName ne null", False, id="ne-null-absent"),
        pytest.param("userName ne null", True, id="ne-null-present"),
        pytest.param("userName eq null", False, id="eq-null-present"),
        pytest.param("displayName pr", False, id="pr-absent"),
        pytest.param("not (displayName pr)", True, id="not-pr-absent"),
        pytest.param('name.givenName ne "x"', True, id="ne-sub-of-absent-complex"),
        pytest.param("name pr", False, id="pr-absent-complex"),
        pytest.param('name[givenName ne "x"]', False, id="value-path-on-absent-complex"),
        pytest.param("active eq false", True, id="false-is-a-value"),
        pytest.param("active pr", True, id="false-is-present"),
        pytest.param("meta.version pr", False, id="absent-sub-of-present-complex"),
        pytest.param("userName gt null", False, id="ordering-with-null-is-false"),
    ],
)
def test_evaluate_treats_unassigned_as_null(text: str, expected: bool) -> None:
    assert evaluate(parse_filter(text), NAMELESS) is expected


@pytest.mark.parametrize(
    "resource",
    [
        pytest.param({"displayName": None}, id="null"),
        pytest.param({"displayName": ""}, id="empty-string"),
        pytest.param({}, id="missing"),
    ],
)
def test_evaluate_treats_null_empty_and_missing_alike(resource: dict[str, Any]) -> None:
    assert evaluate(parse_filter("displayName eq null"), resource)
    assert evaluate(parse_filter('displayName ne "x"'), resource)
    assert not evaluate(parse_filter("displayName pr"), resource)


def test_evaluate_matches_any_value_of_a_multi_valued_attribute() -> None:
    resource = {
        "emails": [
            {"value": "home@example.org", "type": "home"},
            {"value": "work@example.com", "type": "work", "primary": True},
        ],
    }

    assert evaluate(parse_filter('emails.value ew "example.org"'), resource)
    assert evaluate(parse_filter('emails.value ne "home@example.org"'), resource)
    assert evaluate(parse_filter('emails[type eq "work" and value sw "work@"]'), resource)
    assert not evaluate(parse_filter('emails[type eq "home" and value sw "work@"]'), resource)
    assert evaluate(parse_filter('emails[type eq "home"].value sw "HOME@"'), resource)


def test_evaluate_on_one_value_names_its_sub_attributes() -> None:
    work = {"value": "Work@Example.com", "type": "work", "primary": True}
    home = {"value": "home@example.org", "type": "home"}
    value_filter = parse_filter('type eq "WORK" and primary eq "true"')

    assert evaluate(value_filter, work, within="emails")
    assert not evaluate(value_filter, home, within="emails")
    assert evaluate(parse_filter('value eq "work@example.com"'), work, within="emails")
    assert evaluate(parse_filter('value eq "work@example.com"'), work)


def test_evaluate_reads_attribute_names_in_any_case() -> None:
    resource = {"USERNAME": "a@b.c", "Name": {"GivenName": "Ann"}}

    assert evaluate(Compare(path=AttrPath(attr="userName"), op="eq", value="A@B.C"), resource)
    assert evaluate(parse_filter('name.givenName eq "ann"'), resource)


def test_evaluate_compares_numbers_of_unknown_attributes_numerically() -> None:
    resource = {"loginCount": 10, "ratio": 0.5}

    assert evaluate(parse_filter("loginCount gt 9"), resource)
    assert evaluate(parse_filter("ratio le 0.5"), resource)
    assert not evaluate(parse_filter('loginCount co "1"'), resource)


def test_evaluate_treats_ne_as_the_negation_of_eq() -> None:
    for text in ('displayName eq "Babs Jensen"', 'name.givenName eq "x"', "displayName eq null", "active eq true"):
        for resource in (BARBARA, NAMELESS):
            compared = parse_filter(text)
            assert isinstance(compared, Compare)
            negated = Compare(path=compared.path, op="ne", value=compared.value)

            assert evaluate(negated, resource) is evaluate(Not(compared), resource)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        pytest.param("ABC", "abc", id="ascii"),
        pytest.param("ÉCOLE", "école", id="latin"),
        pytest.param("ΨΩΣ", "ψωσ", id="no-final-sigma"),
        pytest.param("İSTANBUL", "istanbul", id="dotted-capital-i-stays-one-character"),
    ],
)
def test_fold_case_lowers_each_character_alone(text: str, folded: str) -> None:
    assert fold_case(text) == folded


@pytest.mark.parametrize(
    ("operand", "expected"),
    [
        pytest.param("x", "x", id="string"),
        pytest.param(12345, "12345", id="integer"),
        pytest.param(-1.5, "-1.5", id="float"),
        pytest.param(True, None, id="boolean"),
        pytest.param(None, None, id="null"),
    ],
)
def test_operand_text_reads_strings_and_numbers(operand: Any, expected: str | None) -> None:
    assert operand_text(operand) == expected


@pytest.mark.parametrize(
    ("operand", "expected"),
    [
        pytest.param(True, True, id="true"),
        pytest.param("True", True, id="string-true"),
        pytest.param("FALSE", False, id="string-false"),
        pytest.param("yes", None, id="other-string"),
        pytest.param(1, None, id="number"),
    ],
)
def test_operand_boolean_accepts_boolean_strings(operand: Any, expected: bool | None) -> None:
    assert operand_boolean(operand) is expected


@pytest.mark.parametrize(
    ("operand", "expected"),
    [
        pytest.param("2011-05-13T04:42:34Z", datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC), id="utc"),
        pytest.param("2011-05-13T06:42:34+02:00", datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC), id="offset"),
        pytest.param("2011-05-13T04:42:34", datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC), id="naive-is-utc"),
        pytest.param(
            datetime(2011, 5, 13, 6, 42, 34, tzinfo=timezone(timedelta(hours=2))),
            datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC),
            id="datetime",
        ),
        pytest.param("0001-01-01T00:00:00+01:00", None, id="out-of-range-in-utc"),
        pytest.param("13/05/2011", None, id="not-iso"),
        pytest.param(20110513, None, id="number"),
    ],
)
def test_operand_datetime_reads_iso_timestamps_as_utc(operand: Any, expected: datetime | None) -> None:
    assert operand_datetime(operand) == expected
