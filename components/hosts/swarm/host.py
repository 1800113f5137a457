"""A Docker Swarm of Hetzner Cloud servers (``host: swarm``), and the local engine as a one-node swarm.

Built from the single host's pieces (components/hosts/hetzner/): the same cloud-config (Debian's
docker.io, hardened SSH, unattended upgrades, the data volume mounted), the same readiness
check and volume directories over SSH, the same firewall rules, the same bounded SSH dials and
the same DOCKER_*-proof provider. On top:

- a Hetzner private network with one subnet; every node joins it and the swarm talks over it
  only (``--advertise-addr``/``--listen-addr``/``--data-path-addr`` are the node's private
  address). The firewall adds the swarm's ports (2377/tcp, 7946/tcp+udp, 4789/udp, ESP for the
  encrypted overlays) from the private range alone. Hetzner applies its firewalls to the public
  interface only: these rules document the intent, and the public side stays closed to them
  because a Hetzner firewall drops every inbound packet no rule allows;
- ``docker swarm init`` on the first manager, then each other node joins, managers first, each
  after the one before (one join at a time keeps the Raft membership changes one by one); every
  step is idempotent (a node that is already in a swarm is left alone). The join tokens are
  read into secret outputs and handed to the joining node on stdin, never in a command line of
  the program or a log line;
- the node labels ``selfhost.node=<name>`` (and ``selfhost.edge=true``) that placement
  constraints use (components/swarm/service.py);
- a Docker provider for the first manager (services, networks, secrets), derived from the label
  step's output so nothing is scheduled before the nodes carry their labels; and one per node for
  that node's volumes, each on the node's own Hetzner Volume as on the single host.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_hcloud as hcloud

from components.core.volumes import PreparedPlacement, VolumePlacement
from components.hosts.hetzner import ssh_agent
from components.hosts.hetzner.cloud_init import (
    CloudInitOptions,
    readiness_script,
    render_user_data,
    volume_device,
    volume_directory,
    volume_directory_script,
)
from components.hosts.hetzner.host import (
    DIAL_ERROR_LIMIT,
    HOST_KEY_OPTIONS,
    LABELS,
    PER_DIAL_TIMEOUT_SECONDS,
    SSH_OPTIONS,
    data_disk,
    firewall_rules,
    primary_ipv4,
    ssh_keys,
)
from components.hosts.local import default_engine_endpoint, engine_provider, refuse_engine_tls_environment

SWARM_PORTS: tuple[tuple[str, str, str], ...] = (
    ("tcp", "2377", "swarm management"),
    ("tcp", "7946", "swarm gossip"),
    ("udp", "7946", "swarm gossip"),
    ("udp", "4789", "overlay data (VXLAN)"),
)
"""What nodes of a swarm must reach on each other (docs.docker.com, "Use overlay networks": 2377/tcp
management, 7946/tcp+udp node communication, 4789/udp overlay traffic; ESP, IP protocol 50, for
encrypted overlays)."""
NODE_LABEL = "selfhost.node"
EDGE_LABEL = "selfhost.edge"
"""The same names as components/swarm/service.py's (hosts may not import the swarm layer): tests check."""


@dataclass(frozen=True)
class SwarmNodeArgs:
    name: str
    role: str
    """``manager`` or ``worker``."""
    server_type: str
    location: str
    volume_size_gb: int
    edge: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SwarmHostArgs:
    nodes: Sequence[SwarmNodeArgs]
    """Managers first, in the order they init and join; then the workers."""
    image: str
    ssh_public_keys: Sequence[str]
    admin_cidrs: Sequence[str]
    public_ports: Sequence[int]
    private_network: str
    """The private network's range; its first /24 is the nodes' subnet."""
    network_zone: str
    labels: Mapping[str, str] = field(default_factory=dict)
    name_prefix: str = "selfhost"
    """Prefix of the Hetzner names of the network, firewall and keys."""
    protect: bool = False
    """Protect the nodes' primary IPs too (their data volumes are always protected)."""


def private_subnet(private_network: str) -> str:
    """The first /24 of the range (the whole range when it is a /24)."""
    network = ipaddress.ip_network(private_network)
    return str(next(network.subnets(new_prefix=24)) if network.prefixlen < 24 else network)


