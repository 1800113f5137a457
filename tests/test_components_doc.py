"""Tier 1: docs/components.md's tables, rendered from a schema Pulumi's own analyzer infers in-process.

tests/schema_fixture.py holds two small components; the analyzer of the Pulumi SDK turns them into a
package schema exactly as it does for the real package, and the renderer must show every input and
output with its type, whether it is required, and its description.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from docsgen.components_doc import render, type_text
from docsgen.markdown import heading_anchor
from tests.schema_fixture import inferred_schema


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return inferred_schema()


@pytest.fixture(scope="module")
def doc(schema: dict[str, Any]) -> str:
    return render(schema, "tests/schema_fixture.py")


def _section(doc: str, heading: str) -> str:
    start = doc.index(f"\n{heading}\n")
    level = heading.split(" ", 1)[0]
    following = re.search(rf"\n#{{1,{len(level)}}} ", doc[start + len(heading) + 2 :])
    return doc[start : start + len(heading) + 2 + following.start()] if following else doc[start:]


def test_the_analyzer_schema_has_the_shape_the_renderer_reads(schema: dict[str, Any]) -> None:
    database = schema["resources"]["fixture:index:Database"]
    assert {"description", "inputProperties", "requiredInputs", "properties", "required"} <= set(database)
    assert database["inputProperties"]["engine"]["$ref"] == "#/types/fixture:index:Engine"


def test_every_input_and_output_is_a_row_with_type_required_and_description(schema: dict[str, Any], doc: str) -> None:
    for token, resource in schema["resources"].items():
        section = _section(doc, f"## {token.rsplit(':', 1)[-1]}")
        assert f"`{token}`" in section
        inputs, outputs = section.split("### Outputs")
        for name, prop in resource["inputProperties"].items():
            row = next(line for line in inputs.splitlines() if line.startswith(f"| `{name}` |"))
            required = "yes" if name in resource["requiredInputs"] else "no"
            assert f"| {type_text(prop, schema['types'])} | {required} |" in row
            assert (prop.get("description") or "").replace("|", "\\|") in row
        for name, prop in resource["properties"].items():
            row = next(line for line in outputs.splitlines() if line.startswith(f"| `{name}` |"))
            assert f"| {'yes' if name in resource['required'] else 'no'} |" in row
            assert (prop.get("description") or "") in row


def test_rows_say_what_the_fixture_declares(doc: str) -> None:
    assert "| `network` | string | yes | Name of the network the server joins \\| its only one. |" in doc
    assert "| `engine` | [Engine](#engine) | no | The server; MariaDB unless set. |" in doc
    assert "| `databases` | list of string | no |" in doc
    assert "| `labels` | map of string | no |" in doc
    assert "| `protectData` | boolean | no |  |" in doc  # no docstring: an empty cell, not a missing row
    assert "| `volume` | string | no | The data volume's name, when it has one. |" in doc
    assert "| `port` | integer | yes | TCP port it listens on. |" in doc
    assert "| `cpus` | number | no | CPU share; unset: no limit. |" in _section(doc, "### LimitsArgs")
    assert "| `postgres` | POSTGRES | PostgreSQL 18. |" in _section(doc, "### Engine")
    # A multi-line class docstring becomes paragraphs, its indentation gone.
    assert "A database server on a network of its own.\n\nIts data sits on a retained volume." in doc


def test_every_link_has_its_heading(doc: str) -> None:
    headings = {heading_anchor(h) for h in re.findall(r"^#+ (.+)$", doc, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", doc))
    assert links and links <= headings


def test_required_outputs_under_either_name() -> None:
    """``required`` is what the analyzer writes; ``requiredOutputs`` is read as well."""
    resource = {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "requiredOutputs": ["b"]}
    text = render({"name": "p", "resources": {"p:index:X": resource}}, "s.json")
    assert "| `a` | string | no |" in text and "| `b` | integer | yes |" in text


def test_types_from_other_packages_and_builtins() -> None:
    types: dict[str, Any] = {}
    assert type_text({"$ref": "pulumi.json#/Any"}, types) == "any"
    assert type_text({"$ref": "pulumi.json#/Asset"}, types) == "asset"
    ref = "/docker/v4.6.0/schema.json#/resources/docker:index/network:Network"
    assert type_text({"$ref": ref}, types) == "`docker:index/network:Network`"
    nested = {"type": "array", "items": {"type": "object", "additionalProperties": {"type": "number"}}}
    assert type_text(nested, types) == "list of map of number"
