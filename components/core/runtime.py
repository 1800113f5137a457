"""What runs a service: a container on one Docker engine, or a Swarm service (components/swarm/).

Every long-lived process of the stack is described once, as a ``ServiceSpec``
(components/core/container.py): the App component, the backing services and the proxy
build specs and hand them to a runtime. The single host's runtime (``ENGINE``) makes the
container exactly as ``service_container`` always has; a swarm's runtime turns the same
spec into a ``docker.Service`` with Swarm secrets and configs. So the apps, their
databases and the proxy exist once, whatever they run on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import pulumi
import pulumi_docker as docker

from components.core.container import ServiceSpec, service_container
from components.core.network import Network, NetworkArgs


class ServiceRuntime(Protocol):
    def run(
        self, resource_name: str, spec: ServiceSpec, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.CustomResource:
        """Register what runs ``spec``; it is up (healthy) once the resource is created."""
        ...

    def network(self, args: NetworkArgs) -> NetworkArgs:
        """The network a service of this runtime joins (a bridge on one engine, an overlay on a swarm)."""
        ...

    def network_ref(self, network: Network) -> pulumi.Input[str]:
        """How a service of this runtime names ``network``: a container by name, a Swarm service by id."""
        ...


class EngineRuntime:
    """One Docker engine: a container per service, bridge networks."""

    def run(
        self, resource_name: str, spec: ServiceSpec, parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = ()
    ) -> pulumi.CustomResource:
        return service_container(resource_name, spec, parent=parent, depends_on=depends_on)

    def network(self, args: NetworkArgs) -> NetworkArgs:
        return args

    def network_ref(self, network: Network) -> pulumi.Input[str]:
        return network.name


ENGINE = EngineRuntime()
"""The single host's runtime: the default everywhere, so the single-host graph is what it always was."""


def created_name(resource: pulumi.CustomResource) -> pulumi.Output[str]:
    """The name of what a runtime registered (a container or a service): an output known once it is created."""
    if isinstance(resource, docker.Container | docker.Service):
        return resource.name
    raise TypeError(f"{resource!r} is neither a docker.Container nor a docker.Service")


def overlay(args: NetworkArgs) -> NetworkArgs:
    """``args`` as an encrypted overlay network (IPsec between nodes: Docker's ``--opt encrypted``)."""
    return replace(args, driver="overlay", encrypted=True)
