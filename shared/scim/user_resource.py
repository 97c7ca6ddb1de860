"""The SCIM User representation: request bodies in, resources out (RFC 7643 §4.1, RFC 7644 §3.3, §3.5.1, §3.9).

Inbound bodies are decoded in two steps: JSON syntax first (a broken body is ``invalidSyntax``), then the
attribute names are matched ignoring case (RFC 7643 §2.1), with or without the core User URN (RFC 7644 §3.10,
read by ``core_attributes`` as path-less PATCH reads it), and the document is converted into tolerant msgspec
models, so a stored attribute of the wrong JSON type is ``invalidValue`` with a detail that names it. Unknown
attributes, the enterprise extension and the unsupported core ones (``password``, ``groups``, ``roles``, ...) are
accepted and ignored; ``null`` and ``""`` mean unassigned (RFC 7643 §2.5).

``schemas`` is not required and need not list the core User URN: the endpoint already fixes the resource type,
and refusing a body for a missing or partial ``schemas`` would only break clients. When present it must be a
string or an array of strings.

Domain checks (the email's SSO domain) and uniqueness belong to the service layer, not here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from shared.domain import UserAttributes, UserRecord
from shared.scim.ast import AttrPath
from shared.scim.errors import InvalidSyntaxError, InvalidValueError, MutabilityError
from shared.scim.schema import USER_ATTRIBUTES, USER_SCHEMA_URN, find_attribute, find_sub_attribute, strip_user_urn

__all__ = [
    "EMAIL_TYPE",
    "EmailIn",
    "InboundModel",
    "NameIn",
    "canonical_keys",
    "check_email_parts",
    "check_email_primary",
    "check_email_type",
    "core_attributes",
    "decode_object",
    "email_values",
    "is_email_address",
    "parse_bool",
    "parse_create",
    "parse_replace",
    "primary_email",
    "project",
    "render_user",
    "stored_string",
]

EMAIL_TYPE = "work"


class InboundModel(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """Base of inbound SCIM models: keyword-only, camelCase wire names, unknown fields ignored."""


class NameIn(InboundModel):
    """The ``name`` complex attribute as a client sends it; other sub-attributes are ignored."""

    given_name: str | None = None
    family_name: str | None = None
    formatted: str | None = None


class EmailIn(InboundModel):
    """One value of ``emails``; ``display`` and other sub-attributes are ignored."""

    value: str | None = None
    type: str | None = None
    primary: bool | str | None = None


class _UserDocument(InboundModel):
    """A User as POST and PUT carry it (RFC 7644 §3.3, §3.5.1)."""

    schemas: list[str] | str | None = None
    user_name: str | None = None
    name: NameIn | None = None
    display_name: str | None = None
    external_id: str | None = None
    active: bool | str | None = None
    emails: list[EmailIn] | EmailIn | None = None


_JSON = msgspec.json.Decoder()

_USER_KEYS = {
    name.lower(): name for name in ("schemas", "userName", "name", "displayName", "externalId", "active", "emails")
}
_NAME_KEYS = {name.lower(): name for name in ("givenName", "familyName", "formatted")}
_EMAIL_KEYS = {name.lower(): name for name in ("value", "type", "primary")}

# A dot-atom local part (RFC 5322 §3.4.1, non-ASCII allowed as RFC 6531 does) and a domain of at least two labels
# of letters, digits and inner hyphens. Quoted local parts and address literals are not accepted.
_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-"
_LABEL = "[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\u0080-\U0010ffff-]{0,61}[A-Za-z0-9\u0080-\U0010ffff])?"
_EMAIL = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@{_LABEL}(?:\.{_LABEL})+")
_MAX_LOCAL_PART = 64
_MAX_ADDRESS = 254
MAX_STRING = 1024
MAX_EXTERNAL_ID = 512

# A \u escape of one half of a UTF-16 surrogate pair without the other half next to it. The even run of backslashes
# before it makes it an escape rather than escaped text; only a failed decode searches a body with it, for a detail.
_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(rb"(?<!\\)(?:\\\\)*(" + _HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW + rb")")


def _syntax_error(body: bytes, error: msgspec.DecodeError, what: str) -> InvalidSyntaxError:
    """The error for ``body``, which failed to decode with ``error``, with a detail that names the real problem.

    msgspec says "Input data was truncated" for an empty body and for a high surrogate escape that no low one
    follows, as well as for a body that really ends too early; those are told apart here.
    """
    if not body.strip(b" \t\r\n"):
        return InvalidSyntaxError(f"The {what} is empty: a JSON object is expected.")

    lone = _LONE_SURROGATE.search(body)
    if lone is not None:
        escape = lone.group(1).decode("ascii")
        problem = f"the escape {escape} at byte {lone.start(1)} is half of a UTF-16 surrogate pair, without the other"
    elif str(error) == "Input data was truncated":
        problem = "the body ends before the JSON value is complete"
    else:
        problem = str(error)
    return InvalidSyntaxError(f"The {what} is not valid JSON: {problem}.")


def decode_object(body: bytes, *, what: str) -> dict[str, Any]:
    """Decode a request body that must be one JSON object, or raise ``invalidSyntax`` (RFC 7644 §3.12).

    The detail names the problem: an empty body, a body cut short, an unpaired surrogate escape (``\\ud800``),
    or the position of any other syntax error.
    """
    try:
        document = _JSON.decode(body)
    except msgspec.DecodeError as exc:
        raise _syntax_error(body, exc, what) from exc
    except RecursionError:
        raise InvalidSyntaxError(f"The {what} nests arrays or objects too deeply.") from None

    if not isinstance(document, dict):
        raise InvalidSyntaxError(f"The {what} must be a JSON object.")
    return document


def core_attributes(document: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The core User attributes a JSON object names, as (name without the URN, value) pairs (RFC 7644 §3.10).

    A key may be a plain name (``displayName``), a name qualified by the core User URN
    (``urn:ietf:params:scim:schemas:core:2.0:User:displayName``, the URN in any case), or the core User URN itself
    holding an object of such keys; a ``null`` or ``""`` there names nothing. Keys of any other schema (the
    enterprise extension, say) are left out. Names keep their spelling and order, and one attribute may come more
    than once: the caller decides what that means.

    Raises:
        InvalidValueError: the core User URN holds something other than an object.
    """
    pairs: list[tuple[str, Any]] = []
    for key, value in document.items():
        if key.lower() == USER_SCHEMA_URN.lower():
            if isinstance(value, dict):
                pairs.extend(core_attributes(value))
            elif value is not None and value != "":
                raise InvalidValueError(f"{USER_SCHEMA_URN} must hold an object of attributes.")
            continue

        name = strip_user_urn(key)
        if name[:4].lower() != "urn:":
            pairs.append((name, value))
    return pairs


