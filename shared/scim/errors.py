"""SCIM protocol errors (RFC 7644 §3.12).

Services and engines raise these; one exception handler in the API renders them as SCIM Error JSON. Each class
fixes the HTTP status and, where RFC 7644 Table 9 defines one, the ``scimType``. The ``detail`` text is shown to
the identity provider's administrator, so it says what was wrong and never echoes a token.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadRequestError",
    "ConflictError",
    "ForbiddenError",
    "InvalidFilterError",
    "InvalidPathError",
    "InvalidSyntaxError",
    "InvalidValueError",
    "InvalidVersionError",
    "MethodNotAllowedError",
    "MutabilityError",
    "NoTargetError",
    "NotFoundError",
    "NotImplementedByServiceError",
    "PayloadTooLargeError",
    "PreconditionFailedError",
    "RequestTimeoutError",
    "ScimError",
    "TooManyError",
    "UnauthorizedError",
    "UniquenessError",
    "UnsupportedMediaTypeError",
]


class ScimError(Exception):
    """Base of every error the SCIM API answers with a SCIM Error body."""

    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequestError(ScimError):
    """A request the service cannot serve for a reason outside the SCIM body (a malformed ``Host`` header)."""


class InvalidFilterError(ScimError):
    """The filter syntax is invalid or names an attribute or operator that is not supported."""

    scim_type = "invalidFilter"


class TooManyError(ScimError):
    """The request would return more results than the service allows."""

    scim_type = "tooMany"


class UniquenessError(ScimError):
    """A value that must be unique in the tenant is already taken."""

    status = 409
    scim_type = "uniqueness"


class MutabilityError(ScimError):
    """The request tries to change an attribute that cannot be changed."""

    scim_type = "mutability"


class InvalidSyntaxError(ScimError):
    """The body is not valid JSON or does not have the shape of the message."""

    scim_type = "invalidSyntax"


class InvalidPathError(ScimError):
    """A PATCH path is malformed or does not fit the operation."""

    scim_type = "invalidPath"


class NoTargetError(ScimError):
    """A PATCH path matched nothing where the operation needs a target."""

    scim_type = "noTarget"


class InvalidValueError(ScimError):
    """A required value is missing, or a value has the wrong type or form."""

    scim_type = "invalidValue"


class InvalidVersionError(ScimError):
    """The SCIM protocol version asked for is not supported."""

    scim_type = "invalidVers"


class UnauthorizedError(ScimError):
    """No bearer token, or one that is unknown or revoked."""

    status = 401


class ForbiddenError(ScimError):
    """The tenant may not use provisioning (inactive subscription, provisioning switched off)."""

    status = 403


class NotFoundError(ScimError):
    """The resource or endpoint does not exist in this tenant."""

    status = 404


class MethodNotAllowedError(ScimError):
    """The endpoint exists but does not accept this method."""

    status = 405


class ConflictError(ScimError):
    """The request conflicts with the resource's current state (no RFC ``scimType`` applies)."""

    status = 409


class PreconditionFailedError(ScimError):
    """``If-Match`` named a version that is not the current one (RFC 7644 §3.14)."""

    status = 412


class RequestTimeoutError(ScimError):
    """The client did not send the whole request body in time."""

    status = 408


class PayloadTooLargeError(ScimError):
    """The request body is larger than the configured limit."""

    status = 413


class UnsupportedMediaTypeError(ScimError):
    """The body is declared as something other than JSON, or in a charset the service cannot read."""

    status = 415


class NotImplementedByServiceError(ScimError):
    """The operation is valid SCIM but this service does not offer it (group management)."""

    status = 501
