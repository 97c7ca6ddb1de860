"""Parsing of SCIM filters, PATCH paths and attribute lists (RFC 7644 §3.4.2.2, §3.5.2, §3.10).

One tokenizer and one recursive-descent parser serve all three. Attribute names and operators are read without
regard to case and resolved to the schema's spelling when the service knows them; unknown names are kept as written,
because deciding what may be filtered is the consumer's business (the SQL compiler answers ``invalidFilter``, the
PATCH engine ignores what it does not store).

Beyond the RFC grammar the parser accepts what identity providers are known to send: an unquoted value that is not
``true``, ``false``, ``null`` or a JSON number is read as a string (Microsoft Entra ID sends ``externalId eq
jyoung``), a value path may be followed by a sub-attribute and a comparison (``emails[type eq "work"].value eq
"x"``, read as ``emails[type eq "work" and value eq "x"]``), and ``not`` may precede any term, not only a
parenthesised one.

A chain of ``and`` or ``or`` terms becomes a balanced tree, so a long flat chain stays shallow; every parenthesis,
``not``, value filter and level of such a tree counts towards the nesting limit, which bounds the recursion of the
parser and of everything that walks the tree afterwards.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Final, Literal, NamedTuple, get_args

from shared.scim.ast import And, AttrPath, Compare, CompareOp, Filter, Literal_, Not, Or, PatchPath, Present, ValuePath
from shared.scim.errors import InvalidFilterError, InvalidPathError, InvalidValueError, ScimError
from shared.scim.schema import ENTERPRISE_USER_URN, Attribute, find_attribute, find_sub_attribute, strip_user_urn

__all__ = [
    "COMPARE_OPERATORS",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LENGTH",
    "parse_attribute_list",
    "parse_filter",
    "parse_path",
]

DEFAULT_MAX_LENGTH: Final = 4096
DEFAULT_MAX_DEPTH: Final = 16

TokenKind = Literal["word", "string", "(", ")", "[", "]", "end"]

COMPARE_OPERATORS: Final[dict[str, CompareOp]] = {operator: operator for operator in get_args(CompareOp)}
_OPERATOR_LIST: Final = "eq, ne, co, sw, ew, gt, ge, lt, le or pr"

# ATTRNAME (RFC 7643 §2.1), plus the "$ref" sub-attribute of references.
_NAME: Final = re.compile(r"\$?[A-Za-z][A-Za-z0-9_-]*")
_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_PUNCTUATION: Final[dict[str, TokenKind]] = {"(": "(", ")": ")", "[": "[", "]": "]"}
_WORD_BREAKS: Final = frozenset('()[]"')
_SHOWN_CHARACTERS: Final = 40


class _Token(NamedTuple):
    kind: TokenKind
    text: str
    position: int
    string: str = ""


class _Term(NamedTuple):
    """A parsed subtree with its nesting depth."""

    node: Filter
    depth: int


class _Within(NamedTuple):
    """The multi-valued (or complex) attribute whose values a value filter applies to."""

    definition: Attribute | None


def parse_filter(text: str, *, max_length: int = DEFAULT_MAX_LENGTH, max_depth: int = DEFAULT_MAX_DEPTH) -> Filter:
    """Parse the ``filter`` query parameter or SearchRequest attribute (RFC 7644 §3.4.2.2).

    ``text`` is the decoded parameter. Raises ``InvalidFilterError`` (and nothing else) when the text is empty,
    longer than ``max_length`` characters, nested deeper than ``max_depth`` levels, or not a filter; the detail
    names the character position and what was expected there.
    """
    parser = _Parser(text, subject="filter", error=InvalidFilterError, max_length=max_length, max_depth=max_depth)
    return parser.whole_filter()


def parse_path(text: str, *, max_length: int = DEFAULT_MAX_LENGTH, max_depth: int = DEFAULT_MAX_DEPTH) -> PatchPath:
    """Parse a PATCH operation's ``path``: ``attrPath`` or ``valuePath [ "." subAttr ]`` (RFC 7644 §3.5.2).

    Examples: ``displayName``, ``name.givenName``, ``emails[type eq "work"]``, ``emails[type eq "work"].value``,
    ``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department``. Names inside the value filter are
    relative to the attribute before the bracket. Raises ``InvalidPathError`` (and nothing else).
    """
    parser = _Parser(text, subject="path", error=InvalidPathError, max_length=max_length, max_depth=max_depth)
    return parser.whole_path()


def parse_attribute_list(text: str) -> list[AttrPath]:
    """Parse the ``attributes`` or ``excludedAttributes`` query parameter (RFC 7644 §3.4.2.5, §3.10).

    The value is a comma-separated list of attribute paths; whitespace around names is ignored and blank text is
    an empty list. Raises ``InvalidValueError`` for an empty item or anything that is not an attribute path.
    """
    paths: list[AttrPath] = []
    if not text.strip():
        return paths

    def error_at(at: int, message: str) -> ScimError:
        return InvalidValueError(f"Invalid attribute list at character {at + 1}: {message}.")

    position = 0
    for item in text.split(","):
        name = item.strip()
        start = position + len(item) - len(item.lstrip())
        position += len(item) + 1

        if not name:
            raise error_at(start, "expected an attribute name between commas")
        paths.append(_attribute_path(name, start, None, error_at))
    return paths


class _Parser:
    """Recursive descent over the tokens of one filter or path."""

    def __init__(
        self,
        text: str,
        *,
        subject: str,
        error: type[ScimError],
        max_length: int,
        max_depth: int,
    ) -> None:
        self._subject = subject
        self._error = error
        self._max_depth = max_depth

        if not text.strip():
            raise error(f"Invalid {subject}: it is empty.")
        if len(text) > max_length:
            raise error(f"Invalid {subject}: it is longer than {max_length} characters.")

        self._tokens = _tokenize(text, self._error_at)
        self._index = 0

    def whole_filter(self) -> Filter:
        term = self._or(0, None)
        self._expect_end("'and', 'or' or the end of the filter")
        return term.node

    def whole_path(self) -> PatchPath:
        token = self._advance()
        if token.kind != "word":
            raise self._error_at(token.position, f"expected an attribute path, found {_describe(token)}")
        path = _attribute_path(token.text, token.position, None, self._error_at)

        if self._peek().kind != "[":
            self._expect_end("the end of the path")
            return PatchPath(path=path)

        within = self._open_value_filter(path)
        value_filter = self._or(1, within).node
        self._expect("]", "']' to close the value filter")

        sub = None
        if self._peek().kind == "word":
            sub = self._value_path_sub_attribute(within)
        self._expect_end("the end of the path")
        return PatchPath(path=path, value_filter=value_filter, sub=sub)

    def _or(self, nesting: int, within: _Within | None) -> _Term:
        start = self._peek().position
        terms = [self._and(nesting, within)]
        while self._at_keyword("or"):
            self._advance()
            terms.append(self._and(nesting, within))
        return self._chain(Or, terms, start)

    def _and(self, nesting: int, within: _Within | None) -> _Term:
        start = self._peek().position
        terms = [self._term(nesting, within)]
        while self._at_keyword("and"):
            self._advance()
            terms.append(self._term(nesting, within))
        return self._chain(And, terms, start)

    def _chain(self, combine: Callable[[Filter, Filter], Filter], terms: list[_Term], start: int) -> _Term:
        # Pair neighbours level by level: the tree is balanced and the loop, not the stack, does the work.
        while len(terms) > 1:
            paired = [
                _Term(combine(left.node, right.node), max(left.depth, right.depth) + 1)
                for left, right in zip(terms[0::2], terms[1::2], strict=False)
            ]
            if len(terms) % 2:
                paired.append(terms[-1])
            terms = paired
        return self._checked(terms[0], start)

    def _term(self, nesting: int, within: _Within | None) -> _Term:
        token = self._peek()

        if token.kind == "(":
            self._enter(nesting, token)
            self._advance()
            inner = self._or(nesting + 1, within)
            self._expect(")", f"')' to close the '(' at character {token.position + 1}")
            return self._checked(_Term(inner.node, inner.depth + 1), token.position)

        if token.kind == "word" and token.text.lower() == "not" and self._peek(1).kind in ("(", "word"):
            self._enter(nesting, token)
            self._advance()
            opening = self._peek()
            if opening.kind == "(":
                self._advance()
                inner = self._or(nesting + 1, within)
                self._expect(")", f"')' to close the '(' at character {opening.position + 1}")
            else:
                inner = self._term(nesting + 1, within)
            return self._checked(_Term(Not(inner.node), inner.depth + 1), token.position)

        if token.kind == "word":
            return self._attribute_expression(nesting, within)

        raise self._error_at(token.position, f"expected an attribute name, '(' or 'not', found {_describe(token)}")

    def _attribute_expression(self, nesting: int, within: _Within | None) -> _Term:
        token = self._advance()
        path = _attribute_path(token.text, token.position, within, self._error_at)

        if self._peek().kind != "[":
            return _Term(self._comparison(path), 1)

        if within is not None:
            raise self._error_at(self._peek().position, "value filters cannot be nested inside a value filter")
        self._enter(nesting, self._peek())
        inner_within = self._open_value_filter(path)
        inner = self._or(nesting + 1, inner_within)
        self._expect("]", "']' to close the value filter")

        node, depth = inner.node, inner.depth
        if self._peek().kind == "word" and self._peek().text.startswith("."):
            sub = self._value_path_sub_attribute(inner_within)
            node, depth = And(node, self._comparison(AttrPath(attr=sub))), depth + 1
        return self._checked(_Term(ValuePath(path=path, filter=node), depth + 1), token.position)

    def _open_value_filter(self, path: AttrPath) -> _Within:
        bracket = self._advance()
        if path.sub is not None:
            raise self._error_at(
                bracket.position, f"a value filter must follow an attribute, not the sub-attribute {path.sub}"
            )
        if self._peek().kind == "]":
            raise self._error_at(self._peek().position, "expected a filter inside '[ ]'")
        definition = find_attribute(path.attr) if path.urn is None else None
        return _Within(definition)

    def _value_path_sub_attribute(self, within: _Within) -> str:
        token = self._advance()
        name = token.text[1:] if token.text.startswith(".") else ""
        if not _NAME.fullmatch(name):
            raise self._error_at(
                token.position, f"expected '.' and a sub-attribute name after ']', found {_describe(token)}"
            )
        known = find_sub_attribute(within.definition, name) if within.definition is not None else None
        return known.name if known is not None else name

    def _comparison(self, path: AttrPath) -> Filter:
        token = self._peek()
        operator = token.text.lower() if token.kind == "word" else ""
        if operator == "pr":
            self._advance()
            return Present(path=path)
        if operator not in COMPARE_OPERATORS:
            raise self._error_at(token.position, f"expected an operator ({_OPERATOR_LIST}), found {_describe(token)}")
        self._advance()
        return Compare(path=path, op=COMPARE_OPERATORS[operator], value=self._value(operator))

    def _value(self, operator: str) -> Literal_:
        token = self._advance()
        if token.kind == "string":
            return token.string
        if token.kind == "word":
            return _literal(token, self._error_at)
        raise self._error_at(token.position, f"expected a value after '{operator}', found {_describe(token)}")

    def _enter(self, nesting: int, token: _Token) -> None:
        if nesting >= self._max_depth:
            raise self._error_at(token.position, f"the {self._subject} nests deeper than {self._max_depth} levels")

    def _checked(self, term: _Term, position: int) -> _Term:
        if term.depth > self._max_depth:
            raise self._error_at(position, f"the {self._subject} nests deeper than {self._max_depth} levels")
        return term

    def _at_keyword(self, keyword: str) -> bool:
        token = self._peek()
        return token.kind == "word" and token.text.lower() == keyword

    def _peek(self, ahead: int = 0) -> _Token:
        return self._tokens[min(self._index + ahead, len(self._tokens) - 1)]

    def _advance(self) -> _Token:
        token = self._peek()
        self._index = min(self._index + 1, len(self._tokens) - 1)
        return token

    def _expect(self, kind: TokenKind, expected: str) -> _Token:
        token = self._advance()
        if token.kind != kind:
            raise self._error_at(token.position, f"expected {expected}, found {_describe(token)}")
        return token

    def _expect_end(self, expected: str) -> None:
        self._expect("end", expected)

    def _error_at(self, position: int, message: str) -> ScimError:
        return self._error(f"Invalid {self._subject} at character {position + 1}: {message}.")


def _tokenize(text: str, error_at: Callable[[int, str], ScimError]) -> list[_Token]:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error_at(exc.start, "the text is not valid Unicode") from exc
    if "\x00" in text:
        raise error_at(text.index("\x00"), "NUL characters are not allowed")

    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        character = text[position]

        if character.isspace():
            position += 1
        elif character in _PUNCTUATION:
            tokens.append(_Token(_PUNCTUATION[character], character, position))
            position += 1
        elif character == '"':
            end = _string_end(text, position)
            if end is None:
                raise error_at(position, "this string has no closing quote")
            tokens.append(_Token("string", text[position:end], position, _decode_string(text, position, end, error_at)))
            position = end
        else:
            end = position
            while end < len(text) and not text[end].isspace() and text[end] not in _WORD_BREAKS:
                end += 1
            tokens.append(_Token("word", text[position:end], position))
            position = end

    tokens.append(_Token("end", "", len(text)))
    return tokens


def _string_end(text: str, start: int) -> int | None:
    """The index just past the quote that closes the string opened at ``start``."""
    position = start + 1
    while position < len(text):
        if text[position] == "\\":
            position += 2
        elif text[position] == '"':
            return position + 1
        else:
            position += 1
    return None


def _decode_string(text: str, start: int, end: int, error_at: Callable[[int, str], ScimError]) -> str:
    try:
        value: str = json.loads(text[start:end], strict=False)
        value.encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        raise error_at(start, "this string has an invalid escape sequence") from exc

    if "\x00" in value:
        raise error_at(start, "NUL characters are not allowed")
    return value


def _literal(token: _Token, error_at: Callable[[int, str], ScimError]) -> Literal_:
    """An unquoted value: ``true``, ``false``, ``null`` (any case), a JSON number, or else a string."""
    lowered = token.text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None

    match = _NUMBER.fullmatch(token.text)
    if match is None:
        return token.text
    try:
        number: int | float = float(token.text) if match[1] or match[2] else int(token.text)
    except ValueError as exc:
        raise error_at(token.position, "this number has too many digits") from exc
    if not math.isfinite(number):
        raise error_at(token.position, "this number is out of range")
    return number


def _attribute_path(
    text: str,
    position: int,
    within: _Within | None,
    error_at: Callable[[int, str], ScimError],
) -> AttrPath:
    """Read ``[URI ":"] ATTRNAME ["." subAttr]`` (RFC 7644 §3.10) and resolve it against the User schema.

    A leading core User URN is dropped and the enterprise URN is spelled as the schema does. ``within`` is set
    for names inside a value filter, which are sub-attributes of that filter's attribute.
    """
    name = strip_user_urn(text)
    urn: str | None = None
    prefix, colon, rest = name.rpartition(":")
    if colon:
        if not prefix.lower().startswith("urn:"):
            raise error_at(position, f"expected an attribute path, found {_shorten(text)!r}")
        urn = ENTERPRISE_USER_URN if prefix.lower() == ENTERPRISE_USER_URN.lower() else prefix
        name = rest

    attr, dot, sub = name.partition(".")
    if not _NAME.fullmatch(attr) or (dot and not _NAME.fullmatch(sub)):
        raise error_at(position, f"expected an attribute path, found {_shorten(text)!r}")
    if urn is not None:
        return AttrPath(attr=attr, sub=sub or None, urn=urn)

    if within is not None:
        known = find_sub_attribute(within.definition, attr) if within.definition is not None else None
        return AttrPath(attr=known.name if known is not None else attr, sub=sub or None)

    definition = find_attribute(attr)
    if definition is None:
        return AttrPath(attr=attr, sub=sub or None)
    known_sub = find_sub_attribute(definition, sub) if sub else None
    return AttrPath(attr=definition.name, sub=known_sub.name if known_sub is not None else sub or None)


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the text"
    return repr(_shorten(token.text))


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARACTERS else text[: _SHOWN_CHARACTERS - 3] + "..."
