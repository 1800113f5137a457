"""Tier 3: the user data through Debian's `cloud-init schema`, and the server scripts run for real.

The schema check covers every combination of options. The shell scripts run in a private
mount namespace (`unshare -m`, as root) with a fake block device, a test fstab that mounts a
tmpfs, and fake `cloud-init`/`docker` commands; shellcheck reads them too. What this cannot
prove: that Hetzner attaches the volume under that device name, or that Debian's packages
behave on a real first boot; that takes a real server (docs/hetzner.md).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.hosts.hetzner.cloud_init import (
    CloudInitOptions,
    memory_protection_script,
    mount_data_script,
    readiness_script,
    render_user_data,
    volume_device,
    volume_directory_script,
)
from tests.test_cloud_init import COMBINATIONS

pytestmark = pytest.mark.live

CLOUD_INIT = shutil.which("cloud-init")
if CLOUD_INIT is None:
    pytest.skip("cloud-init not installed (apt-get install cloud-init)", allow_module_level=True)


def schema_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert CLOUD_INIT is not None
    path = tmp_path / "user-data.yaml"
    path.write_text(text)
    # The CLI runs on the system Python, not this venv's.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "PYTHON"))}
    return subprocess.run(
        [CLOUD_INIT, "schema", "--config-file", str(path)], capture_output=True, text=True, env=env, check=False
    )


@pytest.mark.parametrize("options", COMBINATIONS, ids=repr)
def test_user_data_passes_cloud_init_schema(options: CloudInitOptions, tmp_path: Path) -> None:
    result = schema_check(render_user_data(options), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid cloud-config" in result.stdout


def test_schema_check_rejects_a_broken_document(tmp_path: Path) -> None:
    """The check above is not vacuous: the same command fails on a wrong type."""
    broken = render_user_data(COMBINATIONS[0]).replace("package_upgrade: true", "package_upgrade: sometimes")
    result = schema_check(broken, tmp_path)
    assert result.returncode != 0
    assert "package_upgrade" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "script",
    [
        readiness_script(volume_device(5)),
        mount_data_script(volume_device(5)),
        volume_directory_script("selfhost-prod-blog-db"),
        memory_protection_script(1696 * 1024**2),
    ],
    ids=["readiness", "mount", "volume-directory", "memory-protection"],
)
def test_scripts_pass_shellcheck(script: str) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    result = subprocess.run(
        [shellcheck, "--shell=sh", "-"], input="#!/bin/sh\n" + script, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


# The scripts, run for real in a sandbox.


@dataclass
class Sandbox:
    root: Path
    device: Path
    mount_point: Path
    bin: Path

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``script`` with the sandbox's fstab bound over /etc/fstab, in a mount namespace of its own."""
        wrapper = (
            'mount --make-rprivate / && mount --bind "$SANDBOX_FSTAB" /etc/fstab && '
            f'PATH="{self.bin}:$PATH" sh "$1"; status=$?; '
            'if mountpoint -q "$SANDBOX_MOUNT"; then echo MOUNTED; fi; '
            "ls -A \"$SANDBOX_MOUNT\" | sed 's/^/ENTRY /'; exit $status"
        )
        script_path = self.root / "script.sh"
        script_path.write_text(script)
        return subprocess.run(
            ["unshare", "-m", "sh", "-c", wrapper, "sandbox", str(script_path)],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "SANDBOX_FSTAB": str(self.root / "fstab"),
                "SANDBOX_MOUNT": str(self.mount_point),
                **env,
            },
            check=False,
            timeout=60,
        )

    def attach(self) -> None:
        os.mknod(self.device, 0o600 | stat.S_IFBLK, os.makedev(7, 250))

    def fake_command(self, name: str, body: str) -> None:
        path = self.bin / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the script sandbox needs root and unshare (util-linux)")
    box = Sandbox(
        root=tmp_path, device=tmp_path / "scsi-0HC_Volume_77", mount_point=tmp_path / "mnt", bin=tmp_path / "bin"
    )
    box.mount_point.mkdir()
    box.bin.mkdir()
    # The test fstab mounts a tmpfs where the real one mounts the volume: `mount <dir>` reads it the same way.
    (tmp_path / "fstab").write_text(f"tmpfs {box.mount_point} tmpfs defaults 0 0\n")
    yield box


def test_mount_script_mounts_the_volume_and_makes_the_volumes_directory(sandbox: Sandbox) -> None:
    sandbox.attach()
    result = sandbox.run(mount_data_script(str(sandbox.device), str(sandbox.mount_point)))
    assert result.returncode == 0, result.stderr
    assert "MOUNTED" in result.stdout
    assert "ENTRY volumes" in result.stdout  # on the mounted tmpfs, not on the directory beneath it
    assert not (sandbox.mount_point / "volumes").exists()


