"""Reference semantics of SCIM filters over a resource's JSON representation (RFC 7644 §3.4.2.2).

``evaluate`` decides whether a resource (a user as the API renders it: ``id``, ``externalId``, ``userName``,
``name``, ``displayName``, ``active``, ``emails``, ``meta``) or one value of a multi-valued attribute (one email
object, for a PATCH value filter) matches a parsed filter. The SQL compiler must select exactly the users this
function accepts; it reads operands with the functions below so that the two cannot drift apart.

The semantics, decided once for both:

- A filter is two-valued: a resource matches or it does not, and ``not`` is plain negation.
- An attribute that is absent, ``null``, ``""`` or an empty list is unassigned (RFC 7643 §2.5) and behaves as a
  single null value: ``eq`` and every other comparison are false for it, ``ne`` is true, ``pr`` is false,
  ``eq null`` is true and ``ne null`` is false. So ``ne`` is always the negation of ``eq``, and ``displayName ne
  "x"`` matches a user without a displayName, like ``not (displayName eq "x")``.
- On a multi-valued attribute a comparison matches when any value matches; a complex multi-valued attribute
  named without a sub-attribute (``emails eq "x"``) compares its ``value`` sub-attribute, as in the RFC's
  ``emails co "example.com"`` example. ``pr`` on a complex attribute asks for a non-empty node.
- Strings compare ignoring case unless the attribute is ``caseExact``; ``gt``/``ge``/``lt``/``le`` compare
  lexicographically by code point (after case folding). ``dateTime`` attributes compare chronologically, with an
  operand that must parse as a date and time (one without an offset is UTC). Booleans accept ``true``/``false``
  and the strings ``"true"``/``"false"`` in any case, and only ``eq``/``ne``. A number compared with a string
  attribute compares as its decimal text (Entra sends unquoted ids).
- A comparison whose operand does not fit the attribute's type (which the SQL compiler rejects with
  ``invalidFilter``) is false here; the evaluator never raises for a parsed filter. Attributes the User schema does
  not define are looked up by name (any case) and compared by the JSON type of their value.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from shared.scim.ast import And, AttrPath, Compare, CompareOp, Filter, Literal_, Not, Or, Present, ValuePath
from shared.scim.schema import Attribute, find_attribute, find_sub_attribute

__all__ = [
    "compare_value",
    "evaluate",
    "fold_case",
    "operand_boolean",
    "operand_datetime",
    "operand_text",
]

_DOTTED_CAPITAL_I = "\u0130"


def evaluate(filter: Filter, resource: Mapping[str, Any], *, within: str | None = None) -> bool:
    """Whether ``resource`` matches ``filter`` (RFC 7644 §3.4.2.2), with the semantics of this module's docstring.

    ``resource`` holds wire names (``userName``, ``meta.lastModified``). To test one value of a multi-valued
    attribute, pass that value and name the attribute in ``within`` (``evaluate(f, email, within="emails")``):
    names in ``filter`` are then its sub-attributes.
    """
    if within is None:
        return _matches(filter, resource, _Scope(parent=None, top=True))
    return _matches(filter, resource, _Scope(parent=find_attribute(within), top=False))


def fold_case(text: str) -> str:
    """Lower-case ``text`` one character at a time, as PostgreSQL's ``lower()`` does.

    Python's ``str.lower`` applies context-dependent rules (a final sigma) and turns ``İ`` into two characters;
    PostgreSQL maps each character on its own. Case-insensitive comparisons use this on both sides.
    """
    if text.isascii():
        return text.lower()
    return "".join("i" if character == _DOTTED_CAPITAL_I else character.lower() for character in text)


def operand_text(operand: Literal_) -> str | None:
    """The operand as a string, for a string attribute: strings as they are, numbers as their decimal text."""
    if isinstance(operand, str):
        return operand
    if isinstance(operand, int | float) and not isinstance(operand, bool):
        return str(operand)
    return None


def operand_boolean(operand: object) -> bool | None:
    """The operand as a boolean: ``true``/``false``, or those words as strings in any case (Entra sends them)."""
    if isinstance(operand, bool):
        return operand
    if isinstance(operand, str) and operand.lower() in ("true", "false"):
        return operand.lower() == "true"
    return None


def operand_datetime(operand: object) -> datetime | None:
    """The operand as an aware UTC datetime, for a ``dateTime`` attribute (RFC 7643 §2.3.5); naive means UTC."""
    if isinstance(operand, datetime):
        moment = operand
    elif isinstance(operand, str):
        try:
            moment = datetime.fromisoformat(operand)
        except ValueError:
            return None
    else:
        return None

    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def compare_value(
    attribute_type: str | None,
    value: object,
    op: CompareOp,
    operand: Literal_,
    *,
    case_exact: bool = False,
) -> bool:
    """Compare one attribute value (``None`` when unassigned) with one operand.

    ``attribute_type`` is the schema's type (RFC 7643 §2.3); ``None`` means unknown, and the value's JSON type
    decides.
    """
    if operand is None and op in ("eq", "ne"):
        return (value is None) == (op == "eq")
    if operand is None:
        return False
    if value is None:
        return op == "ne"

    comparer = _COMPARERS.get(attribute_type or _json_type(value) or "")
    return comparer is not None and comparer(value, op, operand, case_exact)


class _Scope(NamedTuple):
    """Where names are looked up: the top level of the User schema, or the sub-attributes of ``parent``."""

    parent: Attribute | None
    top: bool


def _matches(node: Filter, resource: Mapping[str, Any], scope: _Scope) -> bool:
    match node:
        case And(left=left, right=right):
            return _matches(left, resource, scope) and _matches(right, resource, scope)
        case Or(left=left, right=right):
            return _matches(left, resource, scope) or _matches(right, resource, scope)
        case Not(inner=inner):
            return not _matches(inner, resource, scope)
    return _matches_term(node, resource, scope)


def _matches_term(node: Filter, resource: Mapping[str, Any], scope: _Scope) -> bool:
    match node:
        case Present(path=path):
            return _present(resource, path)
        case Compare(path=path, op=op, value=operand):
            return _compare(resource, path, op, operand, scope)
        case ValuePath(path=path, filter=inner):
            return _value_path(resource, path, inner, scope)
    return False  # pragma: no cover - the union of term types above is exhaustive


def _compare(resource: Mapping[str, Any], path: AttrPath, op: CompareOp, operand: Literal_, scope: _Scope) -> bool:
    definition = _definition(path, scope)
    raw = _attribute_value(resource, path)
    sub = path.sub

    if sub is None and _is_complex_multi_valued(definition, raw):
        sub = "value"
    if sub is not None:
        values = [_get(element, sub) for element in _elements(raw)]
        definition = find_sub_attribute(definition, sub) if definition is not None else None
    elif isinstance(raw, list):
        values = raw
    else:
        values = [raw]

    assigned = [value for value in values if not _unassigned(value)] or [None]
    attribute_type = definition.type if definition is not None else None
    case_exact = definition.caseExact if definition is not None else False
    return any(compare_value(attribute_type, value, op, operand, case_exact=case_exact) for value in assigned)


def _present(resource: Mapping[str, Any], path: AttrPath) -> bool:
    raw = _attribute_value(resource, path)
    if path.sub is None:
        return _has_value(raw)
    return any(_has_value(_get(element, path.sub)) for element in _elements(raw))


def _value_path(resource: Mapping[str, Any], path: AttrPath, inner: Filter, scope: _Scope) -> bool:
    definition = _definition(path, scope)
    inner_scope = _Scope(parent=definition, top=False)
    elements = [element for element in _elements(_attribute_value(resource, path)) if _has_value(element)]
    return any(_matches(inner, element, inner_scope) for element in elements)


def _definition(path: AttrPath, scope: _Scope) -> Attribute | None:
    """The schema definition of ``path.attr`` (not of its sub-attribute) where the scope looks names up."""
    if path.urn is not None:
        return None
    if scope.top:
        return find_attribute(path.attr)
    return find_sub_attribute(scope.parent, path.attr) if scope.parent is not None else None


def _attribute_value(resource: Mapping[str, Any], path: AttrPath) -> Any:
    container: Any = resource if path.urn is None else _get(resource, path.urn)
    return _get(container, path.attr)


def _get(container: Any, name: str) -> Any:
    """The member ``name`` of a JSON object, matching the name in any case (RFC 7644 §3.10)."""
    if not isinstance(container, Mapping):
        return None
    if name in container:
        return container[name]
    lowered = name.lower()
    return next((value for key, value in container.items() if isinstance(key, str) and key.lower() == lowered), None)


def _elements(raw: Any) -> list[Mapping[str, Any]]:
    """The complex values of an attribute: each object of a list, or the one object of a singular attribute."""
    if isinstance(raw, Mapping):
        return [raw]
    if isinstance(raw, list):
        return [element for element in raw if isinstance(element, Mapping)]
    return []


def _is_complex_multi_valued(definition: Attribute | None, raw: Any) -> bool:
    if definition is not None:
        return definition.type == "complex" and definition.multiValued
    return isinstance(raw, list) and any(isinstance(element, Mapping) for element in raw)


def _unassigned(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _has_value(raw: Any) -> bool:
    """``pr``: a non-empty value, or for a complex attribute a node with some non-empty value."""
    if isinstance(raw, Mapping):
        return any(_has_value(value) for value in raw.values())
    if isinstance(raw, list):
        return any(_has_value(value) for value in raw)
    return not _unassigned(raw)


def _json_type(value: object) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "dateTime"
    if _is_number(value):
        return "decimal"
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare_strings(value: object, op: CompareOp, operand: Literal_, case_exact: bool) -> bool:
    left, right = value, operand_text(operand)
    if not isinstance(left, str) or right is None:
        return False
    if not case_exact:
        left, right = fold_case(left), fold_case(right)
    return _RELATIONS[op](left, right)


def _compare_booleans(value: object, op: CompareOp, operand: Literal_, case_exact: bool) -> bool:
    left, right = operand_boolean(value), operand_boolean(operand)
    return left is not None and right is not None and op in ("eq", "ne") and _RELATIONS[op](left, right)


def _compare_datetimes(value: object, op: CompareOp, operand: Literal_, case_exact: bool) -> bool:
    left, right = operand_datetime(value), operand_datetime(operand)
    return left is not None and right is not None and op not in _SUBSTRING and _RELATIONS[op](left, right)


def _compare_numbers(value: object, op: CompareOp, operand: Literal_, case_exact: bool) -> bool:
    return _is_number(value) and _is_number(operand) and op not in _SUBSTRING and _RELATIONS[op](value, operand)


_SUBSTRING: frozenset[CompareOp] = frozenset({"co", "sw", "ew"})

_RELATIONS: dict[CompareOp, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "co": lambda left, right: right in left,
    "sw": lambda left, right: left.startswith(right),
    "ew": lambda left, right: left.endswith(right),
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}

_COMPARERS: dict[str, Callable[[object, CompareOp, Literal_, bool], bool]] = {
    "string": _compare_strings,
    "reference": _compare_strings,
    "boolean": _compare_booleans,
    "dateTime": _compare_datetimes,
    "decimal": _compare_numbers,
    "integer": _compare_numbers,
}