def canonical_keys(
    document: Mapping[str, Any] | Iterable[tuple[str, Any]], names: Mapping[str, str], *, where: str
) -> dict[str, Any]:
    """Rename the keys of ``document`` found in ``names`` (lower-cased → schema spelling); others stay as they are.

    ``document`` is an object or its (key, value) pairs. Attribute names are case-insensitive (RFC 7643 §2.1). Two
    keys naming the same attribute are ``invalidValue``: neither can be chosen without guessing.
    """
    pairs = document.items() if isinstance(document, Mapping) else document
    renamed: dict[str, Any] = {}
    for key, value in pairs:
        canonical = names.get(key.lower(), key)
        if canonical in renamed:
            raise InvalidValueError(f"The attribute {where}{canonical} is given more than once.")
        renamed[canonical] = value
    return renamed


def is_email_address(text: str) -> bool:
    """Whether ``text`` looks like an email address (``local@domain.tld``; ``+`` and dots in the local part).

    Non-ASCII letters are allowed (RFC 6531); control, format and unassigned characters (a right-to-left override,
    say) and separators are not, so two addresses that look the same cannot be told apart only by invisible ones.
    """
    local, _, _ = text.rpartition("@")
    return (
        len(text) <= _MAX_ADDRESS
        and len(local) <= _MAX_LOCAL_PART
        and _EMAIL.fullmatch(text) is not None
        and all(unicodedata.category(char)[0] not in "CZ" for char in text)
    )


def parse_bool(value: object, attribute: str) -> bool:
    """A SCIM boolean, also from the strings ``"true"`` / ``"false"`` in any case (as Entra sends them).

    Raises:
        InvalidValueError: for any other value.
    """
    if isinstance(value, bool):
        return value

    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise InvalidValueError(f"{attribute} must be true or false.")


def stored_string(value: str | None, attribute: str) -> str | None:
    """A string attribute as it is stored: ``""`` is unassigned (RFC 7643 §2.5), text is in Unicode NFC.

    NFC makes canonically equivalent spellings (``ë`` as one code point or as ``e`` and a combining diaeresis) one
    stored value, so they compare equal. Lengths are capped: ``externalId`` at 512 characters (it is indexed),
    every other string at 1024.

    Raises:
        InvalidValueError: when the string contains a NUL character, which no text column can hold, or is too long.
    """
    if not value:
        return None

    if "\x00" in value:
        raise InvalidValueError(f"{attribute} must not contain NUL characters.")
    limit = MAX_EXTERNAL_ID if attribute == "externalId" else MAX_STRING
    if len(value) > limit:
        raise InvalidValueError(f"{attribute} is longer than {limit} characters.")
    return unicodedata.normalize("NFC", value)


