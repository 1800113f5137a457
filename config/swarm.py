"""Settings of a Docker Swarm of Hetzner servers (``host: swarm``), and where each app runs on it.

Every server is a swarm node with a role (one manager, or three for a manager quorum; any
number of workers). Each node has its own Hetzner Volume holding the Docker volumes of the
apps placed on it, so an app stays on its node: ``swarm.placement`` pins an app to a node,
and the apps not pinned are spread by capacity (``place_apps``). The capacity and
architecture checks are config/hetzner.py's, run once per node on what is placed there.
docs/swarm.md describes the whole.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from components.core.fields import DNS_LABEL, ConfigModel, MemorySize
from config.hetzner import (
    LOCATIONS,
    MIN_DEBIAN,
    SERVER_TYPES,
    ServerType,
    SshCidr,
    SshPublicKey,
    _check_image,
    _check_labels,
    _check_location,
    _check_server_type,
    _required_list,
    allowed_architectures,
    architecture_problem,
    capacity_problem,
    required_memory,
    ssh_key_identity,
)
from config.memory import MemoryBudget, total_reservation

MANAGER_COUNTS = (1, 3)
"""Raft needs a majority of managers: 1 (no fault tolerance) or 3 (survives the loss of one). Two
managers are worse than one (losing either stops the swarm's control plane); five is beyond this
stack's size (docs.docker.com, "Administer and maintain a swarm of Docker Engines")."""
LOCAL_NODE = "local"
"""The one node of ``host: local-swarm``: the local engine as a single-node swarm."""


def _check_node_name(value: str) -> str:
    if not DNS_LABEL.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a node name: use 1-63 lower-case letters, digits and inner hyphens "
            "(the server's name at Hetzner is <project>-<stack>-<node>, the node's label in the swarm is <node>)"
        )
    return value


