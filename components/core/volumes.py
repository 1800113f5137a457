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


class EngineDefaultPlacement:
    """Volumes where the Docker engine keeps them (/var/lib/docker/volumes)."""

    def driver_opts(self, volume_name: str) -> pulumi.Input[Mapping[str, str]] | None:
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
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True, protect=state.protect),
    )
