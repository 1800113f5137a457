"""An app's backing services: its internal network, with its own database and Redis on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.apps.context import AppContext
from components.core.network import Network, NetworkArgs
from components.services.cache import Cache, CacheArgs, EvictionPolicy
from components.services.database import Database, DatabaseArgs, Engine


@dataclass(frozen=True)
class BackingArgs:
    app_name: str
    context: AppContext
    engine: Engine
    database_name: str
    database_user: str
    database_memory_bytes: int
    cache_memory_bytes: int
    database_memory_reservation_bytes: int | None = None
    cache_memory_reservation_bytes: int | None = None
    eviction_policy: EvictionPolicy = "allkeys-lru"
    server_args: Sequence[str] = ()


@dataclass(frozen=True)
class BackingServices:
    network: Network
    """Internal: no route out, and no other app's containers on it."""
    database: Database
    cache: Cache


def backing_services(owner: pulumi.Resource, name: str, args: BackingArgs) -> BackingServices:
    """Create them as children of the app component ``owner``, named ``<name>-backend|db|redis``."""
    child = pulumi.ResourceOptions(parent=owner)

    def named(role: str) -> str:
        return args.context.resource_name(args.app_name, role)

    network = Network(f"{name}-backend", NetworkArgs(network_name=named("backend"), internal=True), child)
    database = Database(
        f"{name}-db",
        DatabaseArgs(
            engine=args.engine,
            container_name=named("db"),
            volume_name=named("db-data"),
            network=network.name,
            database_name=args.database_name,
            user=args.database_user,
            memory_bytes=args.database_memory_bytes,
            memory_reservation_bytes=args.database_memory_reservation_bytes,
            state=args.context.state,
            server_args=args.server_args,
        ),
        child,
    )
    cache = Cache(
        f"{name}-redis",
        CacheArgs(
            container_name=named("redis"),
            network=network.name,
            memory_bytes=args.cache_memory_bytes,
            memory_reservation_bytes=args.cache_memory_reservation_bytes,
            eviction_policy=args.eviction_policy,
        ),
        child,
    )
    return BackingServices(network=network, database=database, cache=cache)