def primary_email(emails: Sequence[EmailIn], user_name: str | None) -> str | None:
    """The address that ``emails`` names as the primary one, or None when no value carries an address.

    Values with an empty address are skipped. The one marked ``primary`` wins; when none is marked, the one equal
    to ``user_name`` (ignoring case), else the first. RFC 7643 §2.4 allows ``primary`` on at most one value.

    Raises:
        InvalidValueError: when more than one value is marked primary, or ``primary`` is not a boolean.
    """
    addressed = [email for email in emails if email.value]
    marked = [email for email in addressed if email.primary not in (None, "") and parse_bool(email.primary, "primary")]
    if len(marked) > 1:
        raise InvalidValueError("Only one of emails may be primary.")

    if marked:
        return marked[0].value
    lowered = user_name.lower() if user_name else None
    same = [email for email in addressed if email.value and email.value.lower() == lowered]
    chosen = same or addressed
    return chosen[0].value if chosen else None


def check_email_type(value: object) -> None:
    """Refuse a ``type`` for the stored email other than ``work`` (any case): it is immutable (RFC 7643 §7).

    Raises:
        InvalidValueError: ``value`` is not a string.
        MutabilityError: ``value`` is another type.
    """
    if not isinstance(value, str):
        raise InvalidValueError("emails.type must be a string.")
    if value.lower() != EMAIL_TYPE:
        raise MutabilityError(f"The email's type is always {EMAIL_TYPE}; it cannot be changed.")


def check_email_primary(value: object) -> None:
    """Refuse ``primary`` false for the stored email, the only one and so always primary (RFC 7643 §2.4, §7).

    Raises:
        InvalidValueError: ``value`` is not a boolean (or the string true / false).
        MutabilityError: ``value`` is false.
    """
    if not parse_bool(value, "emails.primary"):
        raise MutabilityError("The email is always the primary one; primary cannot be false.")


def check_email_parts(emails: Sequence[EmailIn], address: str) -> None:
    """Refuse values of ``emails`` that give the stored email ``address`` another ``type`` or ``primary`` false.

    Only values whose address equals ``address`` (ignoring case) are looked at; leaving ``type`` or ``primary`` out
    is no change. The stored email is a primary work address, and ``/Schemas`` declares both immutable, so repeating
    them is a no-op and anything else is ``mutability`` (RFC 7644 §3.5.2). PATCH calls it; PUT does not (see
    ``parse_replace``).

    Raises:
        InvalidValueError: ``primary`` is not a boolean.
        MutabilityError: a value for ``address`` has another type or ``primary`` false.
    """
    lowered = address.lower()
    for email in emails:
        if not email.value or unicodedata.normalize("NFC", email.value).lower() != lowered:
            continue

        if email.type:
            check_email_type(email.type)
        if email.primary not in (None, ""):
            check_email_primary(email.primary)


def email_values(value: object) -> list[EmailIn]:
    """The values of ``emails`` from a PATCH value: an array of objects, or one object (as OneLogin sends).

    Raises:
        InvalidValueError: when a value is not an object or a sub-attribute has the wrong type.
    """
    items = value if isinstance(value, list) else [value]
    canonical = [canonical_keys(v, _EMAIL_KEYS, where="emails.") if isinstance(v, dict) else v for v in items]
    try:
        return msgspec.convert(canonical, list[EmailIn])
    except msgspec.ValidationError as exc:
        raise InvalidValueError(f"emails has a value of the wrong type: {exc}.") from exc


def _document(body: bytes) -> _UserDocument:
    document = canonical_keys(core_attributes(decode_object(body, what="User")), _USER_KEYS, where="")
    for key, names, prefix in (("name", _NAME_KEYS, "name."), ("emails", _EMAIL_KEYS, "emails.")):
        value = document.get(key)
        if value == "":
            document[key] = None
        elif isinstance(value, dict):
            document[key] = canonical_keys(value, names, where=prefix)
        elif isinstance(value, list):
            document[key] = [canonical_keys(v, names, where=prefix) if isinstance(v, dict) else v for v in value]

    schemas = document.get("schemas")
    if not isinstance(schemas, str | list | None) or (
        isinstance(schemas, list) and not all(isinstance(urn, str) for urn in schemas)
    ):
        raise InvalidSyntaxError("schemas must be an array of schema URNs.")

    try:
        return msgspec.convert(document, _UserDocument)
    except msgspec.ValidationError as exc:
        raise InvalidValueError(f"An attribute of the User has a value of the wrong type: {exc}.") from exc


