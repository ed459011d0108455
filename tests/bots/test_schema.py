"""docs/flow.schema.json (for editors) stays in step with the engine: it accepts the shipped flows,
names exactly the engine's step kinds, trigger kinds, settings and answer types, and refuses what the
engine refuses for structural reasons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bots.flows.answers import AnswerType
from bots.flows.model import TriggerKind
from bots.flows.parse import _TRIGGER_OPTIONS, FLOW_KEYS
from bots.flows.steps import PARSERS, SETTINGS
from tests.conftest import REPO

SCHEMA_PATH = REPO / "docs" / "flow.schema.json"
SHIPPED = sorted(p for p in (REPO / "flows").glob("*.yaml") if p.name != "greeting.yaml")
# Flows using wait, call, consent, share_contact, qr and say with channel.
STEP_FLOWS = sorted((Path(__file__).parent / "step_flows").glob("*.yaml"))
BROKEN = Path(__file__).parent / "broken"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def kind_of(definition: dict[str, Any]) -> str:
    return definition["required"][0]


class TestSchemaMatchesTheEngine:
    def test_step_kinds(self, schema: dict[str, Any]) -> None:
        kinds = [kind_of(d) for d in schema["$defs"]["step"]["oneOf"]]
        assert kinds == list(PARSERS)

    def test_step_settings(self, schema: dict[str, Any]) -> None:
        settings = {
            key for d in schema["$defs"]["step"]["oneOf"] for key in d["properties"] if key not in PARSERS
        }
        assert settings == set(SETTINGS)

    def test_trigger_kinds_and_options(self, schema: dict[str, Any]) -> None:
        triggers = schema["$defs"]["trigger"]["oneOf"]
        assert [kind_of(d) for d in triggers] == [k.value for k in TriggerKind]
        options = {
            key for d in triggers for key in d["properties"] if key not in {k.value for k in TriggerKind}
        }
        assert options == set(_TRIGGER_OPTIONS)

    def test_answer_types_and_top_level_keys(self, schema: dict[str, Any]) -> None:
        ask = next(d for d in schema["$defs"]["step"]["oneOf"] if kind_of(d) == "ask")
        assert ask["properties"]["type"]["enum"] == [t.value for t in AnswerType]
        assert list(schema["properties"]) == list(FLOW_KEYS)


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    """Validation needs jsonschema (a test extra); without it the checks above still keep the schema
    in step with the engine."""
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


class TestSchemaValidation:
    @pytest.mark.parametrize("path", SHIPPED + STEP_FLOWS, ids=lambda p: p.name)
    def test_the_shipped_flows_pass(self, validator: Any, path: Path) -> None:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert errors == []

    @pytest.mark.parametrize("name", ["unknown_kind.yaml", "schema.yaml", "triggers.yaml", "new_steps.yaml"])
    def test_structurally_broken_flows_fail(self, validator: Any, name: str) -> None:
        document = yaml.safe_load((BROKEN / name).read_text(encoding="utf-8"))
        assert list(validator.iter_errors(document))
