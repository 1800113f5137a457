"""The Docker host the stack deploys onto.

A host owns the Docker provider and decides where volumes live. Apps receive the
provider through ``opts`` and the placement through their args, so a new kind of host
slots in without touching them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_docker as docker

from components.volumes import EngineDefaultPlacement, VolumePlacement


class DockerHost(Protocol):
    """What every host offers the rest of the stack."""

    @property
    def provider(self) -> docker.Provider: ...

    @property
    def placement(self) -> VolumePlacement: ...

    @property
    def address(self) -> pulumi.Output[str]:
        """Where users reach the proxy (an IP address or host name)."""
        ...


@dataclass(frozen=True)
class LocalDockerHostArgs:
    docker_host: str = ""
    """Engine endpoint (``unix:///var/run/docker.sock``, ``tcp://...``); empty: DOCKER_HOST or the default socket."""


class LocalDockerHost(pulumi.ComponentResource):
    """The Docker engine on this machine (or at ``docker_host``)."""

    def __init__(self, name: str, args: LocalDockerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:LocalDockerHost", name, None, opts)
        self._docker = docker.Provider(
            f"{name}-docker",
            host=args.docker_host or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._volume_placement = EngineDefaultPlacement()
        self._public_address = pulumi.Output.from_input("127.0.0.1")
        self.register_outputs({"address": self._public_address})

    @property
    def provider(self) -> docker.Provider:
        return self._docker

    @property
    def placement(self) -> VolumePlacement:
        return self._volume_placement

    @property
    def address(self) -> pulumi.Output[str]:
        return self._public_address