def _check_private_network(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a CIDR network ({error}); write e.g. 10.20.0.0/16") from None
    if not isinstance(network, ipaddress.IPv4Network) or not network.is_private or network.prefixlen > 24:
        raise ValueError(f"{value!r} must be a private IPv4 network of /24 or larger, e.g. 10.20.0.0/16")
    return value


NodeName = Annotated[str, AfterValidator(_check_node_name)]


class SwarmNodeSettings(ConfigModel):
    """``swarm.nodes.<name>``: one Hetzner server of the swarm."""

    role: Literal["manager", "worker"] = Field(
        description="manager (runs the swarm's control plane; 1 or 3 of them) or worker"
    )
    server_type: Annotated[str, AfterValidator(_check_server_type)] = Field(
        default="cx33", description="Hetzner server type of this node (config/hetzner.py has the table)"
    )
    location: Annotated[str, AfterValidator(_check_location)] | None = Field(
        default=None, description="Hetzner location of this node and its volume; unset: swarm.location"
    )
    labels: Annotated[dict[str, str], AfterValidator(_check_labels)] = Field(
        default={}, description="Hetzner labels on this node's server and volume (on top of swarm.labels)"
    )
    volume_size_gb: int = Field(
        default=50, ge=10, le=10240, description="size of this node's data volume in GB (it can grow, never shrink)"
    )
    edge: bool = Field(
        default=False,
        description="runs the proxy, publishing httpPort/httpsPort on this node; none set: the first manager",
    )

    @property
    def server(self) -> ServerType:
        return SERVER_TYPES[self.server_type]


class SwarmSettings(ConfigModel):
    """``selfhost:swarm``: the servers of the swarm, their network and where the apps run (host=swarm only)."""

    ssh_public_keys: Annotated[
        list[SshPublicKey],
        _required_list("OpenSSH public key", "['ssh-ed25519 AAAA... you@laptop']", ssh_key_identity),
    ] = Field(description="OpenSSH public keys allowed to log in as root on every node")
    admin_cidrs: Annotated[list[SshCidr], _required_list("network allowed to reach SSH", "['203.0.113.7/32']")] = Field(
        description="networks allowed to reach SSH (port 22) on every node"
    )
    nodes: dict[NodeName, SwarmNodeSettings] = Field(
        min_length=1, description="the servers: a map of node name to {role, serverType, ...}"
    )
    placement: dict[str, NodeName] = Field(
        default={},
        description="app name -> the node it runs on (its volumes live there); apps not listed are spread by capacity",
    )
    moved: list[str] = Field(
        default=[],
        description=(
            'apps whose volumes you have copied to the node they are now placed on (docs/swarm.md, "Moving an '
            'app"): the next deploy may run them elsewhere than the last one; remove the entry afterwards'
        ),
    )
    location: Annotated[str, AfterValidator(_check_location)] = Field(
        default="fsn1", description="Hetzner location of the nodes that set none, and of the private network's zone"
    )
    image: Annotated[str, AfterValidator(_check_image)] = Field(
        default=f"debian-{MIN_DEBIAN}", description="Debian image every node boots"
    )
    private_network: Annotated[str, AfterValidator(_check_private_network)] = Field(
        default="10.20.0.0/16",
        description="IP range of the Hetzner private network; the nodes get addresses in its first /24",
    )
    labels: Annotated[dict[str, str], AfterValidator(_check_labels)] = Field(
        default={}, description="Hetzner labels put on every Hetzner resource of the swarm"
    )
    memory_reserve: MemorySize = Field(
        default=768 * 1024**2,
        description="memory kept on each node for the OS, dockerd and the swarm agent in the capacity check",
    )

    @model_validator(mode="after")
    def _managers(self) -> SwarmSettings:
        managers = self.managers
        if len(managers) not in MANAGER_COUNTS:
            raise ValueError(
                f"nodes: {len(managers)} managers ({', '.join(managers) or 'none'}); a swarm needs 1 or 3 "
                "managers (a majority must be up: 2 managers stop the swarm when either fails). Set role: manager "
                "on 1 or 3 nodes, role: worker on the others"
            )
        return self

    @model_validator(mode="after")
    def _locations_in_one_zone(self) -> SwarmSettings:
        zones = {LOCATION_ZONES[node.location or self.location] for node in self.nodes.values()}
        if len(zones) > 1:
            raise ValueError(
                f"nodes: the nodes are in network zones {', '.join(sorted(zones))}; a Hetzner private network "
                "spans one zone: put every node in locations of one zone (e.g. fsn1, nbg1, hel1 are eu-central)"
            )
        return self

    @property
    def managers(self) -> list[str]:
        """Manager nodes in name order: the first initialises the swarm, the others join after it."""
        return sorted(name for name, node in self.nodes.items() if node.role == "manager")

    @property
    def workers(self) -> list[str]:
        return sorted(name for name, node in self.nodes.items() if node.role == "worker")

    @property
    def edge_nodes(self) -> list[str]:
        chosen = sorted(name for name, node in self.nodes.items() if node.edge)
        return chosen or self.managers[:1]

    def node_location(self, name: str) -> str:
        return self.nodes[name].location or self.location


LOCATION_ZONES = {"fsn1": "eu-central", "nbg1": "eu-central", "hel1": "eu-central", "ash": "us-east"}
LOCATION_ZONES.update({"hil": "us-west", "sin": "ap-southeast"})
"""Hetzner's network zone of each location (``hcloud location list``): a private network's subnet lives in one."""
assert set(LOCATION_ZONES) == set(LOCATIONS)


@dataclass(frozen=True)
class NodeCapacity:
    name: str
    server: ServerType
    reserve_bytes: int


def app_reservations(budgets: Sequence[MemoryBudget]) -> dict[str, int]:
    """App name -> what its containers reserve together (budget groups are ``apps.<name>``)."""
    totals: dict[str, int] = {}
    for budget in budgets:
        if budget.group.startswith("apps."):
            app = budget.group.removeprefix("apps.")
            totals[app] = totals.get(app, 0) + budget.reservation
    return totals


def place_apps(
    apps: Sequence[str],
    pinned: Mapping[str, str],
    nodes: Sequence[NodeCapacity],
    budgets: Sequence[MemoryBudget],
    edge_nodes: Sequence[str],
) -> dict[str, str]:
    """App -> node: the pinned ones where they are pinned; each other app, in name order, on the node
    with the most memory left after what is already placed there (ties: the node's name).

    Pure and deterministic. It does not know where an app ran before: adding an app or a node
    may place an unpinned app elsewhere, which the stack refuses at preview (docs/swarm.md,
    "Moving an app"); the refusal names the ``swarm.placement`` line that keeps it in place.
    """
    reserved = app_reservations(budgets)
    proxy = total_reservation(b for b in budgets if b.group == "proxy")
    used = {node.name: node.reserve_bytes + (proxy if node.name in edge_nodes else 0) for node in nodes}
    placed: dict[str, str] = {}
    for app in sorted(apps):
        if app in pinned:
            placed[app] = pinned[app]
            used[pinned[app]] += reserved.get(app, 0)
    by_name = {node.name: node for node in nodes}
    for app in sorted(apps):
        if app in placed:
            continue
        node = min(by_name, key=lambda name: (-(by_name[name].server.memory_bytes - used[name]), name))
        placed[app] = node
        used[node] += reserved.get(app, 0)
    return placed


def node_budgets(
    node: str, placement: Mapping[str, str], budgets: Sequence[MemoryBudget], edge_nodes: Sequence[str]
) -> list[MemoryBudget]:
    """The containers a node runs: its apps', and the proxy's on an edge node."""
    return [
        b
        for b in budgets
        if (b.group == "proxy" and node in edge_nodes)
        or (b.group.startswith("apps.") and placement.get(b.group.removeprefix("apps.")) == node)
    ]


def swarm_problem(
    swarm: SwarmSettings,
    apps: Sequence[str],
    budgets: Sequence[MemoryBudget],
    architecture_needs: Mapping[str, frozenset[str]],
) -> str | None:
    """Why the apps cannot be placed on ``swarm``'s nodes, or None: unknown nodes or apps in
    ``swarm.placement``, and per node the architecture and capacity checks of config/hetzner.py."""
    for app, pinned in sorted(swarm.placement.items()):
        if app not in apps:
            return (
                f"swarm.placement.{app}: there is no app {app!r} to place (apps: {', '.join(sorted(apps))}); "
                f"remove it with `pulumi config rm --path swarm.placement.{app}`"
            )
        if pinned not in swarm.nodes:
            return (
                f"swarm.placement.{app}: {pinned!r} is not a node of the swarm; nodes: {', '.join(sorted(swarm.nodes))}"
            )
    for index, app in enumerate(swarm.moved):
        if app not in apps:
            return f"swarm.moved.{index}: there is no app {app!r} (apps: {', '.join(sorted(apps))})"
    placement = placed_apps(swarm, apps, budgets)
    for name in sorted(swarm.nodes):
        node = swarm.nodes[name]
        on_node = node_budgets(name, placement, budgets, swarm.edge_nodes)
        needs = {app: archs for app, archs in architecture_needs.items() if placement.get(app) == name}
        key = f"swarm.nodes.{name}.serverType"
        problem = architecture_problem(
            node.server, needs, required_memory(on_node, swarm.memory_reserve), key=key
        ) or capacity_problem(
            node.server,
            swarm.memory_reserve,
            on_node,
            allowed_architectures(needs),
            key=key,
            reserve_key="swarm.memoryReserve",
        )
        if problem:
            apps_here = sorted(app for app, where in placement.items() if where == name)
            return f"{problem} (node {name} runs: {', '.join(apps_here) or 'no app'}" + (
                ", the proxy)" if name in swarm.edge_nodes else ")"
            )
    return None


def placed_apps(swarm: SwarmSettings, apps: Sequence[str], budgets: Sequence[MemoryBudget]) -> dict[str, str]:
    nodes = [NodeCapacity(name, node.server, swarm.memory_reserve) for name, node in sorted(swarm.nodes.items())]
    return place_apps(apps, swarm.placement, nodes, budgets, swarm.edge_nodes)
