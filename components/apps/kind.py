"""What one app kind registers in the kinds registry (components/apps/registry.py).

A kind is one folder, ``components/apps/<kind>/``, holding its settings model, its pure
``spec()`` and its templates, and exporting ``KIND``; the registry lists every ``KIND``. The
stack's settings union, the config loader, the README's config reference and kinds table,
the ``Pulumi.yaml`` config block and the tests' kind lists all derive from the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from components.apps.spec import AppSpec, Site


@dataclass(frozen=True)
class Kind:
    name: str
    """The value of ``apps.<name>.kind`` in config (``wordpress``)."""
    settings: type[BaseModel]
    """Its settings model: ``kind: Literal[<name>]``, ``hostname``, ``memory`` and
    ``memory_reservation`` (limits and reservations per container role), ``reserved``
    (the effective reservations), and its own options. Rejects unknown keys."""
    spec: Callable[[str, Any, Site], AppSpec]
    """``spec(app_name, settings, site)``: pure."""
    component: str
    """The App component's Pulumi type token (``selfhost:index:WordPress``): part of every child's URN."""
    summary: str
    """One line for the README's table of kinds."""
    example: Mapping[str, object]
    """A minimal app of this kind as it is written in a stack file (camelCase keys)."""
    records: tuple[str, ...] = ()
    """Stack outputs its apps' ``UpgradeGuard`` records into (``nextcloudVersions``): exported by
    every stack, empty without an app of the kind, so adding or removing one changes no output's
    presence. Added after the contract's first version."""
    architectures: frozenset[str] | None = None
    """The CPU architectures its images are built for, as Docker names them (``amd64``, ``arm64``);
    None: all the stack's hosts offer (multi-arch images, or an image the operator chose). The
    Hetzner host refuses a server type of another architecture before any resource."""


class KindSettings(Protocol):
    """What the stack reads of any kind's settings (the rest is the kind's own business)."""

    @property
    def kind(self) -> str: ...
    @property
    def hostname(self) -> str: ...
    @property
    def memory(self) -> BaseModel:
        """Limits, one field per container role."""
        ...

    @property
    def reserved(self) -> BaseModel:
        """Effective reservations, the same fields as ``memory``."""
        ...
