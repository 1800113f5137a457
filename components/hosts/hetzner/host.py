"""The Docker host on a Hetzner Cloud server, reached by the Docker provider over SSH.

The server is disposable; what must outlive it is not part of it: the Hetzner volume that
holds every Docker volume's data (protected, retained), and the primary IPv4 address
that DNS points at (kept when the server is replaced). Pulumi connects with the key in
the operator's ssh-agent, so no private key ever enters the config or the state.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_command as command
import pulumi_docker as docker
import pulumi_hcloud as hcloud

from components.core.volumes import PreparedPlacement, VolumePlacement
from components.hosts.hetzner import ssh_agent
from components.hosts.hetzner.cloud_init import (
    CloudInitOptions,
    memory_protection_script,
    readiness_script,
    render_user_data,
    volume_device,
    volume_directory,
    volume_directory_script,
)
from components.hosts.local import engine_provider, refuse_engine_tls_environment

ANYWHERE = ("0.0.0.0/0", "::/0")
KNOWN_HOSTS_FILE = "~/.ssh/selfhost_known_hosts"
"""Host keys of the servers Pulumi has reached, apart from the operator's own known_hosts."""
LABELS = {"managed-by": "selfhost"}

PER_DIAL_TIMEOUT_SECONDS = 15
"""pulumi-command's bound on one TCP connect (``ssh.ClientConfig.Timeout``); its default."""
DIAL_ERROR_LIMIT = 40
"""Dials pulumi-command tries before it gives up (it used to be -1: forever).

pulumi-command 1.2.1 (``provider/pkg/provider/remote/connection.go``, ``dialWithRetry``)
counts every failed ``ssh.Dial`` alike: a server still booting (timeout or refused) and an
authentication failure. Between tries it waits 0.1 s growing by 1.5x up to 5 s
(pulumi/pulumi ``sdk/go/common/util/retry/until.go``). With a limit of 40 it tries 41 times
and waits 161 s in all, plus up to 15 s per try that times out: an authentication failure
fails after about 3 minutes (162 s measured against a real sshd with the real binary,
tests/test_dial_bound_live.py), an unreachable address after at most 13; a new server
answers within a minute or two of being created. :func:`dial_budget_seconds` computes the
bound.
"""


@dataclass(frozen=True)
class HetznerHostArgs:
    server_name: str
    """Hetzner name of the server; its IP, volume, firewall and keys are named after it."""
    server_type: str
    location: str
    image: str
    ssh_public_keys: Sequence[str]
    """OpenSSH public keys for root; Pulumi itself connects with the matching key in the ssh-agent."""
    admin_cidrs: Sequence[str]
    """The only networks that reach SSH."""
    public_ports: Sequence[int]
    """TCP ports open to everyone: the ports the proxy publishes."""
    volume_size_gb: int
    backups: bool = False
    reverse_dns: str | None = None
    """PTR record of the primary IPv4 address."""
    labels: Mapping[str, str] = field(default_factory=dict)
    automatic_reboot_time: str | None = None
    protect: bool = False
    """Protect the primary IP too (the data volume is always protected)."""
    reserved_memory_bytes: int = 0
    """The sum of the containers' memory reservations: ``system.slice`` is protected by that much
    (``memory_protection_script``), or the reservations would protect nothing. 0: not set."""


def firewall_rules(public_ports: Sequence[int], admin_cidrs: Sequence[str]) -> list[hcloud.FirewallRuleArgs]:
    """Inbound: the public ports and ICMP from anywhere, SSH from the admin networks; nothing else."""
    rules = [
        hcloud.FirewallRuleArgs(
            direction="in", protocol="tcp", port=str(port), source_ips=list(ANYWHERE), description=f"public {port}"
        )
        for port in sorted(set(public_ports))
    ]
    rules.append(
        hcloud.FirewallRuleArgs(
            direction="in", protocol="tcp", port="22", source_ips=list(admin_cidrs), description="ssh from admins"
        )
    )
    rules.append(
        hcloud.FirewallRuleArgs(direction="in", protocol="icmp", source_ips=list(ANYWHERE), description="icmp")
    )
    return rules


HOST_KEY_OPTIONS = ["-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={KNOWN_HOSTS_FILE}"]
"""Trust a server's host key on first contact, check it afterwards."""

SSH_OPTIONS = [
    "-o", "BatchMode=yes",
    *HOST_KEY_OPTIONS,
    "-o", "ConnectTimeout=30",
    "-o", "ServerAliveInterval=30",
    "-o", "ControlMaster=auto",
    "-o", "ControlPath=~/.ssh/selfhost-%C",
    "-o", "ControlPersist=60",
]  # fmt: skip
"""Options for the ssh client the Docker provider runs; they work against a fresh server.

Never prompt (there is no terminal), and share one connection: sshd is spared a handshake
per API request and its MaxStartups limit is not hit by parallel updates. They do not
depend on the server, so replacing it leaves the provider's configuration unchanged.
"""


