"""What one backing-service kind provides to the registry (components/services/registry.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pulumi

from components.apps.spec import Backing, Connection, ServiceSecret
from components.core.volumes import StatePolicy


@dataclass(frozen=True)
class Placement:
    """Where an app's backing service goes: its names on the host, its network, its parent."""

    container_name: str
    """``<prefix>-<app>-<role>``; a volume of it is ``<prefix>-<app>-<role>-data``."""
    network: pulumi.Input[str]
    """The app's internal network: the only one the service joins."""
    parent: pulumi.Resource
    state: StatePolicy = field(default_factory=StatePolicy)


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
