"""What one backing-service kind provides to the registry (components/services/registry.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pulumi

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


@dataclass(frozen=True)
class ServiceKind:
    port: int
    connection: Callable[[Backing], Connection]
    build: Callable[[str, Backing, Placement], BuiltService]
    volume_suffixes: tuple[str, ...] = ()
    """Its volumes on the host are ``<container_name>-<suffix>`` (``data``): known before any resource,
    so the host can prepare them (``prepare_volumes``) and an app's own volumes cannot collide with them."""

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
