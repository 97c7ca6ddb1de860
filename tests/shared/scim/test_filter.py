import contextlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.scim.ast import And, AttrPath, Compare, CompareOp, Filter, Literal_, Not, Or, PatchPath, Present, ValuePath
from shared.scim.errors import InvalidFilterError, InvalidPathError, InvalidValueError
from shared.scim.filter import parse_attribute_list, parse_filter, parse_path
from shared.scim.schema import ENTERPRISE_USER_URN
from tests.shared.scim.strategies import FILTERS, render

USER_NAME = AttrPath(attr="userName")
EMAILS = AttrPath(attr="emails")


def compare(attr: str, op: CompareOp, value: Literal_, *, sub: str | None = None, urn: str | None = None) -> Compare:
    return Compare(path=AttrPath(attr=attr, sub=sub, urn=urn), op=op, value=value)


def present(attr: str, *, sub: str | None = None) -> Present:
    return Present(path=AttrPath(attr=attr, sub=sub))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('userName eq "bjensen"', compare("userName", "eq", "bjensen"), id="eq-string"),
        pytest.param('USERNAME EQ "bjensen"', compare("userName", "eq", "bjensen"), id="name-and-operator-any-case"),
        pytest.param('username Sw "J"', compare("userName", "sw", "J"), id="sw"),
        pytest.param(
            'name.familyName co "O\'Malley"', compare("name", "co", "O'Malley", sub="familyName"), id="co-sub"
        ),
        pytest.param('NAME.GIVENNAME ew "a"', compare("name", "ew", "a", sub="givenName"), id="sub-any-case"),
        pytest.param('displayName ne "x"', compare("displayName", "ne", "x"), id="ne"),
        pytest.param(
            'meta.lastModified gt "2011-05-13T04:42:34Z"',
            compare("meta", "gt", "2011-05-13T04:42:34Z", sub="lastModified"),
            id="gt-datetime",
        ),
        pytest.param('meta.created ge "2011"', compare("meta", "ge", "2011", sub="created"), id="ge"),
        pytest.param('meta.created lt "2011"', compare("meta", "lt", "2011", sub="created"), id="lt"),
        pytest.param('meta.created le "2011"', compare("meta", "le", "2011", sub="created"), id="le"),
        pytest.param("title pr", present("title"), id="pr-unknown-attribute-kept"),
        pytest.param("favoriteColor EQ 1", compare("favoriteColor", "eq", 1), id="unknown-attribute-kept-as-written"),
        pytest.param("active eq true", compare("active", "eq", True), id="true"),
        pytest.param("active eq FALSE", compare("active", "eq", False), id="false-any-case"),
        pytest.param("displayName eq Null", compare("displayName", "eq", None), id="null-any-case"),
        pytest.param('active eq "true"', compare("active", "eq", "true"), id="quoted-true-is-a-string"),
        pytest.param("x eq 42", compare("x", "eq", 42), id="integer"),
        pytest.param("x eq -0.5e3", compare("x", "eq", -500.0), id="number-with-exponent"),
        pytest.param("x eq 007", compare("x", "eq", "007"), id="not-a-json-number-is-a-string"),
        pytest.param("externalId eq jyoung", compare("externalId", "eq", "jyoung"), id="entra-unquoted-value"),
        pytest.param(
            "userName eq carol+qa@example.com",
            compare("userName", "eq", "carol+qa@example.com"),
            id="unquoted-email-with-plus",
        ),
        pytest.param(
            'userName eq "carol+qa@example.com"',
            compare("userName", "eq", "carol+qa@example.com"),
            id="quoted-email-with-plus",
        ),
        pytest.param(r'displayName eq "a\"b\\c\u00e9\n"', compare("displayName", "eq", 'a"b\\cé\n'), id="json-escapes"),
        pytest.param('displayName eq ""', compare("displayName", "eq", ""), id="empty-string"),
        pytest.param('userName eq"x"', compare("userName", "eq", "x"), id="no-space-before-quote"),
        pytest.param('  userName\teq\n"x"  ', compare("userName", "eq", "x"), id="any-whitespace"),
        pytest.param(
            'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
            compare("userName", "sw", "J"),
            id="core-urn-dropped",
        ),
        pytest.param(
            'URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.givenName eq "B"',
            compare("name", "eq", "B", sub="givenName"),
            id="core-urn-any-case-with-sub",
        ),
        pytest.param(
            'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:department eq "Sales"',
            compare("department", "eq", "Sales", urn=ENTERPRISE_USER_URN),
            id="enterprise-urn-canonical",
        ),
        pytest.param(
            "urn:example:params:custom:shoeSize.left gt 9",
            compare("shoeSize", "gt", 9, sub="left", urn="urn:example:params:custom"),
            id="other-urn-kept",
        ),
        pytest.param('emails eq "a@b.c"', compare("emails", "eq", "a@b.c"), id="multi-valued-without-sub"),
        pytest.param(
            'emails[type eq "work"]',
            ValuePath(path=EMAILS, filter=compare("type", "eq", "work")),
            id="value-path",
        ),
        pytest.param(
            'emails[TYPE eq "work" and VALUE co "@example.com"]',
            ValuePath(path=EMAILS, filter=And(compare("type", "eq", "work"), compare("value", "co", "@example.com"))),
            id="value-path-and-names-resolved-in-parent",
        ),
        pytest.param(
            'emails[type eq "work"].value eq "a@b.c"',
            ValuePath(path=EMAILS, filter=And(compare("type", "eq", "work"), compare("value", "eq", "a@b.c"))),
            id="value-path-then-sub-attribute",
        ),
        pytest.param(
            'emails[type eq "work"].Value pr',
            ValuePath(path=EMAILS, filter=And(compare("type", "eq", "work"), present("value"))),
            id="value-path-then-sub-attribute-pr",
        ),
        pytest.param(
            'emails[type eq "work" or (type eq "home" and value ew "@example.com")]',
            ValuePath(
                path=EMAILS,
                filter=Or(
                    compare("type", "eq", "work"),
                    And(compare("type", "eq", "home"), compare("value", "ew", "@example.com")),
                ),
            ),
            id="value-path-with-grouping",
        ),
        pytest.param(
            'addresses[Type eq "home"]',
            ValuePath(path=AttrPath(attr="addresses"), filter=compare("Type", "eq", "home")),
            id="value-path-on-unknown-attribute-kept",
        ),
    ],
)
def test_parse_filter_reads_expression(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("a pr or b pr and c pr", Or(present("a"), And(present("b"), present("c"))), id="and-before-or"),
        pytest.param("a pr and b pr or c pr", Or(And(present("a"), present("b")), present("c")), id="and-left-of-or"),
        pytest.param("(a pr or b pr) and c pr", And(Or(present("a"), present("b")), present("c")), id="grouping"),
        pytest.param("not (a pr) and b pr", And(Not(present("a")), present("b")), id="not-before-and"),
        pytest.param("not (a pr or b pr)", Not(Or(present("a"), present("b"))), id="not-group"),
        pytest.param("NOT a pr", Not(present("a")), id="not-without-parentheses"),
        pytest.param("not not (a pr)", Not(Not(present("a"))), id="double-not"),
        pytest.param(
            "a pr AND b pr Or c pr", Or(And(present("a"), present("b")), present("c")), id="keywords-any-case"
        ),
        pytest.param(
            "a pr or b pr or c pr",
            Or(Or(present("a"), present("b")), present("c")),
            id="chain-of-three",
        ),
        pytest.param(
            "a pr or b pr or c pr or d pr",
            Or(Or(present("a"), present("b")), Or(present("c"), present("d"))),
            id="chain-is-balanced",
        ),
        pytest.param(
            'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
            And(
                compare("userType", "eq", "Employee"),
                Or(compare("emails", "co", "example.com"), compare("emails", "co", "example.org", sub="value")),
            ),
            id="rfc-example-grouped-or",
        ),
        pytest.param(
            'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
            And(
                compare("userType", "ne", "Employee"),
                Not(Or(compare("emails", "co", "example.com"), compare("emails", "co", "example.org", sub="value"))),
            ),
            id="rfc-example-not",
        ),
    ],
)
def test_parse_filter_applies_precedence(text: str, expected: Filter) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        pytest.param("", "it is empty", id="empty"),
        pytest.param("   ", "it is empty", id="blank"),
        pytest.param("userName eq", "character 12: expected a value after 'eq', found the end", id="missing-value"),
        pytest.param("userName eq )", "expected a value after 'eq', found ')'", id="missing-value-before-paren"),
        pytest.param('userName like "a%"', "character 10: expected an operator (eq, ne,", id="unknown-operator"),
        pytest.param("userName", "expected an operator", id="missing-operator"),
        pytest.param('"""', "character 3: this string has no closing quote", id="stray-quotes"),
        pytest.param('userName eq "abc', "character 13: this string has no closing quote", id="unterminated-string"),
        pytest.param('"x" eq userName', "expected an attribute name, '(' or 'not', found", id="string-as-attribute"),
        pytest.param('(userName eq "a"', "expected ')' to close the '(' at character 1", id="unclosed-parenthesis"),
        pytest.param('userName eq "a")', "expected 'and', 'or' or the end of the filter, found ')'", id="extra-paren"),
        pytest.param("()", "expected an attribute name", id="empty-group"),
        pytest.param('userName eq "a" and', "expected an attribute name", id="dangling-and"),
        pytest.param('userName eq "a" userName eq "b"', "expected 'and', 'or'", id="missing-logical-operator"),
        pytest.param('userName eq "a" xor b pr', "expected 'and', 'or'", id="unknown-logical-operator"),
        pytest.param('emails[type eq "work"', "expected ']' to close the value filter", id="unclosed-bracket"),
        pytest.param("emails[]", "expected a filter inside '[ ]'", id="empty-value-filter"),
        pytest.param('emails[type[x eq "y"] pr]', "value filters cannot be nested", id="nested-value-filter"),
        pytest.param('name.givenName[x eq "y"]', "must follow an attribute, not the sub-attribute", id="sub-bracket"),
        pytest.param('emails[type eq "w"]value eq "x"', "expected 'and', 'or'", id="sub-without-dot"),
        pytest.param(
            'emails[type eq "w"].1x eq "x"', "expected '.' and a sub-attribute name", id="bad-sub-after-bracket"
        ),
        pytest.param('user-name eq "x"', None, id="hyphen-allowed-in-name"),
        pytest.param('1userName eq "x"', "expected an attribute path, found '1userName'", id="name-starts-with-digit"),
        pytest.param('name..givenName eq "x"', "expected an attribute path", id="double-dot"),
        pytest.param('name.given.x eq "x"', "expected an attribute path", id="two-sub-attributes"),
        pytest.param('http://x:userName eq "x"', "expected an attribute path", id="prefix-not-a-urn"),
        pytest.param(r'userName eq "\q"', "invalid escape sequence", id="bad-escape"),
        pytest.param(r'userName eq "\ud800"', "invalid escape sequence", id="lone-surrogate-escape"),
        pytest.param(r'userName eq "a\u0000"', "NUL characters are not allowed", id="nul-escape"),
        pytest.param('userName eq "a\x00"', "NUL characters are not allowed", id="raw-nul"),
        pytest.param('userName eq "\ud800"', "character 14: the text is not valid Unicode", id="raw-lone-surrogate"),
        pytest.param("x eq 1e400", "out of range", id="number-overflow"),
        pytest.param("x eq " + "9" * 5000, "too many digits", id="integer-too-long"),
        pytest.param("x eq [", "expected a value", id="bracket-as-value"),
    ],
)
def test_parse_filter_rejects_malformed_text(text: str, detail: str | None) -> None:
    if detail is None:
        parse_filter(text)
        return

    with pytest.raises(InvalidFilterError) as caught:
        parse_filter(text, max_length=10_000)

    assert caught.value.scim_type == "invalidFilter"
    assert caught.value.status == 400
    assert detail in caught.value.detail


