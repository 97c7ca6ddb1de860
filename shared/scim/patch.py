"""The PATCH engine for Users (RFC 7644 §3.5.2).

``apply_patch`` is pure: it reads the current attributes and the request body and either raises a SCIM error or
returns the attributes after every operation, so the operations of one request apply all together or not at all.

Decisions beyond the RFC text, each forced by a real client or by the product:

- ``op`` is matched ignoring case (Entra sends ``Replace``); names inside value objects too (RFC 7643 §2.1).
- ``schemas`` need not list the PatchOp URN; when present it must be a string or an array of strings.
- An empty ``Operations`` array is a successful no-op. RFC 7644 §3.5.2 asks for "one or more" operations, but
  Microsoft's SCIM validator sends an empty one and nothing is gained by refusing it.
- Without a path, ``value`` is an object whose keys may be plain (``active``), dotted (``name.givenName``, Entra)
  or URN-qualified (RFC 7644 §3.10); the core User URN as a key may hold a nested object of attributes.
- ``add`` and ``replace`` on ``name`` both merge: sub-attributes not in the value are left unchanged
  (RFC 7644 §3.5.2.1, and §3.5.2.3 "Sub-attributes that are not specified in the value parameter are left
  unchanged"). A ``null`` or ``""`` value, or ``remove``, clears the target (RFC 7643 §2.5).
- ``active`` cannot be unassigned: ``remove`` of it, or a ``null`` / ``""`` value, is ``invalidValue``. A user is
  deactivated or reactivated only by an explicit ``false`` or ``true`` (strings in any case included), never by
  the absence of a value.
- ``userName`` and the one email are immutable (product decision, advertised in ``/Schemas``): the current value
  again, in any case, is a no-op that keeps the stored spelling; any other value, or removing them, is
  ``mutability``. The email's ``type`` (always ``work``, in any case) and ``primary`` (always true) are immutable
  the same way, whether a path names them (``emails[type eq "work"].primary``) or an ``emails`` value for the
  stored address carries them; a value that leaves them out changes nothing. ``display`` and other sub-attributes
  that are not stored are ignored.
- A value filter that matches no email is ``noTarget`` for ``replace`` and ``remove`` (RFC 7644 §3.5.2.3 and
  Table 9). For ``add`` it means adding a new address, which is ``mutability`` unless it is the current one (with
  the stored ``type`` and ``primary``, when the value gives them): ``add emails[type eq "home"].value`` with the
  current address is a no-op.
- Attributes this service does not store (``userType``, ``title``, ``nickName``, ``phoneNumbers``, ``addresses``,
  ``password``, ``groups``, ``roles``, unknown sub-attributes such as ``name.middleName``, the enterprise extension
  and any other schema URN) are accepted and ignored, with or without value filters; so are the readOnly ``id``
  and ``meta``, as PUT ignores them (RFC 7644 §3.5.1).
"""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

import msgspec

from shared.domain import UserAttributes
from shared.scim.ast import And, AttrPath, Filter, Not, Or, PatchPath, ValuePath
from shared.scim.errors import InvalidPathError, InvalidSyntaxError, InvalidValueError, MutabilityError, NoTargetError
from shared.scim.filter import parse_path
from shared.scim.filter_eval import evaluate
from shared.scim.schema import USER_ATTRIBUTES, USER_SCHEMA_URN, find_attribute, find_sub_attribute
from shared.scim.user_resource import (
    EMAIL_TYPE,
    InboundModel,
    canonical_keys,
    check_email_parts,
    check_email_primary,
    check_email_type,
    core_attributes,
    decode_object,
    email_values,
    parse_bool,
    primary_email,
    stored_string,
)

__all__ = ["PatchOutcome", "apply_patch"]

Op = Literal["add", "replace", "remove"]


class PatchOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """The result of a PATCH request.

    ``changed`` names the attributes whose values differ from before (``name.givenName``, ``active``, ...), in
    a fixed order; it is empty when the request changed nothing.
    """

    attributes: UserAttributes
    changed: tuple[str, ...]


class _OperationIn(InboundModel, kw_only=True):
    op: str
    path: Any = None
    value: Any = msgspec.UNSET


class _PatchRequest(InboundModel, kw_only=True):
    schemas: list[str] | str | None = None
    operations: list[_OperationIn] = msgspec.field(name="Operations")


_REQUEST_KEYS = {"schemas": "schemas", "operations": "Operations"}
_OPERATION_KEYS = {"op": "op", "path": "path", "value": "value"}
_OPS: dict[str, Op] = {"add": "add", "replace": "replace", "remove": "remove"}
_NAME_FIELDS = {"givenName": "given_name", "familyName": "family_name", "formatted": "formatted_name"}
_NAME_KEYS = {name.lower(): name for name in _NAME_FIELDS}
_STRING_FIELDS = {"externalId": "external_id", "displayName": "display_name"}
_CHANGE_NAMES = (
    ("external_id", "externalId"),
    ("given_name", "name.givenName"),
    ("family_name", "name.familyName"),
    ("formatted_name", "name.formatted"),
    ("display_name", "displayName"),
    ("active", "active"),
)
_NAME = next(attribute for attribute in USER_ATTRIBUTES if attribute.name == "name")