def _emails(document: _UserDocument) -> list[EmailIn]:
    emails = document.emails
    if emails is None:
        return []
    return [emails] if isinstance(emails, EmailIn) else emails


def _email_of(document: _UserDocument, user_name: str) -> str:
    email = stored_string(primary_email(_emails(document), user_name), "emails.value")
    return user_name if email is None else email


def _mutable_attributes(document: _UserDocument) -> dict[str, str | None]:
    name = document.name or NameIn()
    return {
        "given_name": stored_string(name.given_name, "name.givenName"),
        "family_name": stored_string(name.family_name, "name.familyName"),
        "formatted_name": stored_string(name.formatted, "name.formatted"),
        "display_name": stored_string(document.display_name, "displayName"),
        "external_id": stored_string(document.external_id, "externalId"),
    }


def _active(document: _UserDocument, default: bool) -> bool:
    if document.active is None or document.active == "":
        return default
    return parse_bool(document.active, "active")


def parse_create(body: bytes) -> UserAttributes:
    """The attributes of a User from a POST body (RFC 7644 §3.3).

    ``userName`` is required and must be an email address; the primary email must equal it ignoring case, and
    is the userName itself when ``emails`` is absent. Both are kept exactly as sent. ``active`` defaults to true.

    An attribute may be named by its fully qualified URN (``urn:ietf:params:scim:schemas:core:2.0:User:displayName``)
    or sit in an object under the core User URN, as path-less PATCH allows (RFC 7644 §3.10). A body that names one
    attribute twice (plainly and by its URN, or in two cases) is ``invalidValue`` whatever the two values are:
    neither can be chosen without guessing.

    Raises:
        InvalidSyntaxError: the body is not a JSON object, or ``schemas`` is not an array of strings.
        InvalidValueError: ``userName`` is missing or not an email address, the primary email differs from it,
            a stored attribute has the wrong type or is named more than once.
    """
    document = _document(body)

    user_name = stored_string(document.user_name, "userName")
    if user_name is None:
        raise InvalidValueError("userName is required.")
    if not is_email_address(user_name):
        raise InvalidValueError("userName must be an email address.")

    email = _email_of(document, user_name)
    if email.lower() != user_name.lower():
        raise InvalidValueError("The primary email must equal userName (ignoring case).")

    return UserAttributes(
        user_name=user_name,
        email=email,
        active=_active(document, default=True),
        **_mutable_attributes(document),
    )


def parse_replace(body: bytes, current: UserAttributes) -> UserAttributes:
    """The attributes of a User after a PUT with ``body`` (RFC 7644 §3.5.1).

    ``name``, ``displayName`` and ``externalId`` are replaced, so an omitted one is cleared. ``active`` is the
    exception: omitted (or null), it keeps its current value, so a PUT never deactivates or reactivates by
    omission. ``userName`` is required; it and the primary email are immutable here: the current value in any case
    keeps the stored spelling, any other value is ``mutability``. The stored email's ``type`` and ``primary`` are
    not checked here: identity providers send back on every PUT the representation they created the user with, and
    create accepts any type (the address is stored as the primary work email), so the same body must keep working;
    PATCH, which names the part it changes, refuses such a change. readOnly attributes (``id``, ``meta``) are
    ignored. Attribute names are read as ``parse_create`` reads them: URN-qualified names count, and one attribute
    named twice is ``invalidValue``.

    Raises:
        InvalidSyntaxError: the body is not a JSON object, or ``schemas`` is not an array of strings.
        InvalidValueError: ``userName`` is missing, or a stored attribute has the wrong type or is named more than
            once.
        MutabilityError: ``userName`` or the primary email differs from the current one other than by case.
    """
    document = _document(body)

    user_name = stored_string(document.user_name, "userName")
    if user_name is None:
        raise InvalidValueError("userName is required.")
    if user_name.lower() != current.user_name.lower():
        raise MutabilityError("userName cannot be changed.")

    email = _email_of(document, user_name)
    if email.lower() != current.email.lower():
        raise MutabilityError("The primary email cannot be changed.")

    return UserAttributes(
        user_name=current.user_name,
        email=current.email,
        active=_active(document, default=current.active),
        **_mutable_attributes(document),
    )


