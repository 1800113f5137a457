"""The backing services an app may ask for (``Backing.kind``): how to reach one, and how to build it.

One entry per kind, each a module of this package exporting a ``ServiceKind``: adding a kind
(MongoDB) is one module and one line below. ``connection()`` is pure, so a kind's spec knows
host, port, user and database before any resource exists; ``build()`` registers the service's
component on the app's internal network.
"""

from __future__ import annotations

from components.services import cache, database, mongodb
from components.services.kinds import BuiltService, Placement, ServiceKind
from components.services.spec import Backing, Connection

SERVICES: dict[str, ServiceKind] = {
    "mariadb": database.MARIADB,
    "postgres": database.POSTGRES,
    "redis": cache.REDIS,
    "mongodb": mongodb.MONGODB,
}

__all__ = ["SERVICES", "BuiltService", "Placement", "ServiceKind", "build", "connection", "volume_names"]


def service_kind(backing: Backing) -> ServiceKind:
    try:
        return SERVICES[backing.kind]
    except KeyError:
        raise ValueError(f"no backing service of kind {backing.kind!r}; known: {', '.join(sorted(SERVICES))}") from None


def connection(backing: Backing) -> Connection:
    """How the app's containers reach ``backing``: pure facts, the same ones ``build`` registers."""
    return service_kind(backing).connection(backing)


def volume_names(backing: Backing, container_name: str) -> list[str]:
    """The host names of ``backing``'s volumes when its container is ``container_name``."""
    return service_kind(backing).volume_names(container_name)


def build(resource_name: str, backing: Backing, placement: Placement) -> BuiltService:
    return service_kind(backing).build(resource_name, backing, placement)
