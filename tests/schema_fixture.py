"""A small component package, analyzed in-process the way ``pulumi package add`` infers a schema.

tests/test_components_doc.py renders docs/components.md's tables from the schema Pulumi's own
analyzer (pulumi/provider/experimental/analyzer.py, SDK 3.272) infers for these two components,
so the renderer is checked against the schema format as the SDK writes it, not as we imagine it:
a nested TypedDict and an Enum become ``types`` with ``$ref``s, lists ``items``, dicts
``additionalProperties``, ``NotRequired`` an optional input, ``Output[T | None]`` an optional output.
"""

# No `from __future__ import annotations`: the analyzer reads the annotations as objects.
from enum import Enum
from typing import Any, NotRequired, Optional, TypedDict

import pulumi


class Engine(Enum):
    """Which database server runs."""

    MARIADB = "mariadb"
    """MariaDB 11.8."""
    POSTGRES = "postgres"
    """PostgreSQL 18."""


class LimitsArgs(TypedDict):
    """Resource limits of one container."""

    memory: pulumi.Input[str]
    """Memory limit, e.g. 256Mi."""
    cpus: NotRequired[pulumi.Input[float]]
    """CPU share; unset: no limit."""


class DatabaseArgs(TypedDict):
    network: pulumi.Input[str]
    """Name of the network the server joins | its only one."""
    engine: NotRequired[pulumi.Input[Engine]]
    """The server; MariaDB unless set."""
    databases: NotRequired[pulumi.Input[list[pulumi.Input[str]]]]
    """Databases to create on first start."""
    labels: NotRequired[pulumi.Input[dict[str, pulumi.Input[str]]]]
    """Docker labels."""
    limits: NotRequired[pulumi.Input[LimitsArgs]]
    """Resource limits."""
    protect_data: NotRequired[pulumi.Input[bool]]


class Database(pulumi.ComponentResource):
    """A database server on a network of its own.

    Its data sits on a retained volume."""

    host: pulumi.Output[str]
    """DNS name of the server on the network."""
    port: pulumi.Output[int]
    """TCP port it listens on."""
    volume: pulumi.Output[Optional[str]]  # noqa: UP045 (the analyzer reads typing.Optional)
    """The data volume's name, when it has one."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fixture:index:Database", name, {}, opts)


class CacheArgs(TypedDict):
    memory: pulumi.Input[int]
    """Bytes."""


class Cache(pulumi.ComponentResource):
    """A Redis cache."""

    url: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("fixture:index:Cache", name, {}, opts)


def inferred_schema() -> dict[str, Any]:
    """The package schema Pulumi's analyzer infers for the components above (package ``fixture``)."""
    from pulumi.provider.experimental.analyzer import Analyzer
    from pulumi.provider.experimental.schema import generate_schema

    result = Analyzer("fixture").analyze([Database, Cache])
    schema = generate_schema(
        "fixture",
        "0.1.0",
        None,
        result["component_definitions"],
        result["type_definitions"],
        sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}"),
    )
    spec: dict[str, Any] = schema.to_json()
    return spec
