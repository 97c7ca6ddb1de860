"""Bearer secrets: SCIM tokens and dashboard session tokens.

A secret is 32 random bytes, shown once and stored only as its SHA-256 digest. Lookups go by digest through a
unique index, and the stored digest is compared again in constant time before a match is trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["digest", "digests_match", "new_secret"]


def new_secret(prefix: str) -> str:
    """A new random secret (32 bytes of entropy, URL-safe) with a readable ``prefix`` such as ``scim_``."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    """The stored form of ``secret``."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def digests_match(stored: bytes, secret: str) -> bool:
    """Whether ``secret`` hashes to ``stored``, compared in constant time."""
    return hmac.compare_digest(stored, digest(secret))