def test_parse_filter_rejects_text_longer_than_the_limit() -> None:
    text = 'userName eq "' + "a" * 100 + '"'

    assert parse_filter(text, max_length=len(text))
    with pytest.raises(InvalidFilterError, match="longer than 50 characters"):
        parse_filter(text, max_length=50)


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        pytest.param("a pr", True, id="leaf"),
        pytest.param("((a pr))", True, id="two-groups"),
        pytest.param("(((a pr)))", False, id="three-groups"),
        pytest.param("not (not (a pr))", True, id="two-nots"),
        pytest.param("not (not (not (a pr)))", False, id="three-nots"),
        pytest.param("a pr or b pr or c pr or d pr", True, id="chain-of-four"),
        pytest.param("a pr or b pr or c pr or d pr or e pr", False, id="chain-of-five"),
        pytest.param('emails[type eq "w"]', True, id="value-path"),
        pytest.param('(emails[type eq "w" and value pr])', False, id="group-value-path-and"),
        pytest.param('(emails[type eq "w"].value pr)', False, id="group-value-path-sub"),
    ],
)
def test_parse_filter_counts_nesting_depth(text: str, allowed: bool) -> None:
    if allowed:
        assert parse_filter(text, max_depth=3)
        return

    with pytest.raises(InvalidFilterError, match="nests deeper than 3 levels"):
        parse_filter(text, max_depth=3)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("(" * 5000 + "a pr" + ")" * 5000, id="deep-parentheses"),
        pytest.param("not " * 5000 + "a pr", id="deep-nots"),
        pytest.param("not (" * 3000 + "a pr" + ")" * 3000, id="deep-not-groups"),
        pytest.param("(" * 100_000, id="only-open-parentheses"),
    ],
)
def test_parse_filter_refuses_deep_nesting_without_exhausting_the_stack(text: str) -> None:
    with pytest.raises(InvalidFilterError, match="nests deeper than 16 levels"):
        parse_filter(text, max_length=len(text))


