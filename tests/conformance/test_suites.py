"""The public SCIM conformance suites report no failure against the running service.

Both run from their own virtual environment (``make conformance-tools`` builds it from
``tests/conformance/requirements.txt``), each against a tenant of its own because they leave users behind.
scim2-tester runs through ``scim2_tester_adapter.py``, which gives its generated users addresses the product
accepts (its module docstring says exactly what it changes and why).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from shared.db import Pool
from tests.conftest import LiveStack
from tests.support.invariants import check_event_invariants
from tests.support.shared_files import shared_dir

pytestmark = pytest.mark.e2e

_TOOLS = Path(__file__).resolve().parents[2] / ".venv-conformance" / "bin"


def _tool(name: str) -> str:
    path = _TOOLS / name
    assert path.exists(), f"{path} is missing: run `make conformance-tools` (make test does)"
    return str(path)


async def test_scim2_tester_reports_no_failure(live_stack: LiveStack, db_pool: Pool) -> None:
    org_id, token = live_stack.new_tenant("scim2-tester", domains=["conformance.example.com"])
    runner = shared_dir() / "conformance" / "run_scim2_tester.py"
    adapter = Path(__file__).with_name("scim2_tester_adapter.py")

    result = subprocess.run(
        [_tool("python"), str(adapter), "conformance.example.com", str(runner), live_stack.scim_base, token],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert summary.endswith(" skipped"), summary
    assert ", 0 failed," in summary, summary
    await check_event_invariants(db_pool, org_id)


async def test_scim_sanity_probe_reports_no_failure(live_stack: LiveStack, db_pool: Pool) -> None:
    org_id, token = live_stack.new_tenant("scim-sanity")

    result = subprocess.run(
        [
            _tool("scim-sanity"),
            "probe",
            live_stack.scim_base,
            "--token",
            token,
            "--resource",
            "User",
            "--json-output",
            "--i-accept-side-effects",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    summary = json.loads(result.stdout)["summary"]
    assert summary["failed"] == 0, result.stdout[-6000:]
    assert summary["errors"] == 0, result.stdout[-6000:]
    assert summary["passed"] >= 18, summary
    await check_event_invariants(db_pool, org_id)
