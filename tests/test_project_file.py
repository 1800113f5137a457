"""Tier 1: Pulumi.yaml declares exactly the keys the settings model reads, with the same defaults."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
import yaml
from pydantic import BaseModel, BeforeValidator, SecretStr

from config.loading import config_keys, settings_from_config
from config.settings import StackSettings
from tests.mockstack import PROJECT_DIR, as_cli_string

PROJECT_FILE = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
DECLARED: dict[str, dict[str, Any]] = PROJECT_FILE["config"]
MINIMAL_APPS = json.dumps({"blog": {"kind": "wordpress", "hostname": "blog.localhost"}})


def test_project_name_is_the_config_namespace() -> None:
    assert PROJECT_FILE["name"] == "selfhost"
    assert PROJECT_FILE["runtime"]["name"] == "python"


def test_every_settings_key_is_declared_and_nothing_else() -> None:
    assert sorted(DECLARED) == sorted(config_keys())


@pytest.mark.parametrize("key", sorted(config_keys()))
def test_declaration_has_description_and_matching_type(key: str) -> None:
    declaration = DECLARED[key]
    assert declaration.get("description"), f"{key} has no description"
    field = StackSettings.model_fields[config_keys()[key]]
    written_as_text = any(isinstance(meta, BeforeValidator) for meta in field.metadata)  # e.g. "128Mi"
    expected = "string" if written_as_text else {int: "integer", bool: "boolean"}.get(field.annotation, "string")  # type: ignore[arg-type]
    if field.is_required():
        # Pulumi's schema has no object type, and a declared key without default is required.
        assert "type" not in declaration and "default" not in declaration
    elif any(isinstance(arg, type) and issubclass(arg, BaseModel) for arg in get_args(field.annotation)):
        # An optional object: untyped (a declared type would be checked against the stack's map and fail),
        # "" meaning unset.
        assert "type" not in declaration and declaration.get("default") == "", key
    else:
        assert declaration.get("type") == expected, f"{key}: {declaration.get('type')} != {expected}"
        assert "default" in declaration, f"{key} needs a default in Pulumi.yaml"


def test_project_defaults_equal_model_defaults() -> None:
    """Load settings from Pulumi.yaml's defaults alone (as the CLI passes them) and compare to the model's."""
    cli = {f"selfhost:{key}": as_cli_string(d["default"]) for key, d in DECLARED.items() if "default" in d}
    from_project = settings_from_config({**cli, "selfhost:apps": MINIMAL_APPS})
    from_model = settings_from_config({"selfhost:apps": MINIMAL_APPS})
    for name in StackSettings.model_fields:
        project_value, model_value = getattr(from_project, name), getattr(from_model, name)
        if isinstance(model_value, SecretStr) or model_value is None:
            assert project_value is None, name
        else:
            assert project_value == model_value, name


def test_dev_stack_file_sets_only_what_differs() -> None:
    dev = yaml.safe_load((PROJECT_DIR / "Pulumi.dev.yaml").read_text())["config"]
    # The apps, and where dev's backups go (a volume on the same engine, components/backups).
    assert set(dev) == {"selfhost:apps", "selfhost:backups"}


def test_the_apps_description_is_the_generated_one_and_names_no_kind() -> None:
    """A new kind leaves Pulumi.yaml alone: the README's kinds table lists the kinds."""
    from components.apps.registry import KINDS
    from config.reference import apps_description

    assert DECLARED["apps"]["description"] == apps_description()
    assert not [name for name in KINDS if name in DECLARED["apps"]["description"]]
