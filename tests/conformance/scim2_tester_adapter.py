"""Run the shared scim2-tester runner with identity values that the product's rules accept.

Usage (with the conformance environment's Python):
    python scim2_tester_adapter.py DOMAIN RUNNER BASE_URL TOKEN [runner options]

scim2-tester fills ``userName`` with a random UUID and ``emails.value`` with a random address at a random domain,
and has no hook for a server's value rules. This service accepts a user only when ``userName`` is an email in the
tenant's SSO domains, equal to the primary email, and never changed afterwards (the design's wire contract). So
this adapter changes only how identity values are generated:

- a new user gets one fresh address in ``DOMAIN``, used as both ``userName`` and ``emails.value``;
- when the tester fills or patches an existing user, the address it sends is that user's own address, marked
  primary (a user has exactly one address, the primary one).

Every check of the tester still runs, with its own requests and its own verdicts; the identity rules themselves
(refusing other domains, a changed email, a userName that is not an email) are covered by the IdP cases. One
consequence: the tester's "add emails" check re-sends the user's own address, so it exercises the no-op path.

The rest of the steering is the server's honest discovery, not this file: ``/Schemas`` marks ``userName`` and
``emails`` immutable (so the tester does not try to change them) and ``active`` required (every user always has
an access state; it can be set to true or false but not removed, so the tester does not try "remove active").
"""

from __future__ import annotations

import runpy
import sys
import uuid
from typing import Any

from scim2_tester import filling
from scim2_tester.checkers import patch_add, patch_replace, resource_put

_generate = filling.generate_random_value
_fill = filling.fill_with_random_values
_filling: list[object] = []


def _identity_path(path: Any) -> bool:
    text = str(path)
    return text.endswith(("userName", "emails.value", "emails"))


def _address_for(context: Any, domain: str) -> str:
    """The address to send: the last created user's own when patching it, else a fresh one."""
    resources = context.resource_manager.resources
    if not _filling and resources and getattr(resources[-1], "user_name", None):
        return str(resources[-1].user_name)
    return f"conformance.{uuid.uuid4().hex[:16]}@{domain}"


def _install(domain: str) -> None:
    def generate(context: Any, path: Any, mutability: Any = None, required: Any = None) -> Any:
        value = _generate(context, path=path, mutability=mutability, required=required)
        if value is None or not _identity_path(path):
            return value
        address = _address_for(context, domain)
        if str(path).endswith("emails"):
            for item in value:
                item.value, item.primary = address, True
            return value
        return [address] if isinstance(value, list) else address

    def fill(context: Any, obj: Any, paths: Any = None, mutability: Any = None, required: Any = None) -> Any:
        existing = getattr(obj, "user_name", None)
        _filling.append(obj)
        try:
            filled = _fill(context, obj, paths=paths, mutability=mutability, required=required)
        finally:
            _filling.pop()
        address = existing or getattr(filled, "user_name", None)
        for email in getattr(filled, "emails", None) or []:
            email.value = address
        return filled

    filling.generate_random_value = generate
    filling.fill_with_random_values = fill
    patch_add.generate_random_value = generate
    patch_replace.generate_random_value = generate
    resource_put.fill_with_random_values = fill


def main() -> None:
    domain, runner = sys.argv[1], sys.argv[2]
    _install(domain)
    sys.argv = [runner, *sys.argv[3:]]
    runpy.run_path(runner, run_name="__main__")


if __name__ == "__main__":
    main()