def _timestamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_user(record: UserRecord, *, location: str) -> dict[str, Any]:
    """The SCIM User resource for ``record`` (RFC 7643 §4.1, §3.1 for ``meta``).

    Only attributes that are set appear (``name`` only with at least one part); nothing is invented. ``active`` and
    ``emails`` (one work address, primary) are always present; timestamps are RFC 3339 UTC with milliseconds and a
    naive one is read as UTC; ``meta.version`` is the weak entity tag of ``record.version`` (RFC 7644 §3.14).
    """
    attributes = record.attributes
    resource: dict[str, Any] = {"schemas": [USER_SCHEMA_URN], "id": str(record.id)}
    if attributes.external_id is not None:
        resource["externalId"] = attributes.external_id
    resource["userName"] = attributes.user_name

    name = {
        key: value
        for key, value in (
            ("givenName", attributes.given_name),
            ("familyName", attributes.family_name),
            ("formatted", attributes.formatted_name),
        )
        if value is not None
    }
    if name:
        resource["name"] = name
    if attributes.display_name is not None:
        resource["displayName"] = attributes.display_name

    resource["active"] = attributes.active
    resource["emails"] = [{"value": attributes.email, "type": EMAIL_TYPE, "primary": True}]
    resource["meta"] = {
        "resourceType": "User",
        "created": _timestamp(record.created_at),
        "lastModified": _timestamp(record.updated_at),
        "location": location,
        "version": f'W/"{record.version}"',
    }
    return resource


_ALWAYS = frozenset(["schemas", *(a.name for a in USER_ATTRIBUTES if a.returned == "always")])


def _resolve(path: AttrPath) -> tuple[str, str | None] | None:
    """The resource key and sub-attribute key ``path`` names, or None when it names nothing this service returns."""
    if path.urn is not None and path.urn.lower() != USER_SCHEMA_URN.lower():
        return None

    attribute = find_attribute(path.attr)
    if attribute is None:
        return None
    if path.sub is None:
        return attribute.name, None

    sub = find_sub_attribute(attribute, path.sub)
    return None if sub is None else (attribute.name, sub.name)


def _pick(value: Any, subs: Iterable[str]) -> Any:
    keep = set(subs)
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k in keep}
    if isinstance(value, list):
        return [{k: v for k, v in item.items() if k in keep} for item in value if isinstance(item, dict)]
    return value


def _drop(value: Any, sub: str) -> Any:
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != sub}
    if isinstance(value, list):
        return [{k: v for k, v in item.items() if k != sub} for item in value if isinstance(item, dict)]
    return value


def _is_empty(value: Any) -> bool:
    if isinstance(value, dict):
        return not value
    if isinstance(value, list):
        return all(_is_empty(item) for item in value)
    return value is None


def _selected(resource: dict[str, Any], attributes: list[AttrPath]) -> dict[str, Any]:
    whole: set[str] = set(_ALWAYS)
    parts: dict[str, set[str]] = {}
    for path in attributes:
        resolved = _resolve(path)
        if resolved is None:
            continue
        key, sub = resolved
        if sub is None:
            whole.add(key)
        else:
            parts.setdefault(key, set()).add(sub)

    selected: dict[str, Any] = {}
    for key, value in resource.items():
        if key in whole:
            selected[key] = value
        elif key in parts:
            picked = _pick(value, parts[key])
            if not _is_empty(picked):
                selected[key] = picked
    return selected


def project(
    resource: dict[str, Any],
    *,
    attributes: list[AttrPath] | None,
    excluded: list[AttrPath] | None,
) -> dict[str, Any]:
    """``resource`` reduced by the ``attributes`` / ``excludedAttributes`` parameters (RFC 7644 §3.4.2.5, §3.9).

    With ``attributes``, only the named attributes (or sub-attributes, such as ``name.givenName`` or
    ``emails.value``) are returned; with ``excluded``, the named ones are left out. Attributes whose ``returned``
    is ``always`` (``schemas``, ``id``, ``userName``) stay in either case. Names resolve ignoring case, with or
    without the core User URN; names of other schemas or of attributes this service does not return are ignored.
    An empty list is the same as none. Given both (the RFC calls them mutually exclusive), the selection is made
    first and the exclusions are then taken out of it. The input is not modified.
    """
    projected = _selected(resource, attributes) if attributes else dict(resource)

    for path in excluded or ():
        resolved = _resolve(path)
        if resolved is None or resolved[0] in _ALWAYS or resolved[0] not in projected:
            continue

        key, sub = resolved
        remaining = None if sub is None else _drop(projected[key], sub)
        if remaining is None or _is_empty(remaining):
            del projected[key]
        else:
            projected[key] = remaining
    return projected
