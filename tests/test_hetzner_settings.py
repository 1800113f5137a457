"""Tier 1: the hetzner settings, the server-type table and the capacity check, through the real loader."""

from __future__ import annotations

import json
from typing import Any

import pytest

from config.hetzner import (
    LOCATIONS,
    SERVER_TYPES,
    HetznerSettings,
    ServerType,
    capacity_problem,
    smallest_fitting,
    ssh_key_identity,
)
from config.loading import ConfigError, config_keys, settings_from_config
from config.settings import StackSettings
from tests.mockstack import PROJECT_DIR

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOaW+RC+QOf2afHJ49m0fCOSutw+QwSy0BSjPujBglUU admin@example.com"
ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBP1T3TxW6947ZbygchJoD7RyI8S08+hklXzh"
    "SmCfT8eM6FuW96brIbb0D0i13QucMrAmN10wtDu6x/HyW9WwNjw= ci@example.com"
)
APPS = {"blog": {"kind": "wordpress", "hostname": "blog.example.com"}}
MINIMAL = {"sshPublicKeys": [ED25519], "adminCidrs": ["203.0.113.0/24"]}
MiB = 1024**2


def load(hetzner: dict[str, Any] | None, host: str = "hetzner", **extra: str) -> StackSettings:
    config = {
        "selfhost:apps": json.dumps(APPS),
        "selfhost:host": host,
        **{f"selfhost:{k}": v for k, v in extra.items()},
    }
    if hetzner is not None:
        config["selfhost:hetzner"] = json.dumps(hetzner)
    return settings_from_config(config)