def _request(body: bytes) -> _PatchRequest:
    document = canonical_keys(decode_object(body, what="PATCH request"), _REQUEST_KEYS, where="")
    operations = document.get("Operations")
    if isinstance(operations, list):
        document["Operations"] = [
            canonical_keys(item, _OPERATION_KEYS, where="Operations.") if isinstance(item, dict) else item
            for item in operations
        ]

    try:
        return msgspec.convert(document, _PatchRequest)
    except msgspec.ValidationError as exc:
        raise InvalidSyntaxError(f"The PATCH request does not have the PatchOp shape: {exc}.") from exc


def _op(operation: _OperationIn) -> Op:
    op = _OPS.get(operation.op.lower())
    if op is None:
        raise InvalidSyntaxError("op must be add, replace or remove.")
    return op


def _address(value: object) -> str | None:
    """The address an ``emails.value`` operation carries; None (or ``""``) means it would be removed."""
    if value is not None and not isinstance(value, str):
        raise InvalidValueError("emails.value must be a string.")
    return value or None


class _Patch:
    """The state of one PATCH request while its operations are applied in order."""

    def __init__(self, current: UserAttributes) -> None:
        self.current = current
        self.values: dict[str, Any] = {
            "given_name": current.given_name,
            "family_name": current.family_name,
            "formatted_name": current.formatted_name,
            "display_name": current.display_name,
            "external_id": current.external_id,
            "active": current.active,
        }

    def outcome(self) -> PatchOutcome:
        attributes = msgspec.structs.replace(self.current, **self.values)
        changed = tuple(
            name for field, name in _CHANGE_NAMES if getattr(attributes, field) != getattr(self.current, field)
        )
        return PatchOutcome(attributes=attributes, changed=changed)

    def pathless(self, op: Op, value: object) -> None:
        """Apply an operation without a path: each key of ``value`` is a target (RFC 7644 §3.5.2.1, §3.5.2.3)."""
        if op == "remove":
            raise NoTargetError("remove needs a path.")
        if not isinstance(value, dict):
            raise InvalidValueError(f"Without a path, the value of {op} must be an object of attributes.")

        for name, item in core_attributes(value):
            attr, _, sub = name.partition(".")
            if "." in sub:
                raise InvalidPathError(f"{name} is not an attribute path: it names more than one sub-attribute.")
            self.at(op, PatchPath(path=AttrPath(attr, sub or None)), item)

    def at(self, op: Op, path: PatchPath, value: object) -> None:
        """Apply an operation to the attribute ``path`` names; unstored attributes are ignored."""
        if path.path.urn is not None and path.path.urn.lower() != USER_SCHEMA_URN.lower():
            return
        attribute = find_attribute(path.path.attr)
        if attribute is None or attribute.mutability == "readOnly":
            return

        sub = path.path.sub or path.sub
        if attribute.name == "emails":
            self.emails(op, path.value_filter, sub, value)
            return
        if path.value_filter is not None:
            raise InvalidPathError(f"{attribute.name} is not multi-valued and takes no value filter.")

        if attribute.name == "name":
            self.name(op, sub, value)
            return
        if sub is not None:
            raise InvalidPathError(f"{attribute.name} has no sub-attributes.")

        if attribute.name == "userName":
            self.user_name(op, value)
        elif attribute.name == "active":
            self.active(op, value)
        else:
            self.string(op, attribute.name, value)

    def string(self, op: Op, name: str, value: object) -> None:
        field = _STRING_FIELDS[name]
        if op == "remove" or value is None:
            self.values[field] = None
            return

        if not isinstance(value, str):
            raise InvalidValueError(f"{name} must be a string.")
        self.values[field] = stored_string(value, name)

    def name(self, op: Op, sub: str | None, value: object) -> None:
        if sub is not None:
            known = find_sub_attribute(_NAME, sub)
            if known is not None:
                self.name_part(op, known.name, value)
            return

        if op == "remove" or value is None or value == "":
            for part in _NAME_FIELDS:
                self.name_part("remove", part, None)
            return
        if not isinstance(value, dict):
            raise InvalidValueError("name must be an object of name parts.")

        for key, item in canonical_keys(value, _NAME_KEYS, where="name.").items():
            if key in _NAME_FIELDS:
                self.name_part(op, key, item)

    def name_part(self, op: Op, part: str, value: object) -> None:
        field = _NAME_FIELDS[part]
        if op == "remove" or value is None:
            self.values[field] = None
            return

        if not isinstance(value, str):
            raise InvalidValueError(f"name.{part} must be a string.")
        self.values[field] = stored_string(value, f"name.{part}")

    def active(self, op: Op, value: object) -> None:
        if op == "remove" or value is None or value == "":
            raise InvalidValueError("active cannot be removed; replace it with true or false.")
        self.values["active"] = parse_bool(value, "active")

    def user_name(self, op: Op, value: object) -> None:
        if op == "remove" or value is None or value == "":
            raise MutabilityError("userName cannot be removed.")
        if not isinstance(value, str):
            raise InvalidValueError("userName must be a string.")
        if unicodedata.normalize("NFC", value).lower() != self.current.user_name.lower():
            raise MutabilityError("userName cannot be changed.")

    def same_address(self, address: str | None) -> None:
        """Refuse ``address`` unless it is the current email (ignoring case); None means it would be removed."""
        if address is None:
            raise MutabilityError("The email cannot be removed.")
        if unicodedata.normalize("NFC", address).lower() != self.current.email.lower():
            raise MutabilityError("The email cannot be changed.")

    def emails(self, op: Op, value_filter: Filter | None, sub: str | None, value: object) -> None:
        if value_filter is not None:
            _check_email_filter(value_filter)
        email = {"value": self.current.email, "type": EMAIL_TYPE, "primary": True}
        known = None if sub is None else find_sub_attribute(_EMAILS, sub)
        if sub is not None and known is None:
            return
        part = None if known is None else known.name

        if value_filter is not None and not evaluate(value_filter, email, within="emails"):
            if op != "add":
                raise NoTargetError("No email matches the value filter of the path.")
            self.added_emails(value, part)
            return
        if op == "remove" and part is None:
            raise MutabilityError("The email cannot be removed.")

        if part is not None:
            self.email_part(part, None if op == "remove" else value)
        elif op == "add" or value_filter is not None:
            self.added_emails(value, None)
        else:
            listed = [] if value is None or value == "" else email_values(value)
            self.same_address(primary_email(listed, self.current.user_name))
            check_email_parts(listed, self.current.email)

    def email_part(self, part: str, value: object) -> None:
        """Refuse ``value`` for the sub-attribute ``part`` of the email unless it is the stored one."""
        if part == "value":
            self.same_address(_address(value))
        elif value is None or value == "":
            raise MutabilityError(f"emails.{part} cannot be removed.")
        elif part == "type":
            check_email_type(value)
        else:
            check_email_primary(value)

    def added_emails(self, value: object, part: str | None) -> None:
        """Accept values that are all the current email as stored; adding a second address is not supported."""
        if part is not None:
            self.email_part(part, value)
            return

        if value is None or value == "":
            return
        listed = email_values(value)
        for email in listed:
            if email.value:
                self.same_address(email.value)
        check_email_parts(listed, self.current.email)


