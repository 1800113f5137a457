"""The local Docker engine as a host."""

from typing import NotRequired, TypedDict

import pulumi

from components.hosts import local
from components.package.validation import checked


class LocalDockerHostArgs(TypedDict):
    docker_host: NotRequired[str]
    """Engine endpoint (``unix:///var/run/docker.sock``, ``tcp://...``); empty: the default socket (not DOCKER_HOST)."""


class LocalDockerHost(local.LocalDockerHost):
    """The Docker engine on this machine (or at ``dockerHost``), with a Docker provider for it."""

    address: pulumi.Output[str]
    """The address users reach the published ports on (127.0.0.1)."""
    docker_host: pulumi.Output[str]
    """The engine endpoint of the host's Docker provider: the ``host`` of a ``docker.Provider`` of your own."""

    def __init__(self, name: str, args: LocalDockerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        endpoint = checked("LocalDockerHost", name, "dockerHost", str, args.get("docker_host", ""))
        super().__init__(name, local.LocalDockerHostArgs(docker_host=endpoint), opts)
        self.docker_host = pulumi.Output.from_input(endpoint or local.default_engine_endpoint())
