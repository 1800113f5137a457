"""Tier 2: the whole program under mocks with the real Pulumi.prod.yaml (host=hetzner).

Proves what the program sends: the Hetzner pieces, the Docker provider's host and its
dependency on the readiness step, where every Docker volume lives, what is protected and
retained, and that bad config stops the program before anything is registered. It does not
prove that Hetzner, cloud-init or Docker on the server behave as expected.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from config.loading import ConfigError, settings_from_config
from tests.mockstack import (
    MOCK_SERVER_IP,
    PROJECT_DIR,
    ProgramRun,
    RecordingMonitor,
    as_cli_string,
    mock_id,
    run_program,
    run_stack_file,
    stack_file_config,
)

PROD_FILE = PROJECT_DIR / "Pulumi.prod.yaml"
HETZNER: dict[str, Any] = stack_file_config("prod")[0]["selfhost:hetzner"]


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_stack_file("prod")


def provider_urn(run: ProgramRun) -> str:
    return run.named("host-docker").urn


def test_prod_file_is_the_documented_example() -> None:
    config = yaml.safe_load(PROD_FILE.read_text())["config"]
    assert config["selfhost:host"] == "hetzner"
    assert config["selfhost:tls"] == "letsencrypt" and "@" in config["selfhost:acmeEmail"]
    assert (config["selfhost:httpPort"], config["selfhost:httpsPort"], config["selfhost:protect"]) == (80, 443, True)
    assert config["selfhost:apps"] == {
        "blog": {"kind": "wordpress", "hostname": "blog.example.com"},
        "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
    }
    assert config["selfhost:hetzner"]["adminCidrs"] == ["203.0.113.0/24"]
    assert not any(isinstance(value, dict) and "secure" in value for value in config.values())  # no fake blobs
    text = PROD_FILE.read_text()
    assert "PRIVATE KEY" not in text
    assert "pulumi config set --secret hcloud:token" in text


def test_the_host_is_hetzner(prod: ProgramRun) -> None:
    assert prod.named("host").type == "selfhost:index:HetznerHost"
    assert not prod.of_type("selfhost:index:LocalDockerHost")
    server = prod.named("host-server")
    assert server.inputs["serverType"] == "cx23" and server.inputs["location"] == "fsn1"
    assert server.inputs["backups"] is True
    assert sorted(server.ignore_changes) == ["sshKeys", "userData"]


def test_firewall_rules_and_attachment(prod: ProgramRun) -> None:
    firewall = prod.named("host-firewall")
    rules = sorted((r["protocol"], r.get("port", ""), tuple(r["sourceIps"])) for r in firewall.inputs["rules"])
    assert rules == [
        ("icmp", "", ("0.0.0.0/0", "::/0")),
        ("tcp", "22", ("203.0.113.0/24",)),
        ("tcp", "443", ("0.0.0.0/0", "::/0")),
        ("tcp", "80", ("0.0.0.0/0", "::/0")),
    ]
    assert prod.named("host-server").inputs["firewallIds"] == [int(mock_id(firewall.type, firewall.name))]


def test_every_docker_resource_goes_through_the_server_after_readiness(prod: ProgramRun) -> None:
    provider = prod.named("host-docker")
    ready = prod.named("host-ready")
    assert provider.inputs["host"] == f"ssh://root@{MOCK_SERVER_IP}"
    assert ready.urn in provider.property_dependencies["host"]
    docker = [r for r in prod.registrations if r.type.startswith("docker:")]
    assert docker
    for resource in docker:
        assert resource.provider.startswith(provider.urn + "::"), resource.name


def test_every_docker_volume_lives_on_the_hetzner_volume(prod: ProgramRun) -> None:
    volumes = prod.of_type("docker:index/volume:Volume")
    assert sorted(v.inputs["name"] for v in volumes) == sorted(
        f"selfhost-prod-{suffix}"
        for suffix in (
            *("blog-db-data", "blog-html", "cloud-data", "cloud-db-data", "cloud-html", "proxy-acme"),
            # The backups': the scheduler's state and each app's dumps (the repository is in S3).
            *("backup-state", "blog-backup", "cloud-backup"),
        )
    )
    for volume in volumes:
        name = volume.inputs["name"]
        directory = prod.named(f"host-dir-{name}")
        assert volume.inputs["driver"] == "local"
        assert volume.inputs["driverOpts"] == {"type": "none", "o": "bind", "device": f"/srv/selfhost/volumes/{name}"}
        assert directory.urn in volume.property_dependencies["driverOpts"]
        assert prod.named("host-ready").urn in directory.dependencies
        assert volume.protect and volume.retain_on_delete


def test_hetzner_volume_and_address_outlive_the_server(prod: ProgramRun) -> None:
    volume = prod.named("host-data")
    assert volume.protect and volume.retain_on_delete and volume.inputs["deleteProtection"] is True
    ip = prod.named("host-ipv4")
    assert ip.inputs["autoDelete"] is False and ip.protect
    rdns = prod.named("host-rdns")
    assert rdns.inputs["dnsPtr"] == "blog.example.com"


def test_outputs(prod: ProgramRun) -> None:
    outputs = prod.outputs
    assert outputs["urls"] == {"blog": "https://blog.example.com", "cloud": "https://cloud.example.com"}
    assert outputs["address"] == outputs["serverIp"] == MOCK_SERVER_IP
    assert outputs["sshCommand"].startswith("ssh ") and outputs["sshCommand"].endswith(f" root@{MOCK_SERVER_IP}")


def test_system_slice_is_protected_by_exactly_the_containers_reservations(prod: ProgramRun) -> None:
    """The sum the server protects is the sum of what every container in the graph reserves."""
    reserved = sum(int(c.inputs["memoryReservation"]) for c in prod.of_type("docker:index/container:Container"))
    protection = prod.named("host-memory-protection")
    assert f"MemoryLow={reserved}M" in protection.inputs["create"]


def run_with_hetzner(changes: dict[str, Any], monitors: list[RecordingMonitor]) -> ProgramRun:
    hetzner = {**HETZNER, **changes}
    return run_stack_file_monitored({"selfhost:hetzner": hetzner}, monitors)


def run_stack_file_monitored(overrides: dict[str, Any], monitors: list[RecordingMonitor]) -> ProgramRun:
    values, secret_keys = stack_file_config("prod")
    return run_program({**values, **overrides}, stack="prod", secret_keys=secret_keys, monitors=monitors)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"adminCidrs": ["203.0.113.0/240"]}, r"selfhost:hetzner\.adminCidrs\.0: '203\.0\.113\.0/240' is not a CIDR"),
        ({"serverType": "cx21"}, r"selfhost:hetzner\.serverType: unknown server type 'cx21'"),
        ({"location": "fra1"}, r"selfhost:hetzner\.location: unknown location 'fra1'"),
        ({"sshPublicKeys": []}, r"selfhost:hetzner\.sshPublicKeys: needs at least one OpenSSH public key"),
        (
            {"serverType": "cpx12"},
            r"selfhost:hetzner\.serverType: cpx12 has 2Gi .* smallest server type that fits is cpx22",
        ),
    ],
)
def test_bad_hetzner_config_registers_nothing(changes: dict[str, Any], expected: str) -> None:
    monitors: list[RecordingMonitor] = []
    with pytest.raises(ConfigError, match=expected):
        run_with_hetzner(changes, monitors)
    assert monitors and monitors[0].registrations == []


def test_missing_ssh_keys_key_registers_nothing() -> None:
    monitors: list[RecordingMonitor] = []
    hetzner = {key: value for key, value in HETZNER.items() if key != "sshPublicKeys"}
    with pytest.raises(ConfigError, match=r"selfhost:hetzner\.sshPublicKeys: is required"):
        run_stack_file_monitored({"selfhost:hetzner": hetzner}, monitors)
    assert monitors and monitors[0].registrations == []


def test_host_hetzner_without_its_settings_registers_nothing() -> None:
    monitors: list[RecordingMonitor] = []
    values, secret_keys = stack_file_config("prod")
    del values["selfhost:hetzner"]
    with pytest.raises(ConfigError, match=r"selfhost:hetzner: host=hetzner needs the server's settings"):
        run_program(values, stack="prod", secret_keys=secret_keys, monitors=monitors)
    assert monitors and monitors[0].registrations == []


def test_more_memory_moves_the_check_not_the_graph() -> None:
    """Raising an app's memory limit past cx23 fails; choosing the named type makes the same config pass."""
    apps = {
        "blog": {"kind": "wordpress", "hostname": "blog.example.com", "memory": {"app": "5Gi"}},
        "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
    }
    monitors: list[RecordingMonitor] = []
    with pytest.raises(ConfigError, match="smallest server type that fits is cx33") as caught:
        run_stack_file_monitored({"selfhost:apps": apps}, monitors)
    assert monitors and monitors[0].registrations == []
    # 5Gi for the blog's app beside the other containers' reservations (1440Mi, + 42Mi for the blog's
    # microcache in the proxy, + 112Mi for the backups' scheduler and helpers: components/backups/memory.py)
    # and the OS (768Mi).
    assert "selfhost:apps.blog.memory.app: the limit 5Gi does not fit cx23 (4Gi)" in str(caught.value)
    assert "7482Mi is needed" in str(caught.value)
    run = run_stack_file_monitored(
        {"selfhost:apps": apps, "selfhost:hetzner": {**HETZNER, "serverType": "cx33"}}, monitors
    )
    assert run.named("host-server").inputs["serverType"] == "cx33"