def test_mount_script_waits_then_fails_clearly_without_the_volume(sandbox: Sandbox) -> None:
    result = sandbox.run(mount_data_script(str(sandbox.device), str(sandbox.mount_point), wait_seconds=2))
    assert result.returncode == 1
    assert f"selfhost: data volume {sandbox.device} is not attached after 2s" in result.stderr
    assert "MOUNTED" not in result.stdout and "ENTRY" not in result.stdout


def test_mount_script_waits_for_a_volume_that_arrives(sandbox: Sandbox) -> None:
    late = f"(sleep 2; mknod {sandbox.device} b 7 250) &\n"
    result = sandbox.run(late + mount_data_script(str(sandbox.device), str(sandbox.mount_point), wait_seconds=30))
    assert result.returncode == 0, result.stderr
    assert "MOUNTED" in result.stdout


def test_mount_script_is_idempotent(sandbox: Sandbox) -> None:
    sandbox.attach()
    script = mount_data_script(str(sandbox.device), str(sandbox.mount_point))
    result = sandbox.run(script + script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("ENTRY volumes") == 1


def test_volume_directory_is_only_made_on_the_mounted_volume(sandbox: Sandbox) -> None:
    sandbox.attach()
    mount = str(sandbox.mount_point)
    (sandbox.mount_point / "volumes").mkdir()  # as if made on the root disk beneath the mount point
    not_mounted = sandbox.run(volume_directory_script("blog-db", mount))
    assert not_mounted.returncode != 0
    assert not (sandbox.mount_point / "volumes" / "blog-db").exists()
    (sandbox.mount_point / "volumes").rmdir()

    mounted = sandbox.run(
        mount_data_script(str(sandbox.device), mount)
        + volume_directory_script("blog-db", mount)
        + f"echo data > {mount}/volumes/blog-db/keep && chmod 0700 {mount}/volumes/blog-db\n"
        + volume_directory_script("blog-db", mount)
        + f"stat -c 'MODE %a' {mount}/volumes/blog-db && cat {mount}/volumes/blog-db/keep\n"
    )
    assert mounted.returncode == 0, mounted.stderr
    assert "MODE 700" in mounted.stdout  # an existing directory is left as the container made it
    assert "data" in mounted.stdout


@pytest.mark.parametrize(("status", "ready"), [(0, True), (2, True), (1, False)])
def test_readiness_waits_for_cloud_init_then_checks_docker(sandbox: Sandbox, status: int, ready: bool) -> None:
    sandbox.attach()
    sandbox.fake_command(
        "cloud-init",
        'case "$*" in\n'
        '  "status --wait") echo "status: done"; exit "$FAKE_STATUS";;\n'
        '  "status --long") echo "status: error (the long story)";;\n'
        "esac\n",
    )
    sandbox.fake_command("docker", '[ "$*" = "info --format {{.ServerVersion}}" ] && echo 26.1.5+dfsg1\n')
    result = sandbox.run(readiness_script(str(sandbox.device), str(sandbox.mount_point)), FAKE_STATUS=str(status))
    if ready:
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == "26.1.5+dfsg1"
        assert "MOUNTED" in result.stdout
    else:
        assert result.returncode == 1
        assert "the long story" in result.stderr
        assert "26.1.5" not in result.stdout and "MOUNTED" not in result.stdout


def test_readiness_fails_when_docker_does_not_answer(sandbox: Sandbox) -> None:
    sandbox.attach()
    sandbox.fake_command("cloud-init", "exit 0\n")
    sandbox.fake_command("docker", "echo 'Cannot connect to the Docker daemon' >&2; exit 1\n")
    result = sandbox.run(readiness_script(str(sandbox.device), str(sandbox.mount_point)))
    assert result.returncode != 0
    assert "Cannot connect to the Docker daemon" in result.stderr


def test_memory_protection_fails_when_systemd_refuses(sandbox: Sandbox) -> None:
    """set -e: a refused set-property fails the command, so `pulumi up` says so instead of going on."""
    sandbox.fake_command(
        "systemctl", 'echo "$*" >>"$SYSTEMCTL_LOG"; [ "$1" != set-property ] || exit "$REFUSE"\necho 1778384896\n'
    )
    log = sandbox.root / "systemctl.log"
    ok = sandbox.run(memory_protection_script(1696 * 1024**2), SYSTEMCTL_LOG=str(log), REFUSE="0")
    assert ok.returncode == 0, ok.stderr
    assert log.read_text().splitlines() == [
        "set-property system.slice MemoryLow=1696M",
        "show --property=MemoryLow --value system.slice",
    ]
    refused = sandbox.run(memory_protection_script(1696 * 1024**2), SYSTEMCTL_LOG=str(log), REFUSE="1")
    assert refused.returncode != 0
