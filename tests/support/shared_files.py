"""Where the team's shared IdP cases and conformance runners live (read-only, outside this repository)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shared_dir"]

_REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """``$SCIM_SHARED_DIR``, else ``../shared`` beside the checkout, else ``/work/shared``; fails when none exists."""
    candidates = [os.environ.get("SCIM_SHARED_DIR"), str(_REPO.parent / "shared"), "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "cases").is_dir():
            return Path(candidate)
    raise AssertionError(f"the shared cases directory was not found; set SCIM_SHARED_DIR (looked in {candidates})")
