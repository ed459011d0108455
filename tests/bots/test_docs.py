"""Every example in docs/flows.md is real: flows validate, step and trigger snippets parse (wrapped in
a flow with stub targets, and stub flows for what they ``call``), knowledge bases load and the
transcript examples read without problems."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bots.flows import validate
from bots.flows.faq import load_knowledge_base
from bots.flows.steps import PARSERS
from bots.flows.transcripts.model import read_transcripts
from tests.conftest import REPO

DOCS = (REPO / "docs" / "flows.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(yaml|csv)\n(.*?)```", DOCS, re.DOTALL)
YAML_BLOCKS = [body for kind, body in BLOCKS if kind == "yaml"]


def classify(body: str) -> str:
    data = yaml.safe_load(body)
    if isinstance(data, dict) and "transcripts" in data:
        return "transcripts"
    if isinstance(data, dict) and "id" in data:
        return "flow"
    if isinstance(data, dict) and "triggers" in data:
        return "triggers"
    if isinstance(data, list):
        return "knowledge"
    if isinstance(data, dict) and all(isinstance(v, dict) and set(v) & set(PARSERS) for v in data.values()):
        return "steps"
    return "fragment"


def test_the_docs_have_examples_of_every_step_kind() -> None:
    kinds = {
        kind
        for body in YAML_BLOCKS
        if classify(body) in ("steps", "flow")
        for step in (yaml.safe_load(body).get("steps") or yaml.safe_load(body)).values()
        if isinstance(step, dict)
        for kind in step
        if kind in PARSERS
    }
    assert kinds == set(PARSERS)


@pytest.mark.parametrize("body", YAML_BLOCKS, ids=lambda b: b.splitlines()[0][:40])
def test_yaml_example(body: str, tmp_path: Path) -> None:
    kind = classify(body)
    if kind == "fragment":
        pytest.skip("a one-line illustration, not a whole document")
    if kind == "transcripts":
        path = tmp_path / "tests" / "t.yaml"
        path.parent.mkdir()
        path.write_text(body, encoding="utf-8")
        assert read_transcripts(path)[1] == []
        return
    if kind == "knowledge":
        path = tmp_path / "kb.yaml"
        path.write_text(body, encoding="utf-8")
        assert load_knowledge_base(path)[1] == []
        return
    if kind == "flow":
        (tmp_path / "flow.yaml").write_text(body, encoding="utf-8")
        assert validate(tmp_path) == []
        return
    # Step or trigger snippets: wrap them in a flow whose missing targets are stubs.
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "support.yaml").write_text("- {id: x, questions: [x], answer: x}\n", encoding="utf-8")
    snippet = yaml.safe_load(body)
    steps = snippet if kind == "steps" else {"first": {"say": "Hi"}}
    targets = set(re.findall(r"\b(?:next|then|else|goto|on_fail|on_timeout|fallback|step): (\w+)", body))
    stubs = {name: {"say": "stub"} for name in targets if name not in steps}
    flow = {"id": "doc", "version": 1, "start": next(iter(steps)), "steps": {**steps, **stubs}}
    if kind == "triggers":
        flow["triggers"] = snippet["triggers"]
    for step in steps.values():
        if isinstance(step, dict) and "call" in step:
            entry = step.get("step", "first")
            called = {"id": step["call"], "version": 1, "start": entry, "steps": {entry: {"say": "stub"}}}
            (tmp_path / f"{step['call']}.yaml").write_text(yaml.safe_dump(called), encoding="utf-8")
        if isinstance(step, dict) and "campaign" in step:
            (tmp_path / "campaigns").mkdir(exist_ok=True)
            defined = {"campaigns": [{"id": step["campaign"]}]}
            (tmp_path / "campaigns" / "c.yaml").write_text(yaml.safe_dump(defined), encoding="utf-8")
    (tmp_path / "flow.yaml").write_text(yaml.safe_dump(flow, allow_unicode=True), encoding="utf-8")
    problems = [p for p in validate(tmp_path, teams=["support"]) if "is never reached" not in p.message]
    assert problems == []


def test_the_csv_example_loads(tmp_path: Path) -> None:
    (body,) = [body for kind, body in BLOCKS if kind == "csv"]
    path = tmp_path / "kb.csv"
    path.write_text(body, encoding="utf-8")
    knowledge, problems = load_knowledge_base(path)
    assert problems == [] and knowledge is not None
    assert knowledge.match("when are you open")[0].entry.id == "hours"