def test_parse_filter_keeps_a_long_flat_chain_shallow() -> None:
    text = " or ".join(f'userName eq "user{number}@example.com"' for number in range(2000))

    parsed = parse_filter(text, max_length=len(text))

    assert _depth(parsed) == 12  # eleven levels of a balanced tree over 2000 terms, plus the leaves


def _depth(node: Filter) -> int:
    match node:
        case And(left=left, right=right) | Or(left=left, right=right):
            return 1 + max(_depth(left), _depth(right))
        case Not(inner=inner):
            return 1 + _depth(inner)
        case ValuePath(filter=inner):
            return 1 + _depth(inner)
        case _:
            return 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("displayName", PatchPath(path=AttrPath(attr="displayName")), id="attribute"),
        pytest.param("DISPLAYNAME", PatchPath(path=AttrPath(attr="displayName")), id="attribute-any-case"),
        pytest.param("name.givenName", PatchPath(path=AttrPath(attr="name", sub="givenName")), id="sub-attribute"),
        pytest.param(
            "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            PatchPath(path=AttrPath(attr="name", sub="familyName")),
            id="core-urn",
        ),
        pytest.param(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            PatchPath(path=AttrPath(attr="manager", urn=ENTERPRISE_USER_URN)),
            id="enterprise-urn",
        ),
        pytest.param(
            'emails[type eq "work"]',
            PatchPath(path=EMAILS, value_filter=compare("type", "eq", "work")),
            id="value-path",
        ),
        pytest.param(
            'emails[type eq "work"].value',
            PatchPath(path=EMAILS, value_filter=compare("type", "eq", "work"), sub="value"),
            id="value-path-sub-attribute",
        ),
        pytest.param(
            'Emails[Type EQ "work" and primary eq TRUE].VALUE',
            PatchPath(
                path=EMAILS,
                value_filter=And(compare("type", "eq", "work"), compare("primary", "eq", True)),
                sub="value",
            ),
            id="value-path-any-case",
        ),
        pytest.param(
            'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
            PatchPath(
                path=AttrPath(attr="members"),
                value_filter=compare("value", "eq", "2819c223-7f76-453a-919d-413861904646"),
            ),
            id="unknown-attribute-kept",
        ),
        pytest.param("  active  ", PatchPath(path=AttrPath(attr="active")), id="surrounding-whitespace"),
    ],
)
def test_parse_path_reads_path(text: str, expected: PatchPath) -> None:
    assert parse_path(text) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        pytest.param("", "it is empty", id="empty"),
        pytest.param("name givenName", "expected the end of the path, found 'givenName'", id="two-words"),
        pytest.param('emails[type eq "work"', "expected ']' to close the value filter", id="unclosed-bracket"),
        pytest.param('emails[type eq "work"]value', "expected '.' and a sub-attribute name", id="sub-without-dot"),
        pytest.param('emails[type eq "work"].value.x', "expected '.' and a sub-attribute name", id="two-subs"),
        pytest.param('emails[type eq "work"] or x pr', "expected '.' and a sub-attribute name", id="filter-after"),
        pytest.param("emails[type zz 1]", "expected an operator", id="bad-value-filter"),
        pytest.param('emails[type eq "w"].value[x pr]', "expected the end of the path", id="second-bracket"),
        pytest.param('"displayName"', "expected an attribute path, found", id="quoted"),
        pytest.param("(displayName)", "expected an attribute path, found '('", id="parenthesised"),
        pytest.param("display name", "expected the end of the path", id="space-in-name"),
        pytest.param("9lives", "expected an attribute path", id="bad-name"),
    ],
)
def test_parse_path_rejects_malformed_path(text: str, detail: str) -> None:
    with pytest.raises(InvalidPathError) as caught:
        parse_path(text)

    assert caught.value.scim_type == "invalidPath"
    assert detail in caught.value.detail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("  ", [], id="blank"),
        pytest.param("userName", [USER_NAME], id="one"),
        pytest.param(
            " username , NAME.givenName,emails.value ",
            [USER_NAME, AttrPath(attr="name", sub="givenName"), AttrPath(attr="emails", sub="value")],
            id="several-with-whitespace",
        ),
        pytest.param(
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName,"
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            [AttrPath(attr="displayName"), AttrPath(attr="manager", sub="displayName", urn=ENTERPRISE_USER_URN)],
            id="urn-qualified",
        ),
    ],
)
def test_parse_attribute_list_reads_names(text: str, expected: list[AttrPath]) -> None:
    assert parse_attribute_list(text) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        pytest.param("userName,,displayName", "character 10: expected an attribute name between commas", id="empty"),
        pytest.param("userName,", "expected an attribute name between commas", id="trailing-comma"),
        pytest.param("user name", "character 1: expected an attribute path", id="space"),
        pytest.param('emails[type eq "work"]', "expected an attribute path", id="value-path"),
        pytest.param("userName, 2x", "character 11: expected an attribute path", id="bad-second-name"),
    ],
)
def test_parse_attribute_list_rejects_malformed_list(text: str, detail: str) -> None:
    with pytest.raises(InvalidValueError) as caught:
        parse_attribute_list(text)

    assert caught.value.scim_type == "invalidValue"
    assert detail in caught.value.detail


