"""Tier 2: the HetznerHost component alone, under mocks.

What the program sends to the engine: resources, inputs, options (protect, retainOnDelete,
ignoreChanges, deleteBeforeReplace) and dependencies, including the Docker provider's host
derived from the readiness command. Mocks do not prove that Hetzner or Docker accept them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pytest

from components.core.volumes import StatePolicy, data_volume
from components.hosts.hetzner.cloud_init import (
    CloudInitOptions,
    memory_protection_script,
    readiness_script,
    render_user_data,
    volume_device,
    volume_directory_script,
)
from components.hosts.hetzner.host import (
    DIAL_ERROR_LIMIT,
    PER_DIAL_TIMEOUT_SECONDS,
    HetznerHost,
    HetznerHostArgs,
    key_digest,
)
from tests.mockstack import MOCK_SERVER_IP, ProgramRun, Registration, mock_id, run_components

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOaW+RC+QOf2afHJ49m0fCOSutw+QwSy0BSjPujBglUU admin@example.com"
ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBP1T3TxW6947ZbygchJoD7RyI8S08+hklXzh"
    "SmCfT8eM6FuW96brIbb0D0i13QucMrAmN10wtDu6x/HyW9WwNjw= ci@example.com"
)
ARGS = HetznerHostArgs(
    server_name="web",
    server_type="cx33",
    location="nbg1",
    image="debian-13",
    ssh_public_keys=[ED25519, ECDSA],
    admin_cidrs=["203.0.113.0/24", "2001:db8::/48"],
    public_ports=[80, 443],
    volume_size_gb=40,
    backups=True,
    reverse_dns="blog.example.com",
    labels={"team": "web"},
    automatic_reboot_time="04:00",
    protect=True,
)
SERVER = "hcloud:index/server:Server"
VOLUME = "hcloud:index/volume:Volume"
COMMAND = "command:remote:Command"
DOCKER_VOLUMES = ("web-blog-db", "web-cloud-data")


def build(args: HetznerHostArgs, volumes: Sequence[str] = DOCKER_VOLUMES) -> dict[str, Any]:
    host = HetznerHost("host", args)
    state = StatePolicy(placement=host.prepare_volumes(volumes), protect=args.protect)
    owner = pulumi.ComponentResource("test:index:App", "app")
    for volume_name in volumes:
        data_volume(volume_name, volume_name, state, parent=owner)
    # Asking twice for the same volume must not register its directory twice.
    if volumes:
        host.prepare_volumes(volumes[:1]).driver_opts(volumes[0])
    pulumi.export("serverIp", host.server_ip)
    pulumi.export("address", host.address)
    pulumi.export("sshCommand", host.ssh_command)
    return {"host": host}


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return run_components(lambda: build(ARGS))


def one(run: ProgramRun, type_token: str) -> Registration:
    found = run.of_type(type_token)
    assert len(found) == 1, f"{len(found)} resources of type {type_token}"
    return found[0]


def hcloud_id(run: ProgramRun, registration: Registration) -> int:
    return int(mock_id(registration.type, registration.name))


def test_registers_the_host_and_its_pieces(run: ProgramRun) -> None:
    host = run.named("host")
    assert host.type == "selfhost:index:HetznerHost"
    children = sorted((r.type, r.name) for r in run.children_of(host))
    assert children == sorted(
        [
            ("command:remote:Command", "host-dir-web-blog-db"),
            ("command:remote:Command", "host-dir-web-cloud-data"),
            ("command:remote:Command", "host-ready"),
            ("hcloud:index/firewall:Firewall", "host-firewall"),
            ("hcloud:index/primaryIp:PrimaryIp", "host-ipv4"),
            ("hcloud:index/rdns:Rdns", "host-rdns"),
            ("hcloud:index/server:Server", "host-server"),
            ("hcloud:index/sshKey:SshKey", f"host-ssh-key-{key_digest(ECDSA)}"),
            ("hcloud:index/sshKey:SshKey", f"host-ssh-key-{key_digest(ED25519)}"),
            ("hcloud:index/volume:Volume", "host-data"),
            ("hcloud:index/volumeAttachment:VolumeAttachment", "host-data-attachment"),
            ("pulumi:providers:docker", "host-docker"),
        ]
    )


def test_data_volume_is_protected_retained_and_formatted(run: ProgramRun) -> None:
    volume = one(run, VOLUME)
    assert volume.protect and volume.retain_on_delete
    assert volume.inputs["deleteProtection"] is True
    assert volume.inputs["size"] == 40
    assert volume.inputs["location"] == "nbg1"
    assert volume.inputs["format"] == "ext4"
    assert volume.inputs["automount"] is False


def test_primary_ip_outlives_the_server(run: ProgramRun) -> None:
    ip = one(run, "hcloud:index/primaryIp:PrimaryIp")
    assert ip.inputs["type"] == "ipv4"
    # terraform-provider-hcloud warns "Unused Attribute" on every run for assignee_type without
    # assignee_id; the server's public_net assigns the address instead.
    assert "assigneeType" not in ip.inputs and "assigneeId" not in ip.inputs
    assert ip.inputs["autoDelete"] is False
    assert ip.inputs["location"] == "nbg1"
    assert ip.protect and ip.inputs["deleteProtection"] is True  # protect=True in the args


def test_server_changes_to_user_data_or_keys_never_replace_it(run: ProgramRun) -> None:
    server = one(run, SERVER)
    assert sorted(server.ignore_changes) == ["sshKeys", "userData"]
    assert server.delete_before_replace  # the IP and the volume can belong to one server at a time
    assert not server.protect  # replacing it deliberately must stay possible


def test_server_inputs(run: ProgramRun) -> None:
    server = one(run, SERVER)
    inputs = server.inputs
    assert (inputs["name"], inputs["serverType"], inputs["image"], inputs["location"]) == (
        "web",
        "cx33",
        "debian-13",
        "nbg1",
    )
    assert inputs["backups"] is True
    assert inputs["shutdownBeforeDeletion"] is True
    assert inputs["labels"] == {"managed-by": "selfhost", "team": "web"}
    keys = run.of_type("hcloud:index/sshKey:SshKey")
    assert sorted(inputs["sshKeys"]) == sorted(mock_id(k.type, k.name) for k in keys)
    assert sorted(k.inputs["publicKey"] for k in keys) == sorted([ED25519, ECDSA])
    ip = one(run, "hcloud:index/primaryIp:PrimaryIp")
    assert inputs["publicNets"] == [{"ipv4Enabled": True, "ipv4": hcloud_id(run, ip), "ipv6Enabled": True}]


def test_user_data_is_the_rendered_cloud_config_for_this_volume(run: ProgramRun) -> None:
    volume_id = hcloud_id(run, one(run, VOLUME))
    user_data = one(run, SERVER).inputs["userData"]
    assert user_data == render_user_data(CloudInitOptions(volume_id, "04:00"))
    assert volume_device(volume_id) in user_data


def test_firewall_is_on_the_server_from_the_start_and_opens_only_web_ssh_icmp(run: ProgramRun) -> None:
    firewall = one(run, "hcloud:index/firewall:Firewall")
    assert one(run, SERVER).inputs["firewallIds"] == [hcloud_id(run, firewall)]
    rules = {(r["protocol"], r.get("port")): r for r in firewall.inputs["rules"]}
    assert set(rules) == {("tcp", "80"), ("tcp", "443"), ("tcp", "22"), ("icmp", None)}
    assert all(r["direction"] == "in" for r in rules.values())
    assert rules["tcp", "80"]["sourceIps"] == rules["tcp", "443"]["sourceIps"] == ["0.0.0.0/0", "::/0"]
    assert rules["icmp", None]["sourceIps"] == ["0.0.0.0/0", "::/0"]
    assert rules["tcp", "22"]["sourceIps"] == ["203.0.113.0/24", "2001:db8::/48"]


def test_volume_is_attached_to_the_server(run: ProgramRun) -> None:
    attachment = one(run, "hcloud:index/volumeAttachment:VolumeAttachment")
    assert attachment.inputs["serverId"] == hcloud_id(run, one(run, SERVER))
    assert attachment.inputs["volumeId"] == hcloud_id(run, one(run, VOLUME))
    assert attachment.delete_before_replace


def test_reverse_dns_is_on_the_primary_ip(run: ProgramRun) -> None:
    rdns = one(run, "hcloud:index/rdns:Rdns")
    ip = one(run, "hcloud:index/primaryIp:PrimaryIp")
    assert rdns.inputs == {"primaryIpId": hcloud_id(run, ip), "ipAddress": MOCK_SERVER_IP, "dnsPtr": "blog.example.com"}


def test_readiness_waits_for_the_attached_server(run: ProgramRun) -> None:
    ready = run.named("host-ready")
    volume_id = hcloud_id(run, one(run, VOLUME))
    assert ready.inputs["create"] == readiness_script(volume_device(volume_id))
    connection = ready.inputs["connection"]
    assert connection["host"] == MOCK_SERVER_IP and connection["user"] == "root"
    assert "privateKey" not in connection and "password" not in connection  # the ssh-agent's key, never in state
    # No local socket path in the state either: pulumi-command falls back to SSH_AUTH_SOCK.
    assert "agentSocketPath" not in connection
    # Bounded: pulumi-command counts a failed login as a dial error, and -1 retried it forever.
    for command in run.of_type(COMMAND):
        bounded = command.inputs["connection"]
        assert bounded["dialErrorLimit"] == DIAL_ERROR_LIMIT > 0, command.name
        assert bounded["perDialTimeout"] == PER_DIAL_TIMEOUT_SECONDS, command.name
    server, attachment = one(run, SERVER), run.named("host-data-attachment")
    assert ready.inputs["triggers"] == [mock_id(server.type, server.name), mock_id(attachment.type, attachment.name)]
    assert {server.urn, attachment.urn} <= set(ready.dependencies)


def test_provider_host_comes_from_the_readiness_output(run: ProgramRun) -> None:
    provider = run.named("host-docker")
    ready = run.named("host-ready")
    assert provider.inputs["host"] == f"ssh://root@{MOCK_SERVER_IP}"
    assert ready.urn in provider.property_dependencies["host"]
    assert ready.urn in provider.dependencies


def test_provider_ssh_options_work_against_a_fresh_server(run: ProgramRun) -> None:
    raw = run.named("host-docker").inputs["sshOpts"]
    options = json.loads(raw) if isinstance(raw, str) else raw  # provider config reaches the engine as JSON text
    pairs = [f"{flag} {value}" for flag, value in zip(options[::2], options[1::2], strict=True)]
    assert "-o StrictHostKeyChecking=accept-new" in pairs
    assert "-o UserKnownHostsFile=~/.ssh/selfhost_known_hosts" in pairs
    assert "-o BatchMode=yes" in pairs


def test_replacing_the_server_leaves_the_provider_configuration_alone() -> None:
    """Nothing in the provider's inputs derives from the server itself (a changed provider config may
    replace every Docker resource, which protected volumes would refuse)."""
    provider = run_components(lambda: build(ARGS)).named("host-docker")
    server_urn = provider.urn.replace("pulumi:providers:docker::host-docker", "hcloud:index/server:Server::host-server")
    for dependencies in provider.property_dependencies.values():
        assert server_urn not in dependencies


def test_each_docker_volume_binds_a_directory_made_after_readiness(run: ProgramRun) -> None:
    ready = run.named("host-ready")
    volumes = {v.inputs["name"]: v for v in run.of_type("docker:index/volume:Volume")}
    assert sorted(volumes) == sorted(DOCKER_VOLUMES)
    for name, volume in volumes.items():
        directory = run.named(f"host-dir-{name}")
        assert directory.parent == run.named("host").urn
        assert directory.inputs["create"] == volume_directory_script(name)
        assert "delete" not in directory.inputs  # removing the resource never removes data
        assert ready.urn in directory.dependencies
        assert volume.inputs["driverOpts"] == {"type": "none", "o": "bind", "device": f"/srv/selfhost/volumes/{name}"}
        assert directory.urn in volume.property_dependencies["driverOpts"]
        assert volume.retain_on_delete and volume.protect


def test_outputs_name_the_server_and_how_to_log_in(run: ProgramRun) -> None:
    assert run.outputs["serverIp"] == run.outputs["address"] == MOCK_SERVER_IP
    assert run.outputs["sshCommand"] == (
        "ssh -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=~/.ssh/selfhost_known_hosts "
        f"root@{MOCK_SERVER_IP}"
    )


def test_without_reverse_dns_and_unprotected() -> None:
    args = HetznerHostArgs(
        server_name="small",
        server_type="cax11",
        location="hel1",
        image="debian-13",
        ssh_public_keys=[ED25519],
        admin_cidrs=["198.51.100.7/32"],
        public_ports=[8080],
        volume_size_gb=10,
    )
    run = run_components(lambda: build(args, volumes=()))
    assert not run.of_type("hcloud:index/rdns:Rdns")
    assert not run.named("host-ipv4").protect
    volume = one(run, VOLUME)
    assert volume.protect and volume.retain_on_delete  # data is protected whatever the stack says
    rules = {(r["protocol"], r.get("port")) for r in one(run, "hcloud:index/firewall:Firewall").inputs["rules"]}
    assert rules == {("tcp", "8080"), ("tcp", "22"), ("icmp", None)}
    assert one(run, SERVER).inputs["backups"] is False
    assert "52selfhost-reboot" not in one(run, SERVER).inputs["userData"]


def test_reservations_protect_system_slice_after_readiness() -> None:
    """Without a MemoryLow on system.slice the kernel grants the containers' memory.low nothing."""
    run = run_components(lambda: build(dataclasses.replace(ARGS, reserved_memory_bytes=1696 * 1024**2)))
    protection, ready, server = run.named("host-memory-protection"), run.named("host-ready"), one(run, SERVER)
    assert protection.type == COMMAND
    assert protection.inputs["create"] == memory_protection_script(1696 * 1024**2)
    assert "MemoryLow=1696M" in protection.inputs["create"]
    assert ready.urn in protection.dependencies
    assert protection.inputs["triggers"] == [mock_id(server.type, server.name)]


def test_no_reservations_no_protection_command(run: ProgramRun) -> None:
    assert not [r for r in run.of_type(COMMAND) if r.name == "host-memory-protection"]


def test_a_volume_the_host_was_not_told_about_is_refused() -> None:
    """A volume outside ``prepare_volumes`` would land on the server's root disk and die with it."""

    def build_unprepared() -> None:
        host = HetznerHost("host", ARGS)
        state = StatePolicy(placement=host.prepare_volumes(["web-blog-db"]), protect=True)
        owner = pulumi.ComponentResource("test:index:App", "app")
        data_volume("stray", "web-stray", state, parent=owner)

    with pytest.raises(Exception, match=r"volume 'web-stray' was not prepared by the host.*prepared: web-blog-db"):
        run_components(build_unprepared)


def test_the_shipped_prod_stack_prepares_exactly_the_volumes_it_makes() -> None:
    from tests.mockstack import run_stack_file

    run = run_stack_file("prod")
    made = sorted(v.inputs["name"] for v in run.of_type("docker:index/volume:Volume"))
    prepared = sorted(r.name.removeprefix("host-dir-") for r in run.of_type(COMMAND) if r.name.startswith("host-dir-"))
    assert made == prepared
    assert made  # the prod stack has apps with state