def swarm_firewall_rules(
    public_ports: Sequence[int], admin_cidrs: Sequence[str], private_network: str
) -> list[hcloud.FirewallRuleArgs]:
    """The single host's rules (public ports, SSH from the admins, ICMP) and the swarm's from the private range."""
    rules = firewall_rules(public_ports, admin_cidrs)
    rules += [
        hcloud.FirewallRuleArgs(
            direction="in", protocol=protocol, port=port, source_ips=[private_network], description=what
        )
        for protocol, port, what in SWARM_PORTS
    ]
    rules.append(
        hcloud.FirewallRuleArgs(
            direction="in", protocol="esp", source_ips=[private_network], description="encrypted overlays (IPsec)"
        )
    )
    return rules


def _swarm_addresses(address: str) -> str:
    quoted = shlex.quote(address)
    return f"--advertise-addr {quoted} --listen-addr {quoted}:2377 --data-path-addr {quoted}"


def init_script(private_ip: str) -> str:
    """Initialise the swarm on the first manager unless this node already is in one; print its node id."""
    return (
        "set -eu\n"
        "if [ \"$(docker info --format '{{.Swarm.LocalNodeState}}')\" != active ]; then\n"
        f"  docker swarm init {_swarm_addresses(private_ip)} >/dev/null\n"
        "fi\n"
        "docker info --format '{{.Swarm.NodeID}}'\n"
    )


def token_script(role: str) -> str:
    return f"docker swarm join-token --quiet {shlex.quote(role)}\n"


def join_script(private_ip: str, manager_ip: str) -> str:
    """Join with the token read from stdin (never in argv of the program, nor in its logs); print the node id."""
    return (
        "set -eu\n"
        "IFS= read -r token\n"
        "if [ \"$(docker info --format '{{.Swarm.LocalNodeState}}')\" != active ]; then\n"
        f'  docker swarm join --token "$token" {_swarm_addresses(private_ip)} '
        f"{shlex.quote(manager_ip)}:2377 >/dev/null\n"
        "fi\n"
        "docker info --format '{{.Swarm.NodeID}}'\n"
    )


def label_script(node_id: str, node: str, edge: bool) -> str:
    """On a manager: the labels placement constraints use (``docker node update`` is idempotent)."""
    labels = [f"{NODE_LABEL}={node}", f"{EDGE_LABEL}={'true' if edge else 'false'}"]
    flags = " ".join(f"--label-add {shlex.quote(label)}" for label in labels)
    return f"set -eu\ndocker node update {flags} {shlex.quote(node_id)} >/dev/null\necho {shlex.quote(node)}\n"


def _secret_line(output: pulumi.Output[str]) -> pulumi.Output[str]:
    line: pulumi.Output[str] = pulumi.Output.secret(output.apply(lambda text: text.strip() + "\n"))
    return line


def _labels_of(node_id: pulumi.Output[str], node: SwarmNodeArgs) -> pulumi.Output[str]:
    return node_id.apply(lambda found: label_script(found, node.name, node.edge))


def _after(signal: pulumi.Output[object], value: object) -> pulumi.Output[Any]:
    """``value`` once ``signal`` has resolved."""
    return signal.apply(lambda _: value)