SCRAPS = [
    "userName", "emails", "name.givenName", "urn:ietf:params:scim:schemas:core:2.0:User:userName", "[", "]", "(", ")",
    '"', '"x"', r'"\"', "\\", ".value", ".", ":", "eq", "EQ", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr",
    "and", "or", "not", "true", "null", "1", "-1.5e3", "1e999", "jyoung", " ", "\t", ",", "a+b@example.com", "é",
    "\x00", "\u00a0",
]  # fmt: skip
FILTER_TOKENS = st.sampled_from(SCRAPS)
FILTERISH_TEXT = st.lists(FILTER_TOKENS, max_size=30).map(" ".join) | st.lists(FILTER_TOKENS, max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | FILTERISH_TEXT)
def test_parse_filter_raises_only_invalid_filter(text: str) -> None:
    with contextlib.suppress(InvalidFilterError):
        parse_filter(text)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | FILTERISH_TEXT)
def test_parse_path_raises_only_invalid_path(text: str) -> None:
    with contextlib.suppress(InvalidPathError):
        parse_path(text)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=100) | FILTERISH_TEXT)
def test_parse_attribute_list_raises_only_invalid_value(text: str) -> None:
    with contextlib.suppress(InvalidValueError):
        parse_attribute_list(text)


@settings(max_examples=200, deadline=None)
@given(filter_=FILTERS, chance=st.randoms(use_true_random=False))
def test_parse_filter_reads_back_any_rendered_filter(filter_: Filter, chance: random.Random) -> None:
    text = render(filter_, chance)

    assert parse_filter(text, max_depth=64) == filter_, text