def error_of(hetzner: dict[str, Any] | None, host: str = "hetzner", **extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(hetzner, host, **extra)
    return str(caught.value)


def test_minimal_settings_take_the_documented_defaults() -> None:
    settings = load(MINIMAL)
    assert settings.hetzner is not None
    assert settings.hetzner.server_type == "cx33"
    assert settings.hetzner.location == "fsn1"
    assert settings.hetzner.image == "debian-13"
    assert settings.hetzner.backups is False
    assert settings.hetzner.reverse_dns is None
    assert settings.hetzner.volume_size_gb == 50


def test_admin_cidrs_are_normalised() -> None:
    settings = load({**MINIMAL, "adminCidrs": ["198.51.100.7", "2001:DB8::/48"]})
    assert settings.hetzner is not None
    assert settings.hetzner.admin_cidrs == ["198.51.100.7/32", "2001:db8::/48"]


def test_several_key_types_are_accepted() -> None:
    settings = load({**MINIMAL, "sshPublicKeys": [ED25519, ECDSA]})
    assert settings.hetzner is not None
    assert len(settings.hetzner.ssh_public_keys) == 2


@pytest.mark.parametrize(
    ("hetzner", "expected"),
    [
        (
            {**MINIMAL, "adminCidrs": ["203.0.113.0/33"]},
            "selfhost:hetzner.adminCidrs.0: '203.0.113.0/33' is not a CIDR",
        ),
        (
            {**MINIMAL, "adminCidrs": ["203.0.113.1/24"]},
            "selfhost:hetzner.adminCidrs.0: '203.0.113.1/24' is not a CIDR",
        ),
        ({**MINIMAL, "adminCidrs": ["my-laptop"]}, "selfhost:hetzner.adminCidrs.0: 'my-laptop' is not a CIDR network"),
        ({**MINIMAL, "adminCidrs": []}, "selfhost:hetzner.adminCidrs: needs at least one network"),
        ({"sshPublicKeys": [ED25519]}, "selfhost:hetzner.adminCidrs: is required"),
        (
            {**MINIMAL, "serverType": "cx99"},
            "selfhost:hetzner.serverType: unknown server type 'cx99'; known types: cax11",
        ),
        (
            {**MINIMAL, "location": "fra1"},
            "selfhost:hetzner.location: unknown location 'fra1'; Hetzner Cloud locations: fsn1",
        ),
        ({"adminCidrs": ["203.0.113.0/24"]}, "selfhost:hetzner.sshPublicKeys: is required"),
        ({**MINIMAL, "sshPublicKeys": []}, "selfhost:hetzner.sshPublicKeys: needs at least one OpenSSH public key"),
        (
            {**MINIMAL, "sshPublicKeys": ["AAAAC3Nza me@laptop"]},
            "selfhost:hetzner.sshPublicKeys.0: 'AAAAC3Nza me@laptop'",
        ),
        (
            {**MINIMAL, "sshPublicKeys": [ED25519[:60]]},
            "selfhost:hetzner.sshPublicKeys.0: the key data of the ssh-ed25519",
        ),
        (
            {**MINIMAL, "sshPublicKeys": ["ssh-rsa " + ED25519.split()[1]]},
            "selfhost:hetzner.sshPublicKeys.0: the key data of the ssh-rsa key",
        ),
        (
            {**MINIMAL, "sshPublicKeys": ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl"]},
            "selfhost:hetzner.sshPublicKeys.0: this is a private key",
        ),
        ({**MINIMAL, "sshPublicKeys": [ED25519, ED25519]}, "selfhost:hetzner.sshPublicKeys: listed twice"),
        ({**MINIMAL, "image": "debian-12"}, "selfhost:hetzner.image: 'debian-12' is not supported"),
        ({**MINIMAL, "image": "ubuntu-24.04"}, "selfhost:hetzner.image: 'ubuntu-24.04' is not supported"),
        ({**MINIMAL, "volumeSizeGb": 5}, "selfhost:hetzner.volumeSizeGb: input should be greater than or equal to 10"),
        ({**MINIMAL, "reverseDns": "Not A Name"}, "selfhost:hetzner.reverseDns: 'Not A Name' is not a host name"),
        ({**MINIMAL, "serverName": "Web_1"}, "selfhost:hetzner.serverName: 'Web_1' is not a server name"),
        ({**MINIMAL, "labels": {"hetzner.cloud/owner": "me"}}, "the hetzner.cloud prefix is reserved"),
        ({**MINIMAL, "labels": {"-team": "web"}}, "label key '-team': the name must be"),
        ({**MINIMAL, "labels": {"team": "web team"}}, "label team='web team': a value must be"),
        ({**MINIMAL, "labels": {"Example.com/team": "web"}}, "the prefix before '/' must be a lower-case DNS name"),
        (
            {**MINIMAL, "backup": True},
            "selfhost:hetzner.backup: unknown key 'backup'; allowed here: adminCidrs, automaticRebootTime, backups",
        ),
        ({**MINIMAL, "memoryReserve": "0.5g"}, "selfhost:hetzner.memoryReserve: '0.5g' is not a memory size"),
        ({**MINIMAL, "automaticRebootTime": "4am"}, "selfhost:hetzner.automaticRebootTime: '4am' is not a time of day"),
    ],
)
def test_bad_input_names_the_key(hetzner: dict[str, Any], expected: str) -> None:
    assert expected in error_of(hetzner)


def test_labels_that_follow_hetzner_rules_pass() -> None:
    labels = {"team": "web", "example.com/cost-center": "a_1.b", "empty": ""}
    settings = load({**MINIMAL, "labels": labels})
    assert settings.hetzner is not None
    assert settings.hetzner.labels == labels


def test_host_hetzner_without_settings_says_what_to_set() -> None:
    message = error_of(None)
    assert "selfhost:hetzner: host=hetzner needs the server's settings" in message
    assert "sshPublicKeys" in message and "adminCidrs" in message


def test_hetzner_settings_with_host_local_are_an_error() -> None:
    message = error_of(MINIMAL, host="local")
    assert "selfhost:hetzner: is only used with host=hetzner" in message
    assert "pulumi config rm hetzner" in message


def test_empty_hetzner_value_means_unset() -> None:
    """Pulumi.yaml's default for the key is "", which the CLI passes to every stack that does not set it."""
    settings = settings_from_config({"selfhost:apps": json.dumps(APPS), "selfhost:hetzner": ""})
    assert settings.hetzner is None


# The server-type table.


def test_table_has_the_documented_families() -> None:
    for family, sizes in {
        "cx": ("22", "23", "32", "33", "42", "43", "52", "53"),
        "cpx": ("11", "12", "21", "22", "31", "32", "41", "42", "51", "52", "62"),
        "cax": ("11", "21", "31", "41"),
        "ccx": ("13", "23", "33", "43", "53", "63"),
    }.items():
        for size in sizes:
            assert f"{family}{size}" in SERVER_TYPES


@pytest.mark.parametrize("server", list(SERVER_TYPES.values()), ids=list(SERVER_TYPES))
def test_table_rows_are_consistent(server: ServerType) -> None:
    assert server.vcpus >= 1 and server.memory_gib >= 2 and server.disk_gb >= 40
    assert (server.architecture == "arm") == server.name.startswith("cax")
    assert (server.cpu == "dedicated") == server.name.startswith("ccx")


def test_a_few_published_figures() -> None:
    def row(name: str) -> tuple[int, int, int, str]:
        server = SERVER_TYPES[name]
        return server.vcpus, server.memory_gib, server.disk_gb, server.architecture

    assert row("cx23") == (2, 4, 40, "x86")
    assert row("cax11") == (2, 4, 40, "arm")
    assert row("cpx22") == (2, 4, 80, "x86")
    assert row("ccx13") == (2, 8, 80, "x86")
    assert row("ccx63") == (48, 192, 960, "x86")


def test_locations_are_hetzners() -> None:
    assert set(LOCATIONS) == {"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}


# The capacity check: a pure function, and through the loader before anything is registered.


def test_capacity_fits_exactly_at_the_boundary() -> None:
    cx23 = SERVER_TYPES["cx23"]
    assert capacity_problem(cx23, 512 * MiB, {"a": 3584 * MiB}) is None
    problem = capacity_problem(cx23, 512 * MiB, {"a": 3585 * MiB})
    assert problem is not None and "The smallest server type that fits is cx33" in problem


def test_smallest_fitting_prefers_current_types_and_the_same_family() -> None:
    assert smallest_fitting(5 * 1024**3, SERVER_TYPES["cx23"]) == SERVER_TYPES["cx33"]
    assert smallest_fitting(5 * 1024**3, SERVER_TYPES["cx22"]) == SERVER_TYPES["cx33"]  # not the legacy cx32
    assert smallest_fitting(5 * 1024**3, SERVER_TYPES["cax11"]) == SERVER_TYPES["cax21"]
    assert smallest_fitting(5 * 1024**3, SERVER_TYPES["cpx22"]) == SERVER_TYPES["cpx32"]
    assert smallest_fitting(20 * 1024**3, SERVER_TYPES["cx23"]) == SERVER_TYPES["cpx52"]  # 24Gi: no cx has it
    assert smallest_fitting(40 * 1024**3, SERVER_TYPES["cx53"]) == SERVER_TYPES["ccx43"]
    assert smallest_fitting(193 * 1024**3, SERVER_TYPES["ccx63"]) is None


def test_capacity_overflow_is_a_config_error_naming_the_smallest_type() -> None:
    apps = {
        "blog": {"kind": "wordpress", "hostname": "blog.example.com"},
        "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
    }
    config = {
        "selfhost:apps": json.dumps(apps),
        "selfhost:host": "hetzner",
        "selfhost:hetzner": json.dumps({**MINIMAL, "serverType": "cx23"}),
    }
    with pytest.raises(ConfigError) as caught:
        settings_from_config(config)
    message = str(caught.value)
    assert message.startswith("invalid stack configuration:\n  selfhost:hetzner.serverType: cx23 has 4Gi of memory")
    # 512+512+64+256 (blog) + 1024+512+512+128 (cloud) + 128 (proxy) = 3648Mi, + 768Mi reserve
    assert "add up to 3648Mi (apps.blog.memory 1344Mi, apps.cloud.memory 2176Mi, proxyMemory 128Mi)" in message
    assert "4416Mi is needed" in message
    assert "The smallest server type that fits is cx33" in message
    assert "pulumi config set --path hetzner.serverType cx33" in message


def test_capacity_counts_every_memory_setting_and_the_proxy() -> None:
    settings = load(MINIMAL, proxyMemory="256Mi")
    # WordPress: app, database, cache and the wp-cli (cron) container.
    assert settings.memory_limits() == {"apps.blog.memory": (512 + 512 + 64 + 256) * MiB, "proxyMemory": 256 * MiB}


def test_lower_reserve_or_limits_make_it_fit() -> None:
    apps = {"blog": {"kind": "wordpress", "hostname": "blog.example.com", "memory": {"app": "256Mi"}}}
    config = {
        "selfhost:apps": json.dumps(apps),
        "selfhost:host": "hetzner",
        "selfhost:hetzner": json.dumps({**MINIMAL, "serverType": "cpx12", "memoryReserve": "512Mi"}),
    }
    settings = settings_from_config(config)  # (256+512+64+256+128)Mi + 512Mi = 1728Mi <= 2Gi
    assert settings.hetzner is not None and settings.hetzner.server_type == "cpx12"


def test_capacity_is_not_checked_for_the_local_host() -> None:
    apps = {"blog": {"kind": "wordpress", "hostname": "blog.localhost", "memory": {"app": "64Gi"}}}
    settings = settings_from_config({"selfhost:apps": json.dumps(apps)})
    assert settings.hetzner is None


def test_docs_list_every_hetzner_key() -> None:
    docs = (PROJECT_DIR / "docs" / "hetzner.md").read_text()
    for key in config_keys(HetznerSettings):
        assert f"| `{key}` |" in docs, f"docs/hetzner.md has no row for hetzner.{key}"
    assert "pulumi config set --secret hcloud:token" in docs


def test_the_same_key_with_another_comment_is_one_key() -> None:
    relabelled = ED25519.rsplit(" ", 1)[0] + " laptop-2"
    assert ssh_key_identity(relabelled) == ssh_key_identity(ED25519)
    assert ssh_key_identity(ED25519) != ssh_key_identity(ECDSA)
    message = error_of({**MINIMAL, "sshPublicKeys": [ED25519, ECDSA, relabelled]})
    assert "selfhost:hetzner.sshPublicKeys: entries 0 and 2 are the same OpenSSH public key" in message
    assert "with different comments" in message


def test_a_key_without_a_comment_and_with_one_are_the_same_key() -> None:
    bare = " ".join(ED25519.split()[:2])
    assert "entries 0 and 1 are the same" in error_of({**MINIMAL, "sshPublicKeys": [bare, ED25519]})


@pytest.mark.parametrize("port_key", ["httpPort", "httpsPort"])
def test_ssh_port_is_refused_as_a_public_port_on_hetzner_only(port_key: str) -> None:
    assert f"selfhost:{port_key}: 22 is SSH's port on the Hetzner server" in error_of(MINIMAL, **{port_key: "22"})
    assert load(None, host="local", **{port_key: "22"}).host == "local"


@pytest.mark.parametrize(
    "time", ["04:00\n", "\n04:00", "4:00", "04:00 ", "24:00"], ids=["trailing-nl", "leading-nl", "h", "space", "24"]
)
def test_reboot_time_must_be_exactly_hh_mm(time: str) -> None:
    assert "HH:MM in UTC" in error_of({**MINIMAL, "automaticRebootTime": time})
