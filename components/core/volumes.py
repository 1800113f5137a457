"""Named volumes for every piece of state, and where a host puts them.

A host decides placement (the local engine's default directory, or a directory on an
attached cloud volume); apps only ask for a volume by name and purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import pulumi
import pulumi_docker as docker


class VolumePlacement(Protocol):
    """Where a host keeps a named volume's data."""

    def driver_opts(self, volume_name: str) -> pulumi.Input[Mapping[str, str]] | None:
        """Options for Docker's local volume driver, or None for the engine's default place."""
        ...

    def engine(self, volume_name: str) -> pulumi.ProviderResource | None:
        """The provider of the engine the volume lives on; None: the one its parent uses."""
        ...


class PreparedPlacement:
    """The placement a host returns from ``prepare_volumes``: exactly the volumes it prepared.

    Asking for any other volume is a programming error in the composition (a volume the host
    was not told about would be created without its directory on the host's data disk, i.e.
    on the server's root disk, and vanish with the server), so it fails loudly instead.
    """

    def __init__(
        self,
        options: Mapping[str, pulumi.Input[Mapping[str, str]] | None],
        engines: Mapping[str, pulumi.ProviderResource] | None = None,
    ) -> None:
        self._options = dict(options)
        self._engines = dict(engines or {})

    def engine(self, volume_name: str) -> pulumi.ProviderResource | None:
        """The Docker provider of the engine that holds ``volume_name`` (a swarm node's), or None: the
        parent's. On a swarm each node keeps its own volumes, so each is made through that node's engine."""
        return self._engines.get(volume_name)

    @property
    def volume_names(self) -> list[str]:
        return sorted(self._options)

    def driver_opts(self, volume_name: str) -> pulumi.Input[Mapping[str, str]] | None:
        if volume_name not in self._options:
            raise ValueError(
                f"volume {volume_name!r} was not prepared by the host: the composition must pass every "
                f"volume name to prepare_volumes (prepared: {', '.join(self.volume_names) or 'none'})"
            )
        return self._options[volume_name]


class EngineDefaultPlacement:
    """Volumes where the Docker engine keeps them (/var/lib/docker/volumes)."""

    def driver_opts(self, volume_name: str) -> pulumi.Input[Mapping[str, str]] | None:
        return None

    def engine(self, volume_name: str) -> pulumi.ProviderResource | None:
        return None


@dataclass(frozen=True)
class StatePolicy:
    """How the stack treats state: where volumes live and whether they are protected.

    Volumes are always retained on delete: `pulumi destroy` never deletes data.
    """

    placement: VolumePlacement = field(default_factory=EngineDefaultPlacement)
    protect: bool = False


def data_volume(
    resource_name: str,
    volume_name: str,
    state: StatePolicy,
    parent: pulumi.Resource,
) -> docker.Volume:
    """A named volume, retained when the stack is deleted, protected when the stack says so."""
    return docker.Volume(
        resource_name,
        name=volume_name,
        driver="local",
        driver_opts=state.placement.driver_opts(volume_name),
        labels=[docker.VolumeLabelArgs(label="io.selfhost.state", value="true")],
        opts=pulumi.ResourceOptions(
            parent=parent, retain_on_delete=True, protect=state.protect, provider=state.placement.engine(volume_name)
        ),
    )
