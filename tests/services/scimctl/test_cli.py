"""``scimctl`` as operators and scripts use it: ids and secrets on the last line, clear errors."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.db import create_database, drop_database
from tests.conftest import LiveStack, TestServices


def _scimctl(test_services: TestServices, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.scimctl", *args],
        env=test_services.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_org_create_prints_the_id_last_and_token_create_prints_a_working_token(
    test_services: TestServices, live_stack: LiveStack
) -> None:
    created = _scimctl(test_services, "org", "create", "Cli Org", "--domain", "cli.example.com", "--provisioning")
    org_id = created.stdout.strip().splitlines()[-1]
    issued = _scimctl(test_services, "token", "create", org_id, "--label", "okta")
    token = issued.stdout.strip().splitlines()[-1]

    response = httpx.get(f"{live_stack.scim_base}/Users", headers={"Authorization": f"Bearer {token}"})

    assert created.returncode == 0, created.stderr
    assert uuid.UUID(org_id)
    assert issued.returncode == 0, issued.stderr
    assert response.status_code == 200


def test_token_revoke_stops_the_token(test_services: TestServices, live_stack: LiveStack) -> None:
    org_id = _scimctl(test_services, "org", "create", "Revoke", "--domain", "example.com", "--provisioning")
    org = org_id.stdout.strip().splitlines()[-1]
    issued = _scimctl(test_services, "token", "create", org).stdout.strip().splitlines()
    token_id = issued[0].split()[2]

    revoked = _scimctl(test_services, "token", "revoke", token_id)
    response = httpx.get(f"{live_stack.scim_base}/Users", headers={"Authorization": f"Bearer {issued[-1]}"})

    assert revoked.returncode == 0, revoked.stderr
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("org", "create", "Bad", "--domain", "not a domain"), "not an email domain", id="bad-domain"),
        pytest.param(("org", "create", "", "--domain", "empty.com"), "name must not be empty", id="empty-name"),
        pytest.param(("org", "create", "  ", "--domain", "empty.com"), "name must not be empty", id="blank-name"),
        pytest.param(("org", "create", "No domain"), "Missing option '--domain'", id="no-domain"),
        pytest.param(("org", "update", str(uuid.UUID(int=7)), "--no-jit"), "no such organization", id="update-unknown"),
        pytest.param(("token", "create", str(uuid.UUID(int=7))), "no such organization", id="unknown-org"),
        pytest.param(("token", "list", str(uuid.UUID(int=7))), "no such organization", id="list-unknown-org"),
        pytest.param(("token", "revoke", str(uuid.UUID(int=7))), "no live token", id="unknown-token"),
        pytest.param(("token", "create", "not-a-uuid"), "not a valid UUID", id="malformed-id"),
    ],
)
def test_operator_mistakes_get_a_clear_message(
    test_services: TestServices, args: tuple[str, ...], message: str
) -> None:
    result = _scimctl(test_services, *args)

    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_org_update_replaces_the_domains_only_when_domain_is_given(test_services: TestServices) -> None:
    created = _scimctl(test_services, "org", "create", "Domains", "--domain", "old.example", "--domain", "two.example")
    org_id = created.stdout.strip().splitlines()[-1]

    switched = _scimctl(test_services, "org", "update", org_id, "--provisioning", "--no-jit")
    replaced = _scimctl(test_services, "org", "update", org_id, "--domain", "New.example")

    assert switched.returncode == 0, switched.stderr
    assert json.loads(switched.stdout)["sso_domains"] == ["old.example", "two.example"]
    assert replaced.returncode == 0, replaced.stderr
    after = json.loads(replaced.stdout)
    assert after["sso_domains"] == ["new.example"]
    assert (after["provisioning_enabled"], after["jit_enabled"]) == (True, False)


def test_a_bad_setting_names_the_variable(test_services: TestServices) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.scimctl", "migrate"],
        env={**test_services.environment(), "PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_is_idempotent(test_services: TestServices) -> None:
    result = _scimctl(test_services, "migrate")

    assert result.returncode == 0, result.stderr
    assert "applied 0 migration(s)" in result.stdout


def test_operator_commands_use_the_running_dev_stack_when_no_database_is_set(
    test_services: TestServices, tmp_path: Path
) -> None:
    (tmp_path / "dev.json").write_text(json.dumps({"database_url": test_services.database_url}))
    env = {key: value for key, value in test_services.environment().items() if key not in ("DATABASE_URL", "REDIS_URL")}

    result = subprocess.run(
        [sys.executable, "-m", "services.scimctl", "org", "create", "From dev.json", "--domain", "example.com"],
        env={**env, "SCIM_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert uuid.UUID(result.stdout.strip().splitlines()[-1])
    assert "development stack" in result.stderr


def test_operator_commands_without_any_database_say_what_to_do(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}

    result = subprocess.run(
        [sys.executable, "-m", "services.scimctl", "org", "list"],
        env={**env, "SCIM_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "set DATABASE_URL, or start `scimctl dev`" in result.stderr


@pytest.fixture
def unmigrated_database(test_services: TestServices) -> Iterator[str]:
    """A database on this run's server that was never migrated."""
    name = f"scim_bare_{secrets.token_hex(4)}"
    dsn = create_database(test_services.database_url, name)
    yield dsn
    drop_database(test_services.database_url, name)


def test_an_unreachable_database_is_a_one_line_error(test_services: TestServices) -> None:
    result = _org_list_on(test_services, "postgresql://nobody@127.0.0.1:1/none")

    assert result.returncode == 1
    assert result.stderr.startswith("Error: the database did not answer (ConnectionRefusedError)"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_never_migrated_is_a_one_line_error(test_services: TestServices, unmigrated_database: str) -> None:
    result = _org_list_on(test_services, unmigrated_database)

    assert result.returncode == 1
    assert result.stderr.strip() == "Error: the database has no tables yet: run `scimctl migrate` first"


def _org_list_on(test_services: TestServices, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.scimctl", "org", "list"],
        env={**test_services.environment(), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
