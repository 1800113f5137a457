"""The local Docker engine as a host."""

from typing import NotRequired, TypedDict

import pulumi

from components.hosts import local
from components.package.validation import checked


class LocalDockerHostArgs(TypedDict):
    docker_host: NotRequired[str]
    """Engine endpoint (``unix:///var/run/docker.sock``, ``tcp://...``); empty: the engine's default socket.
    DOCKER_HOST and DOCKER_CONTEXT are ignored: the program alone says where it deploys."""


class LocalDockerHost(local.LocalDockerHost):
    """The Docker engine on this machine (or at ``dockerHost``), with a Docker provider for it."""

    address: pulumi.Output[str]
    """The address users reach the published ports on (127.0.0.1)."""
    docker_host: pulumi.Output[str]
    """The engine endpoint the host's Docker provider talks to: what a caller in another language gives its own
    ``docker.Provider`` (``host``) for the resources it adds."""

    def __init__(self, name: str, args: LocalDockerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        endpoint = checked("LocalDockerHost", name, "dockerHost", str, args.get("docker_host", ""))
        super().__init__(name, local.LocalDockerHostArgs(docker_host=endpoint), opts)
        self.docker_host = pulumi.Output.from_input(endpoint or local.default_engine_endpoint())
