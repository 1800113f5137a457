"""What the Hetzner server runs: its first-boot cloud-config, and the scripts Pulumi runs over SSH.

The cloud-config installs Debian's docker.io (Debian-signed, security fixes through
Debian-Security, which unattended-upgrades applies; no third-party apt key to pin),
hardens SSH, turns on unattended security upgrades and mounts the data volume. It is
rendered deterministically: the server ignores later changes to it (see docs/hetzner.md),
so anything that must stay changeable lives in the SSH scripts below instead.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any

import yaml

from components.core.fields import TIME_OF_DAY

DATA_MOUNT = "/srv/selfhost"
"""Where the Hetzner volume is mounted."""
VOLUMES_DIR = f"{DATA_MOUNT}/volumes"
"""Parent of the directories that back the stack's Docker volumes."""
VOLUME_WAIT_SECONDS = 300
"""How long to wait for the volume to appear: Pulumi attaches it just after the server is created."""

SSHD_DROP_IN = "/etc/ssh/sshd_config.d/10-selfhost.conf"
"""sshd takes the first value it reads, and Debian includes sshd_config.d/*.conf first; 10- sorts early."""
SSHD_SETTINGS = {
    "PasswordAuthentication": "no",
    "KbdInteractiveAuthentication": "no",
    "PermitEmptyPasswords": "no",
    "PubkeyAuthentication": "yes",
    # Pulumi's Docker provider connects as root over SSH; root may log in with a key only.
    "PermitRootLogin": "prohibit-password",
    "X11Forwarding": "no",
}
DOCKER_DAEMON = {
    # Containers keep running while dockerd restarts for a security update.
    "live-restore": True,
    "log-driver": "json-file",
    "log-opts": {"max-file": "3", "max-size": "10m"},
}
PACKAGES = ("docker.io", "docker-cli", "unattended-upgrades")
_DOCKER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class CloudInitOptions:
    volume_id: int
    """Hetzner id of the data volume."""
    automatic_reboot_time: str | None = None
    """HH:MM (server time, UTC) at which unattended-upgrades may reboot for a kernel update; None: never."""

    def __post_init__(self) -> None:
        if self.volume_id <= 0:
            raise ValueError(f"volume id must be positive, got {self.volume_id}")
        if self.automatic_reboot_time is not None and not TIME_OF_DAY.fullmatch(self.automatic_reboot_time):
            raise ValueError(f"reboot time must be HH:MM, got {self.automatic_reboot_time!r}")


def volume_device(volume_id: int) -> str:
    """The stable Linux device path of a Hetzner Cloud Volume."""
    return f"/dev/disk/by-id/scsi-0HC_Volume_{volume_id}"


def fstab_line(volume_id: int) -> str:
    # nofail: boot even when the volume is missing. The device timeout keeps that wait short,
    # and ordering the mount before docker.service means containers never start on an
    # unmounted directory (their volume directories exist only on the volume, so they would
    # fail rather than write to the root disk).
    options = "discard,nofail,x-systemd.device-timeout=30s,x-systemd.before=docker.service"
    return f"{volume_device(volume_id)} {DATA_MOUNT} ext4 {options} 0 2\n"


def mount_data_script(device: str, mount_point: str = DATA_MOUNT, wait_seconds: int = VOLUME_WAIT_SECONDS) -> str:
    """Idempotent: wait for the volume's device, mount it by its fstab entry, make the volumes directory on it."""
    quoted_device = shlex.quote(device)
    mount = shlex.quote(mount_point)
    return f"""set -eu
waited=0
until [ -b {quoted_device} ]; do
  if [ "$waited" -ge {wait_seconds} ]; then
    echo "selfhost: data volume {device} is not attached after {wait_seconds}s" >&2
    exit 1
  fi
  sleep 1
  waited=$((waited + 1))
done
mountpoint -q {mount} || mount {mount}
mountpoint -q {mount}
[ -d {mount}/volumes ] || mkdir -m 0711 {mount}/volumes
"""


def readiness_script(device: str, mount_point: str = DATA_MOUNT) -> str:
    """Succeeds once cloud-init is done, the volume is mounted and Docker answers; prints Docker's version."""
    return (
        """set -eu
status=0
cloud-init status --wait >/dev/null || status=$?
# 2 means done with recoverable problems (e.g. deprecated keys, cloud-init 23.4+); 1 means failed.
if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
  cloud-init status --long >&2
  exit 1
fi
"""
        + mount_data_script(device, mount_point)
        + "docker info --format '{{.ServerVersion}}'\n"
    )


