"""Docker networks: the edge network (proxy to apps) and each app's internal backend."""

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


class Network(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:Network", name, None, opts)
        network = docker.Network(
            f"{name}-network",
            name=args.network_name,
            driver="bridge",
            internal=args.internal,
            ipam_configs=[docker.NetworkIpamConfigArgs(subnet=args.subnet)] if args.subnet else None,
            labels=[docker.NetworkLabelArgs(label="io.selfhost.internal", value=str(args.internal).lower())],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = network.name
        self.register_outputs({"name": self.name})
