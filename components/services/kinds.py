"""What one backing-service kind provides to the registry (components/services/registry.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components.core.images import ImagePin
from components.core.runtime import ENGINE, ServiceRuntime
from components.core.volumes import StatePolicy
from components.services.spec import Backing, Connection, ServiceSecret

DATA_VOLUME = "data"
"""The suffix of a backing service's data volume (``<prefix>-<app>-db-data``)."""


def volume_host_name(container_name: str, suffix: str) -> str:
    """The Docker name of a backing service's volume: ``<container>-<suffix>``. The one naming rule that
    both the host's preparation (``ServiceKind.volume_names``) and the builders use."""
    return f"{container_name}-{suffix}"


@dataclass(frozen=True)
class Placement:
    """Where an app's backing service goes: its names on the host, its network, its parent."""

    container_name: str
    """``<prefix>-<app>-<role>``; its volumes are ``volume_name(suffix)``."""
    network: pulumi.Input[str]
    """The app's internal network: the only one the service joins."""
    parent: pulumi.Resource
    state: StatePolicy = field(default_factory=StatePolicy)
    runtime: ServiceRuntime = ENGINE
    """What runs its container: one Docker engine, or a swarm (components/core/runtime.py)."""

    def volume_name(self, suffix: str) -> str:
        return volume_host_name(self.container_name, suffix)


@dataclass(frozen=True)
class BuiltService:
    """A registered backing service, as the App component needs it."""

    resource: pulumi.Resource
    """What the app's containers wait for (``Service.depends_on`` its role)."""
    password: pulumi.Output[str]
    volume_names: Sequence[pulumi.Output[str]] = ()
    """Its retained volumes, for the app's ``volumes`` output."""


DumpEngine = Literal["mariadb", "postgres", "mongodb"]


@dataclass(frozen=True)
class StateDump:
    """How the stack's backups take a service's state: a consistent dump, made while it runs by a
    client on the service's own image over the app's internal network (components/backups)."""

    engine: DumpEngine
    image: ImagePin
    extension: str
    """Of the dump file, ``<role>.<extension>`` (``db.sql``)."""


@dataclass(frozen=True)
class ServiceKind:
    port: int
    connection: Callable[[Backing], Connection]
    build: Callable[[str, Backing, Placement], BuiltService]
    volume_suffixes: tuple[str, ...] = ()
    """Its volumes on the host are ``<container_name>-<suffix>`` (``data``): known before any resource,
    so the host can prepare them (``prepare_volumes``) and an app's own volumes cannot collide with them."""
    dump: StateDump | None = None
    """Where the fact "this kind holds state" lives: set, every backup dumps it; added after the
    contract's first version. Its volumes are then covered by the dump, not copied."""
    stateless_reason: str | None = None
    """Why a kind without ``dump`` holds nothing to back up (Redis here: a cache). Exactly one of the two."""

    def __post_init__(self) -> None:
        if (self.dump is None) == (self.stateless_reason is None):
            raise ValueError("a service kind either has a dump (it holds state) or a stateless_reason, not both")
        if self.dump is None and self.volume_suffixes:
            raise ValueError("a service kind with volumes holds state: give it a dump")

    def volume_names(self, container_name: str) -> list[str]:
        return [volume_host_name(container_name, suffix) for suffix in self.volume_suffixes]


def standard_connection(port: int) -> Callable[[Backing], Connection]:
    """The usual facts: the role is the host alias on the app's network, the password the role's."""

    def connection(backing: Backing) -> Connection:
        return Connection(
            host=backing.role,
            port=port,
            user=backing.user,
            database=backing.database,
            password=ServiceSecret(backing.role),
        )

    return connection
