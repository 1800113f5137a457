"""What an app asks of a backing service (``Backing``) and what it gets back (``Connection``): plain data.

Part of the app spec (components/apps/spec.py re-exports them), kept here so that the services
layer depends on nothing above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ServiceSecret:
    """The password of one of this app's backing services (``Backing.role``)."""

    role: str


@dataclass(frozen=True)
class Backing:
    """A backing service the app asks for; the services registry (components/services) builds it
    and tells the app how to reach it (``Connection``)."""

    role: str
    """``db``, ``redis``, ``mongo``: its container, resource and host alias."""
    kind: Literal["mariadb", "postgres", "redis", "mongodb"]
    memory: int
    memory_reservation: int | None = None
    database: str | None = None
    user: str | None = None
    options: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    """Per kind: ``server_args`` (mariadb), ``eviction_policy`` (redis), ``replica_set`` (mongodb)..."""


@dataclass(frozen=True)
class Connection:
    """How an app's containers reach one backing service: pure facts, known before any resource."""

    host: str
    port: int
    user: str | None
    database: str | None
    password: ServiceSecret
    """Mount it as a ``SecretFile`` where the client reads its password file."""
