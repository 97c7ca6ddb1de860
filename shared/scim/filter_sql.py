"""SCIM filters and sort parameters compiled to SQL over the users table (RFC 7644 §3.4.2.2, §3.4.2.3).

``compile_filter`` turns a parsed filter into a boolean SQL expression over ``users`` aliased ``u``; it selects
exactly the users that ``shared.scim.filter_eval.evaluate`` accepts over their SCIM rendering, and reads operands
with the same functions. Every value is a bound ``$n`` parameter; the SQL text holds only column names, operators
and constants of this module.

How the stored columns map to SCIM (a stored user has exactly one email: ``value`` is ``u.email``, ``type`` is
``work`` and ``primary`` is true; ``meta.resourceType`` is ``User``): attributes that are constant for every user
are decided here and compiled to ``TRUE`` or ``FALSE``. Unassigned attributes are stored as NULL, never as ``''``
(the write path reads ``""`` as absent). Each comparison on a nullable column carries its own ``IS NULL`` guard,
so the expression never yields NULL and ``NOT`` is the plain negation the evaluator applies.

String comparisons on attributes that are not ``caseExact`` use ``lower()`` on both sides, written exactly as the
index expressions of migrations 0001 and 0002 (``lower(user_name)``, ``lower(email)``), so that ``eq``, ``sw``,
``co`` and ``ew`` on userName and emails.value are index scans. Ordering comparisons and sorts use the ``C``
collation, which orders by code point like Python's ``str``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal, NamedTuple
from uuid import UUID

from shared.scim.ast import And, AttrPath, Compare, CompareOp, Filter, Literal_, Not, Or, Present, ValuePath
from shared.scim.errors import InvalidFilterError, InvalidValueError
from shared.scim.filter import parse_attribute_list
from shared.scim.filter_eval import compare_value, operand_boolean, operand_datetime, operand_text
from shared.scim.schema import Attribute, find_attribute, find_sub_attribute

__all__ = ["compile_filter", "compile_sort"]

ColumnKind = Literal["text", "uuid", "boolean", "timestamp"]


class _Column(NamedTuple):
    """A stored column: its SQL, how it compares, and whether it may be NULL."""

    sql: str
    kind: ColumnKind
    nullable: bool


class _Constant(NamedTuple):
    """An attribute with the same value for every stored user."""

    value: str | bool


_Target = _Column | _Constant

_STORED: Final[dict[tuple[str, str | None], _Target]] = {
    ("id", None): _Column("u.id", "uuid", nullable=False),
    ("externalId", None): _Column("u.external_id", "text", nullable=True),
    ("userName", None): _Column("u.user_name", "text", nullable=False),
    ("name", "givenName"): _Column("u.given_name", "text", nullable=True),
    ("name", "familyName"): _Column("u.family_name", "text", nullable=True),
    ("name", "formatted"): _Column("u.formatted_name", "text", nullable=True),
    ("displayName", None): _Column("u.display_name", "text", nullable=True),
    ("active", None): _Column("u.active", "boolean", nullable=False),
    ("emails", "value"): _Column("u.email", "text", nullable=False),
    ("emails", "type"): _Constant("work"),
    ("emails", "primary"): _Constant(True),
    ("meta", "resourceType"): _Constant("User"),
    ("meta", "created"): _Column("u.created_at", "timestamp", nullable=False),
    ("meta", "lastModified"): _Column("u.updated_at", "timestamp", nullable=False),
}

_SQL_OPERATORS: Final[dict[CompareOp, str]] = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_SUBSTRING: Final = frozenset({"co", "sw", "ew"})

_SORT_KEYS: Final[dict[tuple[str, str | None], str]] = {
    ("id", None): "u.id",
    ("externalId", None): 'u.external_id COLLATE "C"',
    ("userName", None): 'lower(u.user_name) COLLATE "C"',
    ("name", "givenName"): 'lower(u.given_name) COLLATE "C"',
    ("name", "familyName"): 'lower(u.family_name) COLLATE "C"',
    ("name", "formatted"): 'lower(u.formatted_name) COLLATE "C"',
    ("displayName", None): 'lower(u.display_name) COLLATE "C"',
    ("emails", None): 'lower(u.email) COLLATE "C"',
    ("emails", "value"): 'lower(u.email) COLLATE "C"',
    ("meta", "created"): "u.created_at",
    ("meta", "lastModified"): "u.updated_at",
}


def compile_filter(filter: Filter, *, first_param: int) -> tuple[str, list[object]]:
    """Compile ``filter`` to a SQL boolean expression over ``users u`` and its parameters.

    Placeholders are numbered from ``$first_param``; the list holds their values in order. Raises
    ``InvalidFilterError`` naming the attribute when the filter names an attribute the service does not store
    (``title``, ``groups``, extension attributes, ``meta.version``) or compares a value of the wrong type (``gt``
    on a boolean, a string that is not a date against ``meta.created``, a comparison of ``null`` other than
    ``eq``/``ne``); see RFC 7644 §3.4.2.2. The caller scopes the query to one organization.
    """
    compiler = _Compiler(first_param)
    return compiler.compile(filter, None), compiler.params


def compile_sort(sort_by: str | None, sort_order: str | None) -> str:
    """An ``ORDER BY`` list for ``sortBy`` and ``sortOrder`` (RFC 7644 §3.4.2.3), always ending with ``u.id``.

    Without ``sortBy`` the order is ``u.id``: ids are time-ordered, so this is creation order. String keys sort
    ignoring case unless ``caseExact``, by code point. Users without a value sort last when ascending and first
    when descending, as the RFC asks. A ``sortBy`` naming an attribute the service does not sort on (unknown,
    complex, constant) is not an error: the RFC gives users with no data for ``sortBy`` the same place, so every
    user ties and the default order applies. ``sortOrder`` is ``ascending`` (the default) or ``descending`` in any
    case; any other value raises ``InvalidValueError``.
    """
    descending = _descending(sort_order)
    key = _sort_key(sort_by)

    if key is None:
        return "u.id"
    if key == "u.id":
        return "u.id DESC" if descending else "u.id"
    direction = "DESC NULLS FIRST" if descending else "ASC NULLS LAST"
    return f"{key} {direction}, u.id"


def _descending(sort_order: str | None) -> bool:
    order = (sort_order or "").strip().lower()
    if order not in ("", "ascending", "descending"):
        raise InvalidValueError('sortOrder must be "ascending" or "descending".')
    return order == "descending"


def _sort_key(sort_by: str | None) -> str | None:
    try:
        paths = parse_attribute_list(sort_by or "")
    except InvalidValueError:
        return None
    if len(paths) != 1 or paths[0].urn is not None:
        return None
    return _SORT_KEYS.get((paths[0].attr, paths[0].sub))


class _Compiler:
    """Walks one filter, collecting bound parameters."""

    def __init__(self, first_param: int) -> None:
        self._first_param = first_param
        self.params: list[object] = []

    def compile(self, node: Filter, parent: Attribute | None) -> str:
        match node:
            case And(left=left, right=right):
                return f"({self.compile(left, parent)} AND {self.compile(right, parent)})"
            case Or(left=left, right=right):
                return f"({self.compile(left, parent)} OR {self.compile(right, parent)})"
            case Not(inner=inner):
                return f"(NOT {self.compile(inner, parent)})"
        return self._term(node, parent)

    def _term(self, node: Filter, parent: Attribute | None) -> str:
        match node:
            case Present(path=path):
                return self._present(path, parent)
            case Compare(path=path, op=op, value=operand):
                return self._compare(path, op, operand, parent)
            case ValuePath(path=path, filter=inner):
                return self._value_path(path, inner, parent)
        raise InvalidFilterError("Invalid filter: unsupported expression.")  # pragma: no cover - union exhausted

    def _present(self, path: AttrPath, parent: Attribute | None) -> str:
        attribute, sub = _resolve(path, parent)
        if sub is None and attribute.type == "complex":
            return _complex_present(attribute)

        target = _target(attribute, sub, path, parent)
        if isinstance(target, _Constant) or not target.nullable:
            return "TRUE"
        return f"{target.sql} IS NOT NULL"

    def _compare(self, path: AttrPath, op: CompareOp, operand: Literal_, parent: Attribute | None) -> str:
        attribute, sub = _resolve(path, parent)
        if sub is None and attribute.type == "complex":
            if not attribute.multiValued:
                raise InvalidFilterError(
                    f"Invalid filter: {attribute.name} is complex; compare one of its sub-attributes, such as "
                    f"{attribute.name}.{attribute.subAttributes[0].name}.",
                )
            sub = find_sub_attribute(attribute, "value")

        definition = sub or attribute
        target = _target(attribute, sub, path, parent)
        name = _display_name(path, parent)

        if operand is None:
            return _compare_null(target, op, name)
        typed = _typed_operand(definition, op, operand, name)
        if isinstance(target, _Constant):
            matched = compare_value(definition.type, target.value, op, operand, case_exact=definition.caseExact)
            return "TRUE" if matched else "FALSE"

        predicate = self._column_predicate(target, definition, op, typed)
        if not target.nullable:
            return predicate
        if op == "ne":
            return f"({target.sql} IS NULL OR {predicate})"
        return f"({target.sql} IS NOT NULL AND {predicate})"

    def _value_path(self, path: AttrPath, inner: Filter, parent: Attribute | None) -> str:
        if parent is not None:
            raise InvalidFilterError("Invalid filter: value filters cannot be nested inside a value filter.")
        attribute, sub = _resolve(path, parent)
        if sub is not None or attribute.type != "complex":
            raise InvalidFilterError(
                f"Invalid filter: [...] applies to a complex attribute; {_display_name(path, parent)} is not one.",
            )

        condition = self.compile(inner, attribute)
        presence = _complex_present(attribute)
        return condition if presence == "TRUE" else f"({presence} AND {condition})"

    def _column_predicate(self, column: _Column, definition: Attribute, op: CompareOp, operand: object) -> str:
        """The comparison for a non-NULL column value; ``operand`` has already been converted to its type."""
        if column.kind == "uuid" and op in ("eq", "ne"):
            return self._uuid_equality(column, op, operand)
        if column.kind == "boolean":
            return f"{column.sql} {_SQL_OPERATORS[op]} {self._bind(operand)}::boolean"
        if column.kind == "timestamp":
            return f"{column.sql} {_SQL_OPERATORS[op]} {self._bind(operand)}::timestamptz"

        text = str(operand)
        left = f"{column.sql}::text" if column.kind == "uuid" else column.sql
        fold = not definition.caseExact
        if op in _SUBSTRING:
            pattern = _like_pattern(op, text)
            return f"{_lower(left, fold)} LIKE {_lower(self._bind(pattern) + '::text', fold)}"

        right = _lower(self._bind(text) + "::text", fold)
        if op in ("eq", "ne"):
            return f"{_lower(left, fold)} {_SQL_OPERATORS[op]} {right}"
        return f'{_lower(left, fold)} COLLATE "C" {_SQL_OPERATORS[op]} {right}'

    def _uuid_equality(self, column: _Column, op: CompareOp, operand: object) -> str:
        # ids are rendered in canonical form and compare exactly: anything else matches no user, and is never cast.
        try:
            identifier = UUID(str(operand))
        except ValueError:
            identifier = None
        if identifier is None or str(identifier) != operand:
            return "FALSE" if op == "eq" else "TRUE"
        return f"{column.sql} {_SQL_OPERATORS[op]} {self._bind(identifier)}::uuid"

    def _bind(self, value: object) -> str:
        self.params.append(value)
        return f"${self._first_param + len(self.params) - 1}"


def _resolve(path: AttrPath, parent: Attribute | None) -> tuple[Attribute, Attribute | None]:
    """The schema definitions of ``path`` (attribute, sub-attribute); InvalidFilterError when not stored."""
    name = _display_name(path, parent)
    if path.urn is not None:
        raise InvalidFilterError(f"Invalid filter: {name} is not an attribute this service stores or filters on.")

    if parent is not None:
        attribute = find_sub_attribute(parent, path.attr)
        if attribute is None or path.sub is not None:
            raise InvalidFilterError(f"Invalid filter: {name} is not a sub-attribute of {parent.name}.")
        return parent, attribute

    attribute = find_attribute(path.attr)
    if attribute is None:
        raise InvalidFilterError(f"Invalid filter: {name} is not an attribute this service stores or filters on.")
    if path.sub is None:
        return attribute, None

    sub = find_sub_attribute(attribute, path.sub)
    if sub is None:
        raise InvalidFilterError(f"Invalid filter: {name} is not an attribute this service stores or filters on.")
    return attribute, sub


def _target(attribute: Attribute, sub: Attribute | None, path: AttrPath, parent: Attribute | None) -> _Target:
    target = _STORED.get((attribute.name, sub.name if sub is not None else None))
    if target is None:
        raise InvalidFilterError(f"Invalid filter: {_display_name(path, parent)} cannot be used in a filter.")
    return target


def _complex_present(attribute: Attribute) -> str:
    """``pr`` on a complex attribute: some sub-attribute has a value (always, if one is constant or NOT NULL)."""
    targets = [target for sub in attribute.subAttributes if (target := _STORED.get((attribute.name, sub.name)))]
    columns = [target for target in targets if isinstance(target, _Column)]
    if len(columns) < len(targets) or any(not column.nullable for column in columns):
        return "TRUE"
    return "(" + " OR ".join(f"{column.sql} IS NOT NULL" for column in columns) + ")"


def _compare_null(target: _Target, op: CompareOp, name: str) -> str:
    if op not in ("eq", "ne"):
        raise InvalidFilterError(f"Invalid filter: {op} cannot compare {name} with null; use eq, ne or pr.")
    if isinstance(target, _Constant) or not target.nullable:
        return "FALSE" if op == "eq" else "TRUE"
    return f"{target.sql} IS NULL" if op == "eq" else f"{target.sql} IS NOT NULL"


def _typed_operand(definition: Attribute, op: CompareOp, operand: Literal_, name: str) -> object:
    """The operand in the attribute's type (RFC 7643 §2.3), or InvalidFilterError for a mismatch."""
    if definition.type == "boolean":
        boolean = operand_boolean(operand)
        if op not in ("eq", "ne"):
            raise InvalidFilterError(f"Invalid filter: {name} is a boolean; only eq, ne and pr apply to it.")
        if boolean is None:
            raise InvalidFilterError(f"Invalid filter: {name} is a boolean; compare it with true or false.")
        return boolean

    if definition.type == "dateTime":
        moment: datetime | None = operand_datetime(operand) if isinstance(operand, str) else None
        if op in _SUBSTRING:
            raise InvalidFilterError(f"Invalid filter: {name} is a dateTime; {op} does not apply to it.")
        if moment is None:
            raise InvalidFilterError(
                f'Invalid filter: {name} is a dateTime; compare it with a timestamp such as "2024-05-13T04:42:34Z".',
            )
        return moment

    text = operand_text(operand)
    if text is None:
        raise InvalidFilterError(f"Invalid filter: {name} is a string; compare it with a string.")
    return text


def _like_pattern(op: CompareOp, operand: str) -> str:
    escaped = operand.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if op == "co":
        return f"%{escaped}%"
    if op == "sw":
        return f"{escaped}%"
    return f"%{escaped}"


def _lower(sql: str, fold: bool) -> str:
    return f"lower({sql})" if fold else sql


def _display_name(path: AttrPath, parent: Attribute | None) -> str:
    name = path.attr if path.sub is None else f"{path.attr}.{path.sub}"
    if path.urn is not None:
        return f"{path.urn}:{name}"
    return name if parent is None else f"{parent.name}.{name}"