class SwarmNode(pulumi.ComponentResource):
    """One Hetzner server of the swarm with its data volume, on the private network."""

    public_ip: pulumi.Output[str]
    private_ip: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: SwarmNodeArgs,
        host: SwarmHostArgs,
        shared: tuple[Sequence[hcloud.SshKey], hcloud.Firewall, hcloud.NetworkSubnet, hcloud.Network],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("selfhost:index:SwarmNode", name, None, opts)
        keys, firewall, subnet, network = shared
        labels = {**LABELS, **host.labels, **args.labels, "swarm-role": args.role}
        volume = data_disk(
            f"{name}-data", f"{host.name_prefix}-{args.name}-data", args.volume_size_gb, args.location, labels, self
        )
        # As on the single host: kept when the server is replaced, so DNS pointing at an edge node stays right.
        ip = primary_ipv4(
            f"{name}-ipv4", f"{host.name_prefix}-{args.name}-ipv4", args.location, labels, host.protect, self
        )
        user_data = volume.id.apply(lambda volume_id: render_user_data(CloudInitOptions(int(volume_id))))
        server = hcloud.Server(
            f"{name}-server",
            # Unique in the Hetzner project beside other stacks' nodes of the same name.
            name=f"{host.name_prefix}-{args.name}",
            server_type=args.server_type,
            image=host.image,
            location=args.location,
            ssh_keys=[key.id for key in keys],
            user_data=user_data,
            firewall_ids=[firewall.id.apply(int)],
            public_nets=[hcloud.ServerPublicNetArgs(ipv4_enabled=True, ipv4=ip.id.apply(int), ipv6_enabled=True)],
            shutdown_before_deletion=True,
            labels=labels,
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["user_data", "ssh_keys"], delete_before_replace=True
            ),
        )
        attached = hcloud.ServerNetwork(
            f"{name}-private",
            server_id=server.id.apply(int),
            subnet_id=subnet.id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[network]),
        )
        attachment = hcloud.VolumeAttachment(
            f"{name}-data-attachment",
            server_id=server.id.apply(int),
            volume_id=volume.id.apply(int),
            automount=False,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.public_ip = ip.ip_address
        self.private_ip = attached.ip
        self.connection = command.remote.ConnectionArgs(
            host=ip.ip_address,
            user="root",
            dial_error_limit=DIAL_ERROR_LIMIT,
            per_dial_timeout=PER_DIAL_TIMEOUT_SECONDS,
        )
        self.ready = command.remote.Command(
            f"{name}-ready",
            connection=self.connection,
            create=volume.id.apply(lambda volume_id: readiness_script(volume_device(int(volume_id)))),
            triggers=[server.id, attachment.id, attached.id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"public_ip": self.public_ip, "private_ip": self.private_ip})


class SwarmHost(pulumi.ComponentResource):
    """The swarm: its nodes, private network and firewall; a provider for the managers and one per node."""

    address: pulumi.Output[str]
    """The first edge node's public IPv4 address: where DNS points."""
    node_ips: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: SwarmHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        ssh_agent.check_ssh_agent(args.ssh_public_keys, preview=pulumi.runtime.is_dry_run())
        refuse_engine_tls_environment("ssh://root@<the swarm's first manager>", os.environ)
        managers = [node for node in args.nodes if node.role == "manager"]
        if len(managers) not in (1, 3):
            raise ValueError(f"a swarm needs 1 or 3 managers, not {len(managers)}")
        super().__init__("selfhost:index:SwarmHost", name, None, opts)
        labels = {**LABELS, **args.labels}
        child = pulumi.ResourceOptions(parent=self)
        keys = ssh_keys(name, args.name_prefix, args.ssh_public_keys, labels, child)
        network = hcloud.Network(
            f"{name}-network", name=args.name_prefix, ip_range=args.private_network, labels=labels, opts=child
        )
        subnet = hcloud.NetworkSubnet(
            f"{name}-subnet",
            network_id=network.id.apply(int),
            type="cloud",
            network_zone=args.network_zone,
            ip_range=private_subnet(args.private_network),
            opts=child,
        )
        firewall = hcloud.Firewall(
            f"{name}-firewall",
            name=args.name_prefix,
            rules=swarm_firewall_rules(args.public_ports, args.admin_cidrs, args.private_network),
            labels=labels,
            opts=child,
        )
        ordered = managers + [node for node in args.nodes if node.role != "manager"]
        self.nodes = {
            node.name: SwarmNode(f"{name}-{node.name}", node, args, (keys, firewall, subnet, network), child)
            for node in ordered
        }
        first = self.nodes[ordered[0].name]
        init = command.remote.Command(
            f"{name}-init",
            connection=first.connection,
            create=first.private_ip.apply(init_script),
            triggers=[first.ready.id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[first.ready]),
        )
        tokens = {
            role: command.remote.Command(
                f"{name}-{role}-token",
                connection=first.connection,
                create=token_script(role),
                logging=command.remote.Logging.NONE,
                triggers=[init.stdout],
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stdout"]),
            )
            for role in ("manager", "worker")
        }
        node_ids: dict[str, pulumi.Output[str]] = {ordered[0].name: init.stdout.apply(str.strip)}
        previous: pulumi.Resource = init
        for spec in ordered[1:]:
            node = self.nodes[spec.name]
            joined = command.remote.Command(
                f"{name}-join-{spec.name}",
                connection=node.connection,
                create=pulumi.Output.all(node.private_ip, first.private_ip).apply(
                    lambda ips: join_script(str(ips[0]), str(ips[1]))
                ),
                stdin=_secret_line(tokens[spec.role].stdout),
                logging=command.remote.Logging.STDERR,
                triggers=[node.ready.id, init.stdout],
                # One join at a time, in order: the managers, then the workers.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[node.ready, previous]),
            )
            node_ids[spec.name] = joined.stdout.apply(str.strip)
            previous = joined
        labelled = [
            command.remote.Command(
                f"{name}-label-{spec.name}",
                connection=first.connection,
                create=_labels_of(node_ids[spec.name], spec),
                opts=pulumi.ResourceOptions(parent=self),
            )
            for spec in ordered
        ]
        # Providers ignore depends_on (pulumi/pulumi#8917): the manager's endpoint derives from the last
        # label step, so no service is created before every node carries its labels.
        self._docker = engine_provider(
            f"{name}-docker",
            pulumi.Output.all(first.public_ip, *[step.stdout for step in labelled]).apply(
                lambda values: f"ssh://root@{values[0]}"
            ),
            SSH_OPTIONS,
            child,
        )
        self._node_engines = {
            node_name: engine_provider(
                f"{name}-{node_name}-docker",
                pulumi.Output.all(node.public_ip, node.ready.stdout).apply(lambda values: f"ssh://root@{values[0]}"),
                SSH_OPTIONS,
                child,
            )
            for node_name, node in self.nodes.items()
        }
        self._name = name
        self._directories: dict[str, pulumi.Output[Mapping[str, str]]] = {}
        edge = next((node.name for node in ordered if node.edge), ordered[0].name)
        self.address = self.nodes[edge].public_ip
        self.node_ips = pulumi.Output.all(*[node.public_ip for node in self.nodes.values()]).apply(
            lambda ips: dict(zip(self.nodes, (str(ip) for ip in ips), strict=True))
        )
        self.ssh_command = self.address.apply(lambda ip: " ".join(["ssh", *HOST_KEY_OPTIONS, f"root@{ip}"]))
        self.register_outputs({"address": self.address, "node_ips": self.node_ips})

    @property
    def provider(self) -> docker.Provider:
        return self._docker

    def prepare_volumes(
        self, volume_nodes: Mapping[str, str], after: Mapping[str, pulumi.Output[object]] | None = None
    ) -> VolumePlacement:
        """Each volume as a directory on its node's Hetzner Volume, made through that node's engine.

        ``volume_nodes``: volume name -> node. ``after``: per volume, an output that must resolve
        first (the stack's check that the app has not moved; a refusal stops the directory too).
        """
        options: dict[str, pulumi.Input[Mapping[str, str]] | None] = {}
        engines: dict[str, pulumi.ProviderResource] = {}
        for volume_name, node_name in sorted(volume_nodes.items()):
            node = self.nodes[node_name]
            gate = (after or {}).get(volume_name)
            script = volume_directory_script(volume_name)
            directory = command.remote.Command(
                f"{self._name}-dir-{volume_name}",
                connection=node.connection,
                create=script if gate is None else _after(gate, script),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[node.ready]),
            )
            bind = {"type": "none", "o": "bind", "device": volume_directory(volume_name)}
            options[volume_name] = _after(directory.id, bind)
            engines[volume_name] = self._node_engines[node_name]
        return PreparedPlacement(options, engines)


