"""Database (MariaDB or PostgreSQL) and Cache (Redis) on a network of the caller's."""

from collections.abc import Mapping
from enum import Enum
from typing import Any, NotRequired, TypedDict

import pulumi

from components.core.fields import MemorySize
from components.core.volumes import StatePolicy
from components.package.validation import DATABASE_IDENTIFIER, DNS_ALIAS, DOCKER_NAME, checked, require
from components.services import cache, database


class DatabaseEngine(Enum):
    """The database server: the pinned official image of components/core/images.py."""

    MARIADB = "mariadb"
    """MariaDB 11.8."""
    POSTGRES = "postgres"
    """PostgreSQL 18."""


class EvictionPolicy(Enum):
    """What Redis does when it reaches its maxmemory."""

    ALLKEYS_LRU = "allkeys-lru"
    """Evict the least recently used key: a pure cache."""
    NOEVICTION = "noeviction"
    """Refuse writes: Redis holds locks (Nextcloud's file locks) that must never be evicted."""


def _value(value: object) -> object:
    """An enum member's value (what the provider hands over), or the plain value a Python caller wrote."""
    return value.value if isinstance(value, Enum) else value


class DatabaseArgs(TypedDict):
    engine: DatabaseEngine
    """``mariadb`` (11.8) or ``postgres`` (18): the pinned official image."""
    network: pulumi.Input[str]
    """Name or id of the Docker network the server joins, and only that one (an internal network of the app)."""
    database_name: str
    """Database the image creates on first start: a lower-case letter, then letters, digits or ``_`` (32 at most)."""
    user: str
    """Its owner (the same rule); the password is generated and kept in state as a secret."""
    container_name: NotRequired[str]
    """Docker name of the container; default: the resource name."""
    volume_name: NotRequired[str]
    """Docker volume of the data directory, retained when the stack is deleted; default: ``<containerName>-data``."""
    memory: NotRequired[str]
    """Memory limit, e.g. ``512Mi`` (whole Mi, at least 32Mi); default 512Mi."""
    memory_reservation: NotRequired[str]
    """Docker's memory reservation, e.g. ``256Mi``; default none."""
    server_args: NotRequired[list[str]]
    """Extra server flags, e.g. ``--transaction-isolation=READ-COMMITTED``."""
    host_alias: NotRequired[str]
    """Its DNS name on the network; default ``db``."""
    protect: NotRequired[bool]
    """Protect the volume and the password from deletion (``pulumi destroy`` stops at them)."""


DEFAULT_MEMORY = "512Mi"


def database_args(name: str, args: Mapping[str, Any]) -> database.DatabaseArgs:
    """The library's args from the package's inputs, every value checked first."""
    component = "Database"
    engine = _value(require(component, name, args, "engine"))
    checked(component, name, "engine", database.Engine, engine)
    container_name = checked(component, name, "containerName", DOCKER_NAME, args.get("container_name") or name)
    reservation = args.get("memory_reservation")
    return database.DatabaseArgs(
        engine="mariadb" if engine == "mariadb" else "postgres",
        container_name=container_name,
        volume_name=checked(
            component, name, "volumeName", DOCKER_NAME, args.get("volume_name") or f"{container_name}-data"
        ),
        network=require(component, name, args, "network"),  # type: ignore[arg-type]
        database_name=checked(
            component, name, "databaseName", DATABASE_IDENTIFIER, require(component, name, args, "database_name")
        ),
        user=checked(component, name, "user", DATABASE_IDENTIFIER, require(component, name, args, "user")),
        memory_bytes=checked(component, name, "memory", MemorySize, args.get("memory", DEFAULT_MEMORY)),
        memory_reservation_bytes=None
        if reservation is None
        else checked(component, name, "memoryReservation", MemorySize, reservation),
        server_args=tuple(checked(component, name, "serverArgs", list[str], args.get("server_args", []))),
        host_alias=checked(component, name, "hostAlias", DNS_ALIAS, args.get("host_alias", "db")),
        state=StatePolicy(protect=checked(component, name, "protect", bool, args.get("protect", False))),
    )


class Database(database.Database):
    """A MariaDB or PostgreSQL server with its data on a retained named volume and a generated password."""

    host: pulumi.Output[str]
    """Its DNS name on the network (``hostAlias``)."""
    port: pulumi.Output[int]
    """3306 (MariaDB) or 5432 (PostgreSQL)."""
    database_name: pulumi.Output[str]
    """The database the image created."""
    user: pulumi.Output[str]
    """Its owner."""
    password: pulumi.Output[str]
    """The owner's generated password (secret)."""
    volume_name: pulumi.Output[str]
    """The Docker volume of the data directory."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, database_args(name, args), opts)


class CacheArgs(TypedDict):
    network: pulumi.Input[str]
    """Name or id of the Docker network Redis joins, and only that one."""
    container_name: NotRequired[str]
    """Docker name of the container; default: the resource name."""
    memory: NotRequired[str]
    """Memory limit, e.g. ``64Mi`` (whole Mi, at least 32Mi); Redis's maxmemory is three quarters of it."""
    memory_reservation: NotRequired[str]
    """Docker's memory reservation; default none."""
    eviction_policy: NotRequired[EvictionPolicy]
    """``allkeys-lru`` (a pure cache, the default) or ``noeviction`` (Redis holds locks, as for Nextcloud)."""
    host_alias: NotRequired[str]
    """Its DNS name on the network; default ``redis``."""


def cache_args(name: str, args: Mapping[str, Any]) -> cache.CacheArgs:
    component = "Cache"
    policy = _value(args.get("eviction_policy", "allkeys-lru"))
    policy = checked(component, name, "evictionPolicy", cache.EvictionPolicy, policy)
    reservation = args.get("memory_reservation")
    return cache.CacheArgs(
        container_name=checked(component, name, "containerName", DOCKER_NAME, args.get("container_name") or name),
        network=require(component, name, args, "network"),  # type: ignore[arg-type]
        memory_bytes=checked(component, name, "memory", MemorySize, args.get("memory", "64Mi")),
        memory_reservation_bytes=None
        if reservation is None
        else checked(component, name, "memoryReservation", MemorySize, reservation),
        eviction_policy=policy,
        host_alias=checked(component, name, "hostAlias", DNS_ALIAS, args.get("host_alias", "redis")),
    )


class Cache(cache.Cache):
    """Redis as a pure cache: password-protected, no persistence, on one network."""

    host: pulumi.Output[str]
    """Its DNS name on the network (``hostAlias``)."""
    port: pulumi.Output[int]
    """6379."""
    password: pulumi.Output[str]
    """The generated password (secret)."""

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, cache_args(name, args), opts)
