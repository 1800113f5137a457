"""Tier 1: the Hetzner server's user data, rendered; what it asks of the server.

Debian's `cloud-init schema` and the scripts' real runs are in test_cloud_init_live.py.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml

from components.hosts.hetzner.cloud_init import (
    DATA_MOUNT,
    PACKAGES,
    CloudInitOptions,
    fstab_line,
    memory_protection_script,
    mount_data_script,
    render_user_data,
    volume_device,
    volume_directory,
    volume_directory_script,
)

VOLUME_IDS = (1, 987654321)
REBOOT_TIMES = (None, "04:00", "23:59")
COMBINATIONS = [CloudInitOptions(v, r) for v, r in itertools.product(VOLUME_IDS, REBOOT_TIMES)]


def config_of(options: CloudInitOptions) -> dict[str, Any]:
    text = render_user_data(options)
    assert text.startswith("#cloud-config\n")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def written(options: CloudInitOptions) -> dict[str, dict[str, Any]]:
    return {item["path"]: item for item in config_of(options)["write_files"]}


@pytest.mark.parametrize("options", COMBINATIONS, ids=repr)
def test_rendering_is_deterministic(options: CloudInitOptions) -> None:
    assert render_user_data(options) == render_user_data(
        CloudInitOptions(options.volume_id, options.automatic_reboot_time)
    )


def test_installs_debians_docker_and_unattended_upgrades() -> None:
    document = config_of(COMBINATIONS[0])
    assert document["packages"] == list(PACKAGES) == ["docker.io", "docker-cli", "unattended-upgrades"]
    assert document["package_update"] is True and document["package_upgrade"] is True
    assert ["systemctl", "enable", "--now", "docker.service"] in document["runcmd"]
    auto = written(COMBINATIONS[0])["/etc/apt/apt.conf.d/20auto-upgrades"]
    assert 'APT::Periodic::Unattended-Upgrade "1";' in auto["content"]
    assert auto["defer"] is True


def test_ssh_allows_keys_only_and_root_by_key_only() -> None:
    document = config_of(COMBINATIONS[0])
    assert document["ssh_pwauth"] is False
    assert document["disable_root"] is False
    lines = written(COMBINATIONS[0])["/etc/ssh/sshd_config.d/10-selfhost.conf"]["content"].splitlines()
    for line in (
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
    ):
        assert line in lines
    assert ["systemctl", "reload", "ssh"] in document["runcmd"]


def test_docker_keeps_containers_running_across_daemon_restarts() -> None:
    daemon = yaml.safe_load(written(COMBINATIONS[0])["/etc/docker/daemon.json"]["content"])
    assert daemon["live-restore"] is True


def test_reboots_only_when_asked() -> None:
    assert "/etc/apt/apt.conf.d/52selfhost-reboot" not in written(CloudInitOptions(7))
    reboot = written(CloudInitOptions(7, "03:30"))["/etc/apt/apt.conf.d/52selfhost-reboot"]["content"]
    assert 'Unattended-Upgrade::Automatic-Reboot "true";' in reboot
    assert 'Unattended-Upgrade::Automatic-Reboot-Time "03:30";' in reboot


def test_volume_is_in_fstab_by_its_stable_device_id_with_nofail() -> None:
    fstab = written(CloudInitOptions(4242))["/etc/fstab"]
    assert fstab["append"] is True
    device, mount_point, fs_type, options, _, _ = fstab["content"].split()
    assert device == "/dev/disk/by-id/scsi-0HC_Volume_4242" == volume_device(4242)
    assert (mount_point, fs_type) == (DATA_MOUNT, "ext4")
    assert {"nofail", "discard", "x-systemd.before=docker.service"} <= set(options.split(","))
    assert fstab["content"] == fstab_line(4242)


def test_first_boot_mounts_the_volume_last() -> None:
    runcmd = config_of(CloudInitOptions(4242))["runcmd"]
    assert runcmd[-1] == ["sh", "-c", mount_data_script(volume_device(4242))]


@pytest.mark.parametrize(("volume_id", "time"), [(0, None), (-3, None), (5, "4:00"), (5, "24:00"), (5, "noon")])
def test_bad_options_are_refused(volume_id: int, time: str | None) -> None:
    with pytest.raises(ValueError):
        CloudInitOptions(volume_id, time)


def test_volume_directory_is_on_the_mount() -> None:
    assert volume_directory("selfhost-prod-blog-db") == "/srv/selfhost/volumes/selfhost-prod-blog-db"
    with pytest.raises(ValueError):
        volume_directory_script("a b; rm -rf /")


def test_memory_protection_sets_system_slice_in_mib() -> None:
    script = memory_protection_script(1696 * 1024**2)
    assert "systemctl set-property system.slice MemoryLow=1696M" in script.splitlines()


@pytest.mark.parametrize("size", [0, -(1024**2), 1024**2 + 1])
def test_memory_protection_refuses_what_is_not_whole_mib(size: int) -> None:
    with pytest.raises(ValueError, match="whole, positive number of MiB"):
        memory_protection_script(size)