@dataclass(frozen=True)
class LocalSwarmHostArgs:
    docker_host: str = ""
    """The local engine's endpoint; empty: its default socket (as ``host: local``)."""


def local_init_script() -> str:
    """The local engine as a one-node swarm (on loopback: nothing else may join), labelled as the only node."""
    return (
        "set -eu\n"
        "if [ \"$(docker info --format '{{.Swarm.LocalNodeState}}')\" != active ]; then\n"
        "  docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null\n"
        "fi\n"
        f"docker node update --label-add {NODE_LABEL}=local --label-add {EDGE_LABEL}=true "
        "\"$(docker info --format '{{.Swarm.NodeID}}')\" >/dev/null\n"
        "docker info --format '{{.Swarm.NodeID}}'\n"
    )


class LocalSwarmHost(pulumi.ComponentResource):
    """``host: local-swarm``: the local engine, made a single-node swarm if it is not one yet."""

    def __init__(self, name: str, args: LocalSwarmHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        endpoint = args.docker_host or default_engine_endpoint()
        refuse_engine_tls_environment(endpoint, os.environ)
        super().__init__("selfhost:index:LocalSwarmHost", name, None, opts)
        init = command.local.Command(
            f"{name}-init",
            create=local_init_script(),
            # The docker CLI of this machine, at exactly the stack's endpoint whatever the shell says.
            environment={"DOCKER_HOST": endpoint, "DOCKER_CONTEXT": ""},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._docker = engine_provider(
            f"{name}-docker", init.stdout.apply(lambda _: endpoint), [], pulumi.ResourceOptions(parent=self)
        )
        self.address = pulumi.Output.from_input("127.0.0.1")
        self.register_outputs({"address": self.address})

    @property
    def provider(self) -> docker.Provider:
        return self._docker

    def prepare_volumes(
        self, volume_nodes: Mapping[str, str], after: Mapping[str, pulumi.Output[object]] | None = None
    ) -> VolumePlacement:
        """Where the engine keeps volumes: nothing to prepare, as on ``host: local``."""
        return PreparedPlacement(dict.fromkeys(volume_nodes))
