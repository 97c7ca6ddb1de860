from __future__ import annotations

import json

from click.testing import CliRunner

from services.scimctl.cli import cli
from shared.events import event_schema

CONTRACT = "shared/contract/events.v1.schema.json"


def test_published_schema_is_the_one_generated_from_the_event_structs() -> None:
    with open(CONTRACT, encoding="utf-8") as published:
        assert json.load(published) == event_schema()


def test_scimctl_prints_the_event_schema() -> None:
    result = CliRunner().invoke(cli, ["events", "schema"])

    assert result.exit_code == 0
    assert json.loads(result.output)["$id"] == "urn:scim-provisioning:events:v1"