_EMAILS = next(attribute for attribute in USER_ATTRIBUTES if attribute.name == "emails")
_UNSTORED_EMAIL_PARTS = {"display"}  # RFC 7643 §4.1.2 defines it; no stored address has one, so it matches nothing


def _check_email_filter(node: Filter) -> None:
    """Refuse a value filter on ``emails`` that names something other than its sub-attributes (``invalidPath``)."""
    if isinstance(node, And | Or):
        _check_email_filter(node.left)
        _check_email_filter(node.right)
    elif isinstance(node, Not):
        _check_email_filter(node.inner)
    elif isinstance(node, ValuePath) or node.path.sub is not None or node.path.urn is not None:
        raise InvalidPathError("A value filter on emails can only compare its sub-attributes (value, type, primary).")
    elif find_sub_attribute(_EMAILS, node.path.attr) is None and node.path.attr.lower() not in _UNSTORED_EMAIL_PARTS:
        raise InvalidPathError(f"emails has no sub-attribute {node.path.attr!r} to filter on.")


def apply_patch(current: UserAttributes, body: bytes) -> PatchOutcome:
    """The attributes of a User after the PATCH request ``body`` (RFC 7644 §3.5.2), and what changed.

    Operations apply in order to a copy of ``current``; the first that fails raises and nothing is applied, so a
    request is atomic. The module docstring lists how each operation shape is read.

    Raises:
        InvalidSyntaxError: the body is not a JSON object of the PatchOp shape, or an ``op`` is unknown.
        InvalidPathError: a path is malformed, or has a sub-attribute or value filter its attribute cannot take.
        InvalidValueError: a value is missing or has the wrong type for its attribute, or ``active`` is removed.
        MutabilityError: the request would change or remove ``userName``, the email, or the email's ``type`` or
            ``primary``.
        NoTargetError: ``remove`` without a path, or a value filter that matches no email on replace or remove.
    """
    request = _request(body)
    patch = _Patch(current)

    for operation in request.operations:
        op = _op(operation)
        if op != "remove" and operation.value is msgspec.UNSET:
            raise InvalidValueError(f"{op} needs a value.")

        path = operation.path
        if path is None or path == "" or (isinstance(path, str) and path.lower() == USER_SCHEMA_URN.lower()):
            # A path naming the whole core schema targets the resource itself, like no path.
            patch.pathless(op, operation.value)
        elif isinstance(path, str):
            patch.at(op, parse_path(path), operation.value)
        else:
            raise InvalidPathError("path must be a string.")
    return patch.outcome()