def dial_budget_seconds(dial_error_limit: int, per_dial_seconds: float) -> float:
    """How long pulumi-command keeps dialling when each of ``dial_error_limit`` tries takes ``per_dial_seconds``.

    Its schedule (pulumi/pulumi ``sdk/go/common/util/retry/until.go``, ``Retryer.Until`` with
    the defaults): after a failed try it waits 100 ms, then 1.5 times longer each time, never
    more than 5 s. ``dialWithRetry`` gives up once the tries *exceed* the limit
    (``reachedDialingErrorLimit``: ``dials > limit``): ``limit + 1`` tries, ``limit`` waits.
    """
    if dial_error_limit < 1:
        raise ValueError("a bound needs dial_error_limit >= 1 (-1 dials forever)")
    waits, delay = 0.0, 0.1
    for _ in range(dial_error_limit):
        waits += min(delay, 5.0)
        delay *= 1.5
    return waits + (dial_error_limit + 1) * per_dial_seconds


def key_digest(public_key: str) -> str:
    """A short name for a key that stays the same when the list is reordered."""
    return hashlib.sha256(public_key.split()[1].encode()).hexdigest()[:10]


def _bind_options(volume_name: str) -> Callable[[object], Mapping[str, str]]:
    """The local driver's options binding ``volume_name`` to its directory, once that exists."""
    options = {"type": "none", "o": "bind", "device": volume_directory(volume_name)}
    return lambda _: options


def ssh_keys(
    resource_name: str,
    name_base: str,
    public_keys: Sequence[str],
    labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> list[hcloud.SshKey]:
    """One Hetzner SSH key per public key, named by its digest (``<name_base>-<digest>``): the resource names
    are part of the URNs, so the single host and the swarm name them the same way."""
    return [
        hcloud.SshKey(
            f"{resource_name}-ssh-key-{key_digest(key)}",
            name=f"{name_base}-{key_digest(key)}",
            public_key=key,
            labels=dict(labels),
            opts=opts,
        )
        for key in public_keys
    ]


def primary_ipv4(
    resource_name: str,
    name: str,
    location: str,
    labels: Mapping[str, str],
    protect: bool,
    parent: pulumi.Resource,
) -> hcloud.PrimaryIp:
    """The server's public IPv4, kept when the server is replaced (DNS pointing at it stays right)."""
    return hcloud.PrimaryIp(
        resource_name,
        name=name,
        type="ipv4",
        location=location,
        # No assignee: the server takes the address through its public_net. assignee_type alone
        # only warns on every run ("Unused Attribute", terraform-provider-hcloud 1.66
        # internal/primaryip/resource.go ValidateConfig); unset, assignee_id/assignee_type are
        # Optional+Computed and read back from the API without a diff.
        # Not deleted with the server: the replacement server takes the same address.
        auto_delete=False,
        delete_protection=protect,
        labels=dict(labels),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )


def data_disk(
    resource_name: str, name: str, size_gb: int, location: str, labels: Mapping[str, str], parent: pulumi.Resource
) -> hcloud.Volume:
    """The Hetzner Volume holding a server's Docker volumes: always protected and retained, whatever the
    stack's ``protect`` (the data outlives the server and the stack)."""
    return hcloud.Volume(
        resource_name,
        name=name,
        size=size_gb,
        location=location,
        format="ext4",
        automount=False,
        delete_protection=True,
        labels=dict(labels),
        opts=pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True),
    )


