"""Docker networks: the edge network (proxy to apps) and each app's internal backend.

A network can change only by replacement: every ``docker_network`` input is ForceNew
(terraform-provider-docker v4.5.0 ``internal/provider/resource_docker_network.go``). Pulumi's
default, create the new one before deleting the old, cannot work here: the name is fixed
(the engine refuses a second network of that name) and a new subnet may overlap the old one
(the engine refuses overlapping pools). Deleting first cannot work on its own either: the
engine refuses to remove a network with containers attached.

So networks are replaced delete-first, and the engine takes the attached containers with
them: before a delete-before-replace, Pulumi deletes every dependent that the change would
replace (pulumi/pulumi ``pkg/resource/deploy/step_generator.go``,
``calculateDependentReplacements``: a dependent whose inputs take an output of the replaced
resource is diffed with those inputs unknown). Containers take the network's ``name``
output into ``networks_advanced``, which is ForceNew (``resource_docker_container.go``): they
are deleted first, then the network is replaced, then they are created on the new one.
Nothing stateful takes an output of a network, so no volume and no password is touched
(tests/test_networks.py checks the graph; tests/test_networks_live.py the engine's refusals
and the order on a real engine; tests/test_networks_provider_live.py that the real provider
answers "replace" for a container whose network name is unknown, and reads the network
back equal to these inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker


@dataclass(frozen=True)
class NetworkArgs:
    network_name: str
    internal: bool
    """Internal networks have no route out: databases and caches live on them."""
    subnet: str | None = None
    """A fixed subnet, for networks whose address range other settings depend on."""
    driver: str = "bridge"
    """``overlay`` on a swarm (components/core/runtime.py ``overlay``): the network spans the nodes."""
    encrypted: bool = False
    """Overlay only: traffic between nodes in IPsec (libnetwork's overlay driver turns it on when the
    ``encrypted`` option is present, whatever its value; sent as ``"true"``, never empty: Terraform's SDK
    has dropped empty map values, hashicorp/terraform#19757)."""


class Network(pulumi.ComponentResource):
    name: pulumi.Output[str]
    network_id: pulumi.Output[str]
    """The engine's id: what a Swarm service names its networks by (by name the provider replaces it on every run)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:Network", name, None, opts)
        network = docker.Network(
            f"{name}-network",
            name=args.network_name,
            driver=args.driver,
            internal=args.internal,
            options={"encrypted": "true"} if args.encrypted else None,
            ipam_configs=[docker.NetworkIpamConfigArgs(subnet=args.subnet)] if args.subnet else None,
            labels=[docker.NetworkLabelArgs(label="io.selfhost.internal", value=str(args.internal).lower())],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.name = network.name
        self.network_id = network.id
        self.register_outputs({"name": self.name})
