"""Every IdP request sequence in the shared cases passes against the running service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LiveStack
from tests.support.shared_files import shared_dir

pytestmark = pytest.mark.e2e

CASES = sorted((shared_dir() / "cases").glob("*.json"))


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_idp_case_passes(live_stack: LiveStack, case: Path) -> None:
    runner = shared_dir() / "tools" / "scim_cases.py"

    result = subprocess.run(
        [sys.executable, str(runner), "--base", live_stack.scim_base, "--token", live_stack.scim_token, str(case)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 0 failed" in result.stdout