class HetznerHost(pulumi.ComponentResource):
    """A Hetzner Cloud server running Docker, with a firewall, a stable IPv4 address and a data volume."""

    server_ip: pulumi.Output[str]
    ssh_command: pulumi.Output[str]

    def __init__(self, name: str, args: HetznerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Before the host registers anything: without the agent no SSH step can succeed.
        ssh_agent.check_ssh_agent(args.ssh_public_keys, preview=pulumi.runtime.is_dry_run())
        refuse_engine_tls_environment(f"ssh://root@<{args.server_name}'s address>", os.environ)
        super().__init__("selfhost:index:HetznerHost", name, None, opts)
        labels = {**LABELS, **args.labels}
        child = pulumi.ResourceOptions(parent=self)

        keys = ssh_keys(name, args.server_name, args.ssh_public_keys, labels, child)
        ip = primary_ipv4(f"{name}-ipv4", f"{args.server_name}-ipv4", args.location, labels, args.protect, self)
        firewall = hcloud.Firewall(
            f"{name}-firewall",
            name=args.server_name,
            rules=firewall_rules(args.public_ports, args.admin_cidrs),
            labels=labels,
            opts=child,
        )
        volume = data_disk(f"{name}-data", f"{args.server_name}-data", args.volume_size_gb, args.location, labels, self)
        user_data = volume.id.apply(
            lambda volume_id: render_user_data(CloudInitOptions(int(volume_id), args.automatic_reboot_time))
        )
        server = hcloud.Server(
            f"{name}-server",
            name=args.server_name,
            server_type=args.server_type,
            image=args.image,
            location=args.location,
            ssh_keys=[key.id for key in keys],
            user_data=user_data,
            backups=args.backups,
            # On the server from its creation: no moment with SSH open to the world.
            firewall_ids=[firewall.id.apply(int)],
            public_nets=[hcloud.ServerPublicNetArgs(ipv4_enabled=True, ipv4=ip.id.apply(int), ipv6_enabled=True)],
            shutdown_before_deletion=True,
            labels=labels,
            opts=pulumi.ResourceOptions(
                parent=self,
                # Either would replace the server: roll such changes out deliberately (docs/hetzner.md).
                ignore_changes=["user_data", "ssh_keys"],
                # The primary IP and the volume belong to one server at a time.
                delete_before_replace=True,
            ),
        )
        attachment = hcloud.VolumeAttachment(
            f"{name}-data-attachment",
            server_id=server.id.apply(int),
            volume_id=volume.id.apply(int),
            automount=False,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        if args.reverse_dns:
            hcloud.Rdns(
                f"{name}-rdns",
                primary_ip_id=ip.id.apply(int),
                ip_address=ip.ip_address,
                dns_ptr=args.reverse_dns,
                opts=child,
            )

        connection = command.remote.ConnectionArgs(
            host=ip.ip_address,
            user="root",
            # A new server takes a minute or two to answer; an authentication failure never
            # heals. Both count as dial errors: bounded, see DIAL_ERROR_LIMIT.
            dial_error_limit=DIAL_ERROR_LIMIT,
            per_dial_timeout=PER_DIAL_TIMEOUT_SECONDS,
        )
        ready = command.remote.Command(
            f"{name}-ready",
            connection=connection,
            create=volume.id.apply(lambda volume_id: readiness_script(volume_device(int(volume_id)))),
            # A replaced server or a re-attached volume is checked again.
            triggers=[server.id, attachment.id],
            opts=child,
        )
        if args.reserved_memory_bytes:
            command.remote.Command(
                f"{name}-memory-protection",
                connection=connection,
                create=memory_protection_script(args.reserved_memory_bytes),
                # Again on a new server; a changed sum changes `create`, which the provider's Update runs
                # again (pulumi-command v1.2.1, remote/commandController.go).
                triggers=[server.id],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[ready]),
            )
        # Providers ignore depends_on (pulumi/pulumi#8917): the host is derived from the readiness
        # step's output, so the provider cannot connect before Docker answers on the server.
        # Exactly this server, whatever DOCKER_CONTEXT, DOCKER_CERT_PATH... the shell holds.
        self._docker = engine_provider(
            f"{name}-docker",
            pulumi.Output.all(ready.stdout, ip.ip_address).apply(lambda values: f"ssh://root@{values[1]}"),
            SSH_OPTIONS,
            child,
        )
        self._name = name
        self._connection = connection
        self._ready = ready
        self._volume_directories: dict[str, pulumi.Output[Mapping[str, str]]] = {}
        self.server_ip = ip.ip_address
        self.ssh_command = ip.ip_address.apply(lambda address: " ".join(["ssh", *HOST_KEY_OPTIONS, f"root@{address}"]))
        self.register_outputs({"server_ip": self.server_ip, "ssh_command": self.ssh_command})

    @property
    def provider(self) -> docker.Provider:
        return self._docker

    def prepare_volumes(self, volume_names: Sequence[str]) -> VolumePlacement:
        """Docker volumes as directories on the Hetzner volume, bound by Docker's local driver.

        Docker does not create a bind source: each volume's directory is made over SSH first
        (a child of this host, ``<host>-dir-<volume>``), and the driver options are an Output
        of that command, so no Docker volume (and no container using it) can be created before
        its directory exists. Called with the same name again, the directory is not made twice.
        """
        for volume_name in sorted(set(volume_names)):
            if volume_name in self._volume_directories:
                continue
            directory = command.remote.Command(
                f"{self._name}-dir-{volume_name}",
                connection=self._connection,
                create=volume_directory_script(volume_name),
                # No delete: removing the resource never removes data.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self._ready]),
            )
            self._volume_directories[volume_name] = directory.id.apply(_bind_options(volume_name))
        return PreparedPlacement({name: self._volume_directories[name] for name in volume_names})

    @property
    def address(self) -> pulumi.Output[str]:
        return self.server_ip
