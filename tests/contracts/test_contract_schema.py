"""The contract file schema documents every key, forbids unknown ones, and the docs mirror it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from sitekeeper.contracts.schema import DEFS, SCHEMA, render_markdown, schema_issues
from tests.contracts.apply_support import EXAMPLE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "contract-file.md"
MARKER = "Do not edit below. -->\n\n"


def objects(schema: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema inside `schema`, with where it is."""
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            yield path, schema
        for key, value in schema.items():
            yield from objects(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for position, value in enumerate(schema):
            yield from objects(value, f"{path}/{position}")


def properties() -> Iterator[tuple[str, dict[str, Any]]]:
    for where, schema in objects(SCHEMA):
        for key, prop in schema.get("properties", {}).items():
            yield f"{where}/{key}", prop
        for key, prop in schema.get("patternProperties", {}).items():
            yield f"{where}/{key}", prop


def test_the_schema_is_valid_draft_2020_12():
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_property_has_a_description_and_examples():
    checked = list(properties())
    assert len(checked) > 80
    for where, prop in checked:
        assert prop.get("description"), f"{where} has no description"
        assert prop.get("examples"), f"{where} has no examples"


@pytest.mark.parametrize(("where", "prop"), list(properties()))
def test_every_example_is_valid(where, prop):
    validator = Draft202012Validator(
        {**prop, "$defs": DEFS}, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for example in prop["examples"]:
        assert not list(validator.iter_errors(example)), f"{where}: example {example!r}"


def test_every_object_forbids_unknown_keys():
    for where, schema in objects(SCHEMA):
        assert schema.get("additionalProperties") is False, where


def test_the_issue_example_is_valid():
    from sitekeeper.contracts.yamlio import loads

    assert schema_issues(loads(EXAMPLE).data) == []


def test_the_docs_contain_the_generated_reference():
    text = DOCS.read_text(encoding="utf-8")
    assert text.split(MARKER, 1)[1] == render_markdown(), (
        "docs/contract-file.md is out of date: python -m sitekeeper.contracts.schema --markdown"
    )


def test_the_docs_mention_every_key():
    text = DOCS.read_text(encoding="utf-8")
    for where, _ in properties():
        key = where.rsplit("/", 1)[1]
        if not key.startswith("^"):
            assert f"`{key}`" in text, where


def test_the_docs_example_is_the_issue_example():
    text = DOCS.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert yaml.safe_load(example) == yaml.safe_load(EXAMPLE)
