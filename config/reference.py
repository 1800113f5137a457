"""The README's config reference and Pulumi.yaml's ``config:`` block, generated from the settings models.

The models' field descriptions are the one source of every key's description: the README's tables
show them as written, Pulumi.yaml as sentences. ``python -m docsgen --write`` writes both files
(``--check`` fails on drift; tests/test_docs_generated.py runs it), ``python -m config.reference``
prints the Markdown tables.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, BeforeValidator, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components.apps.kind import Kind
from components.apps.registry import KINDS
from components.core.units import format_memory
from config.hetzner import HetznerSettings
from config.settings import StackSettings
from config.swarm import SwarmNodeSettings, SwarmSettings

BEGIN = "<!-- config-reference:begin (generated from config/settings.py by `python -m docsgen --write`) -->"
END = "<!-- config-reference:end -->"


def _is_memory(field: FieldInfo) -> bool:
    return any(isinstance(meta, BeforeValidator) for meta in field.metadata)


def _strip_annotated(annotation: Any) -> Any:
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def _type_name(field: FieldInfo) -> str:
    if _is_memory(field):
        return "memory size"
    annotation = field.annotation
    if typing.get_origin(annotation) is list:
        item = _strip_annotated(typing.get_args(annotation)[0])
        return f"list of { {int: 'integer', bool: 'boolean', str: 'string'}.get(item, str(item)) }"
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(str(arg) for arg in typing.get_args(annotation))
    if typing.get_origin(annotation) is dict:
        return "map"
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if SecretStr in args:
        return "secret string"
    if args:
        annotation = _strip_annotated(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {int: "integer", bool: "boolean", str: "string"}.get(annotation, str(annotation))  # type: ignore[arg-type]


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return "see below"
    value: Any = field.default
    if value is None or value is PydanticUndefined:
        return "—"
    if _is_memory(field):
        return f"`{format_memory(value)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f'`"{value}"`' if value == "" else f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        rows.append(f"| `{key}` | {_type_name(field)} | {_default(field)} | {field.description or ''} |")
        nested = [a for a in typing.get_args(field.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            nested = [field.annotation]
        for submodel in nested:
            rows.extend(_rows(submodel, f"{key}."))
    return rows


def _table(rows: list[str]) -> str:
    return "\n".join(["| key | type | default | description |", "|---|---|---|---|", *rows])


def kinds_table(kinds: Mapping[str, Kind] = KINDS) -> str:
    """The README's table of app kinds, each with a minimal example as written in a stack file."""
    rows = [
        f"| `{name}` | {kind.summary} | `{json.dumps(dict(kind.example), separators=(', ', ': '))}` |"
        for name, kind in kinds.items()
    ]
    return "\n".join(["| kind | what it runs | example (`apps.<name>`) |", "|---|---|---|", *rows])


def _sentence(text: str) -> str:
    """A model's description (``host port where ...``) as Pulumi.yaml writes it: ``Host port where ....``"""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def project_description(field: FieldInfo) -> str:
    """Pulumi.yaml's description of one top-level key: the model's, as a sentence, saying when it is required."""
    return _sentence(field.description or "") + (" Required." if field.is_required() else "")


def apps_description(kinds: Mapping[str, Kind] = KINDS) -> str:
    """Pulumi.yaml's description of ``apps``.

    It names no kind, so a new kind leaves Pulumi.yaml as it is; the README's kinds table (generated
    from the registry) lists them. ``kinds`` stays a parameter for the tests' throwaway registries."""
    del kinds
    return project_description(StackSettings.model_fields["apps"])


PROJECT_CONFIG_HEADER = (
    "# Generated from config/settings.py by `python -m docsgen --write` (edit the descriptions there).\n"
    "# Every key of the selfhost: namespace (written here without it), with the model's defaults.\n"
    "# Pulumi's project schema has no object type, so `apps` (a map) is declared without one and\n"
    "# validated by config/settings.py; `hetzner`, an optional map, is declared without a type and\n"
    '# with "" (unset) as its default.\n'
)


def _project_type(field: FieldInfo) -> str:
    if _is_memory(field):
        return "string"  # written with a unit: "128Mi"
    return {int: "integer", bool: "boolean"}.get(field.annotation, "string")  # type: ignore[arg-type]


def _project_default(field: FieldInfo) -> str:
    """The default as YAML: strings always quoted (an unquoted ``off`` would be YAML 1.1's false)."""
    value: Any = field.default
    if value is None:
        return '""'  # an unset secret: the CLI passes "", which config/loading.py reads as unset
    if isinstance(value, bool):
        return str(value).lower()
    if _is_memory(field):
        return json.dumps(format_memory(value))
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def _is_object(field: FieldInfo) -> bool:
    return any(isinstance(arg, type) and issubclass(arg, BaseModel) for arg in typing.get_args(field.annotation))


def project_config() -> str:
    """Pulumi.yaml's ``config:`` block (to the end of the file): every top-level key of StackSettings."""
    lines = [PROJECT_CONFIG_HEADER.rstrip("\n"), "config:"]
    for name, field in StackSettings.model_fields.items():
        lines += [f"  {field.alias or name}:"]
        description = f"    description: {json.dumps(project_description(field), ensure_ascii=False)}"
        if field.is_required():
            lines += [description]  # Pulumi: a declared key without a default is required
        elif _is_object(field):
            lines += [description, '    default: ""']
        else:
            lines += [f"    type: {_project_type(field)}", description, f"    default: {_project_default(field)}"]
    return "\n".join(lines) + "\n"


def reference(kinds: Mapping[str, Kind] = KINDS) -> str:
    top = [row for row in _rows(StackSettings, "") if not row.startswith(("| `apps.", "| `hetzner.", "| `swarm."))]
    sections = [
        "Top-level keys (`pulumi config set <key> <value>`; objects in the stack file):",
        _table(top),
        "`hetzner`, with `host: hetzner` only (see docs/hetzner.md):",
        _table(_rows(HetznerSettings, "hetzner.")),
        "`swarm`, with `host: swarm` only (see docs/swarm.md):",
        _table(_rows(SwarmSettings, "swarm.")),
        "Each `swarm.nodes.<name>`:",
        _table(_rows(SwarmNodeSettings, "swarm.nodes.<name>.")),
        "App kinds (`apps.<name>.kind`; docs/apps.md has more on each):",
        kinds_table(kinds),
    ]
    for name, kind in kinds.items():
        sections += [f"Each `apps.<name>` with `kind: {name}`:", _table(_rows(kind.settings, "apps.<name>."))]
    sections.append(
        "Memory sizes are strings with a binary unit: `512Mi`, `2Gi` (Docker's `512m`, `2g` mean the same)."
    )
    return "\n\n".join([BEGIN, *sections, END])


if __name__ == "__main__":
    print(reference())