def volume_directory_script(volume_name: str, mount_point: str = DATA_MOUNT) -> str:
    """Create the directory behind one Docker volume, on the mounted volume only; never touch an existing one."""
    if not _DOCKER_NAME.fullmatch(volume_name):
        raise ValueError(f"{volume_name!r} is not a Docker volume name")
    mount = shlex.quote(mount_point)
    directory = shlex.quote(f"{mount_point}/volumes/{volume_name}")
    return f"""set -eu
mountpoint -q {mount}
[ -d {directory} ] || mkdir -m 0755 {directory}
"""


MEMORY_LOW_UNIT = "system.slice"
"""Where Docker's systemd cgroup driver puts every container (``system.slice/docker-<id>.scope``)."""


def memory_protection_script(reserved_bytes: int) -> str:
    """Let the containers' memory reservations take effect: protect ``system.slice`` by their sum.

    Docker passes a container's ``memory_reservation`` to runc as the scope's ``memory.low``, but
    the kernel bounds a cgroup's protection by its ancestors' ("Effective low boundary is limited
    by memory.low values of all ancestor cgroups", Documentation/admin-guide/cgroup-v2.rst), and
    systemd gives ``system.slice`` none by default: without this the reservations protect
    nothing. ``systemctl set-property`` applies it at once and keeps it across reboots (a drop-in
    under /etc/systemd/system.control). Prints the value systemd now holds.
    """
    if reserved_bytes <= 0 or reserved_bytes % 1024**2:
        raise ValueError(f"{reserved_bytes} is not a whole, positive number of MiB")
    return f"""set -eu
systemctl set-property {MEMORY_LOW_UNIT} MemoryLow={reserved_bytes // 1024**2}M
systemctl show --property=MemoryLow --value {MEMORY_LOW_UNIT}
"""


def volume_directory(volume_name: str) -> str:
    return f"{VOLUMES_DIR}/{volume_name}"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so the user data reads like the files it writes."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def cloud_config(options: CloudInitOptions) -> dict[str, Any]:
    unattended = 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n'
    files: list[dict[str, Any]] = [
        {
            "path": SSHD_DROP_IN,
            "owner": "root:root",
            "permissions": "0644",
            "content": "".join(f"{key} {value}\n" for key, value in SSHD_SETTINGS.items()),
        },
        {
            "path": "/etc/docker/daemon.json",
            "owner": "root:root",
            "permissions": "0644",
            "content": json.dumps(DOCKER_DAEMON, indent=2, sort_keys=True) + "\n",
        },
        {"path": "/etc/fstab", "append": True, "content": fstab_line(options.volume_id)},
        # Deferred until the packages are in: unattended-upgrades' own setup must not overwrite them.
        {
            "path": "/etc/apt/apt.conf.d/20auto-upgrades",
            "owner": "root:root",
            "permissions": "0644",
            "content": unattended,
            "defer": True,
        },
    ]
    if options.automatic_reboot_time is not None:
        files.append(
            {
                "path": "/etc/apt/apt.conf.d/52selfhost-reboot",
                "owner": "root:root",
                "permissions": "0644",
                "content": (
                    'Unattended-Upgrade::Automatic-Reboot "true";\n'
                    f'Unattended-Upgrade::Automatic-Reboot-Time "{options.automatic_reboot_time}";\n'
                ),
                "defer": True,
            }
        )
    return {
        # Hetzner puts the server's SSH keys into root's authorized_keys; keep root usable with them.
        "disable_root": False,
        "ssh_pwauth": False,
        "package_update": True,
        "package_upgrade": True,
        "packages": list(PACKAGES),
        "write_files": files,
        "runcmd": [
            # Debian's ssh.service runs `sshd -t` before it reloads: a bad drop-in cannot take SSH down.
            ["systemctl", "reload", "ssh"],
            ["systemctl", "enable", "--now", "docker.service"],
            # Last: its status is the status of runcmd, so cloud-init reports an error if it fails.
            ["sh", "-c", mount_data_script(volume_device(options.volume_id))],
        ],
    }


def render_user_data(options: CloudInitOptions) -> str:
    """The server's user data: a #cloud-config document, the same text for the same options."""
    body = yaml.dump(cloud_config(options), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=False)
    return (
        "#cloud-config\n"
        "# selfhost Docker host, rendered by components/hosts/hetzner/cloud_init.py. The server ignores later changes\n"
        "# to this text; docs/hetzner.md says how to roll one out.\n" + body
    )
