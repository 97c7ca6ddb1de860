"""Syntax trees of SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2).

The filter parser produces these; the SQL compiler, the reference evaluator, attribute projection and the PATCH
engine consume them. Attribute names are kept resolved: ``attr`` and ``sub`` carry the schema's spelling, and a
leading core User URN has been removed.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

__all__ = [
    "And",
    "AttrPath",
    "Compare",
    "CompareOp",
    "Filter",
    "Literal_",
    "Not",
    "Or",
    "PatchPath",
    "Present",
    "ValuePath",
]

CompareOp = Literal["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
Literal_: TypeAlias = str | bool | int | float | None


class AttrPath(msgspec.Struct, frozen=True):
    """``[urn:]attr[.sub]``; ``urn`` is set only for schemas other than the core User schema."""

    attr: str
    sub: str | None = None
    urn: str | None = None


class Compare(msgspec.Struct, frozen=True):
    """``path op value``."""

    path: AttrPath
    op: CompareOp
    value: Literal_


class Present(msgspec.Struct, frozen=True):
    """``path pr``."""

    path: AttrPath


class And(msgspec.Struct, frozen=True):
    left: Filter
    right: Filter


class Or(msgspec.Struct, frozen=True):
    left: Filter
    right: Filter


class Not(msgspec.Struct, frozen=True):
    inner: Filter


class ValuePath(msgspec.Struct, frozen=True):
    """``attr[filter]``: the filter applies to each value of the multi-valued ``attr``."""

    path: AttrPath
    filter: Filter


Filter: TypeAlias = Compare | Present | And | Or | Not | ValuePath


class PatchPath(msgspec.Struct, frozen=True):
    """A PATCH ``path``: ``attrPath`` or ``valuePath [ "." subAttr ]`` (RFC 7644 §3.5.2)."""

    path: AttrPath
    value_filter: Filter | None = None
    sub: str | None = None