def _snapshot(run: ProgramRun) -> list[tuple[str, str, str]]:
    return sorted((r.type, r.name, json.dumps(r.inputs, sort_keys=True, default=str)) for r in run.registrations)


def test_two_runs_register_identical_inputs(prod: ProgramRun) -> None:
    assert _snapshot(prod) == _snapshot(run_stack_file("prod"))


def test_capacity_check_counts_exactly_the_containers_the_stack_runs(prod: ProgramRun) -> None:
    """The check budgets config; the graph's containers carry the same limits and reservations, in MiB."""
    values, secret_keys = stack_file_config("prod")
    settings = settings_from_config(
        {key: as_cli_string(value) for key, value in values.items()}, frozenset(secret_keys)
    )
    containers = prod.of_type("docker:index/container:Container")
    deployed = sorted((c.inputs["memory"], c.inputs["memoryReservation"]) for c in containers)
    assert all(reservation <= limit for limit, reservation in deployed)
    budgets = settings.memory_budgets()
    # The proxy container carries proxyMemory and every app's microcache (apps.<name>.microcache.size budgets).
    proxy = [b for b in budgets if b.group == "proxy"]
    assert [b.limit_key for b in proxy] == ["proxyMemory", "apps.blog.microcache.size"]
    expected = [(b.limit, b.reservation) for b in budgets if b.group != "proxy"]
    expected.append((sum(b.limit for b in proxy), sum(b.reservation for b in proxy)))
    assert deployed == sorted((limit // 1024**2, reservation // 1024**2) for limit, reservation in expected)
