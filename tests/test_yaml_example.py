"""Tier 1: examples/yaml, a Pulumi YAML program on the component package, against the committed schema.

No Pulumi CLI here, so the program is not run: every ``selfhost:index:*`` resource it declares
must be a resource of provider/schema.json, every property it sets an input of that resource
(nested objects and enum values too), every required input given, and every output it reads
an output of the resource. The package it names is this repository's provider/ at the current tag.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.mockstack import PROJECT_DIR
from tests.test_version import package_version

PROGRAM = yaml.safe_load((PROJECT_DIR / "examples" / "yaml" / "Pulumi.yaml").read_text())
SCHEMA = json.loads((PROJECT_DIR / "provider" / "schema.json").read_text())
REFERENCE = re.compile(r"\$\{(\w+)\.(\w+)\}")


def selfhost_resources() -> dict[str, dict[str, Any]]:
    return {name: r for name, r in PROGRAM["resources"].items() if r["type"].startswith("selfhost:")}


def problems_of(value: Any, prop: dict[str, Any], where: str) -> list[str]:
    """What is wrong with ``value`` for the schema property ``prop`` (interpolations are left to the engine)."""
    if isinstance(value, str) and value.startswith("${"):
        return [f"{where}: a plain input cannot take {value}"] if prop.get("plain") and "." in value else []
    ref = prop.get("$ref", "")
    if ref.startswith("#/types/"):
        definition = SCHEMA["types"][ref.removeprefix("#/types/")]
        if "enum" in definition:
            allowed = [member["value"] for member in definition["enum"]]
            return [] if value in allowed else [f"{where}: {value!r} is not one of {allowed}"]
        if not isinstance(value, dict):
            return [f"{where}: an object of {sorted(definition['properties'])}"]
        found = [f"{where}.{key}: no such property" for key in value if key not in definition["properties"]]
        found += [f"{where}.{key}: required" for key in definition.get("required", []) if key not in value]
        for key, item in value.items():
            if key in definition["properties"]:
                found += problems_of(item, definition["properties"][key], f"{where}.{key}")
        return found
    kinds = {"string": str, "integer": int, "boolean": bool, "number": (int, float), "array": list, "object": dict}
    expected: Any = kinds.get(prop.get("type", ""), object)
    return [] if isinstance(value, expected) else [f"{where}: {value!r} is not a {prop.get('type')}"]


def test_it_names_this_package_at_the_current_tag() -> None:
    assert PROGRAM["runtime"] == "yaml"
    assert PROGRAM["packages"] == {"selfhost": f"github.com/<owner>/selfhost/provider@v{package_version()}"}


def test_it_uses_the_package_s_components() -> None:
    assert {r["type"] for r in selfhost_resources().values()} >= {"selfhost:index:Database", "selfhost:index:WordPress"}


@pytest.mark.parametrize("name", sorted(selfhost_resources()))
def test_every_property_is_an_input_of_the_schema_and_required_ones_are_given(name: str) -> None:
    declared = selfhost_resources()[name]
    resource = SCHEMA["resources"].get(declared["type"])
    assert resource is not None, f"{declared['type']} is not in provider/schema.json"
    properties = declared.get("properties", {})
    problems = [f"{key}: not an input" for key in properties if key not in resource["inputProperties"]]
    problems += [f"{key}: required" for key in resource.get("requiredInputs", []) if key not in properties]
    for key, value in properties.items():
        if key in resource["inputProperties"]:
            problems += problems_of(value, resource["inputProperties"][key], key)
    assert not problems, problems
    assert set(declared.get("options", {}).get("providers", {})) <= {"docker"}


def test_every_output_it_reads_is_an_output_of_the_schema() -> None:
    resources = selfhost_resources()
    read = [REFERENCE.fullmatch(value) for value in PROGRAM["outputs"].values()]
    assert all(read), PROGRAM["outputs"]
    for match in read:
        assert match is not None
        resource, output = match.groups()
        assert resource in resources, f"{resource} is not a selfhost resource of the program"
        assert output in SCHEMA["resources"][resources[resource]["type"]]["properties"], f"{resource}.{output}"


def test_the_checker_sees_a_wrong_program() -> None:
    resource = SCHEMA["resources"]["selfhost:index:WordPress"]["inputProperties"]
    assert problems_of({"app": "1Gi", "ap": "1Gi"}, resource["memory"], "memory") == ["memory.ap: no such property"]
    assert problems_of("8080", resource["publicPort"], "publicPort") == ["publicPort: '8080' is not a integer"]
    database = SCHEMA["resources"]["selfhost:index:Database"]["inputProperties"]
    assert problems_of("mysql", database["engine"], "engine")
    assert problems_of("${tools.host}", database["user"], "user")
