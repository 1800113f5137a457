"""Tier 3: every container's memory limit and reservation, as the program sends them, on a real Docker engine.

The bridged provider (terraform-provider-docker v4.5.0, which pulumi-docker 5.2.0 pins as its
``upstream`` submodule) sends ``memory`` and ``memory_reservation`` as MiB * 1024 * 1024 and reads
them back as ``HostConfig.Memory / 1024 / 1024`` and ``HostConfig.MemoryReservation / 1024 / 1024``
(internal/provider/resource_docker_container_funcs.go); neither is ForceNew, and a change is
applied in place by one ContainerUpdate carrying memory, reservation and (when set) swap.

Proves, for the dev graph's containers: the engine keeps both figures exactly, so the read-back
equals what was sent (a second preview shows no change); the provider's in-place update changes
them on the same container; the engine refuses a reservation above the limit (config refuses it
first). Uses the local engine (``docker`` on PATH) with a one-binary busybox image it imports.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mockstack import run_stack_file

pytestmark = pytest.mark.live

BUSYBOX = Path("/bin/busybox")
MiB = 1024**2


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=120)


def _skip_reason() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not installed (apt-get install docker.io)"
    if _docker("info", check=False).returncode != 0:
        return "no Docker engine answers `docker info` (start dockerd)"
    if not BUSYBOX.exists():
        return "no busybox at /bin/busybox (apt-get install busybox-static)"
    return None


REASON = _skip_reason()
if REASON is not None:
    pytest.skip(REASON, allow_module_level=True)


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    tag = f"selfhost-test/memory-{uuid.uuid4().hex[:8]}:local"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "sleep"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(link)
    subprocess.run(["docker", "import", "-", tag], input=buffer.getvalue(), capture_output=True, check=True)
    yield tag
    _docker("image", "rm", "--force", tag, check=False)


def _memory_flags(memory_mib: int, reservation_mib: int, swap_mib: int | None) -> list[str]:
    flags = ["--memory", f"{memory_mib}m", "--memory-reservation", f"{reservation_mib}m"]
    return flags + (["--memory-swap", f"{swap_mib}m"] if swap_mib is not None else [])


def _read_back(name: str) -> tuple[int, int]:
    """What the provider reads: bytes / 1024 / 1024 (Go integer division)."""
    out = _docker("inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}}", name).stdout
    memory, reservation = (int(value) for value in out.split())
    return memory // MiB, reservation // MiB


@pytest.fixture(scope="module")
def started(image: str) -> Iterator[dict[str, tuple[int, int, int | None]]]:
    """One container per container of the dev graph, with exactly its memory inputs."""
    run = run_stack_file("dev")
    prefix = f"selfhost-memtest-{uuid.uuid4().hex[:6]}"
    sent: dict[str, tuple[int, int, int | None]] = {}
    try:
        for container in run.of_type("docker:index/container:Container"):
            inputs = container.inputs
            swap = inputs.get("memorySwap")
            name = f"{prefix}-{inputs['name']}"
            sent[name] = (int(inputs["memory"]), int(inputs["memoryReservation"]), None if swap is None else int(swap))
            flags = _memory_flags(*sent[name])
            _docker("run", "--detach", "--name", name, "--pull=never", *flags, image, "sleep", "600")
        yield sent
    finally:
        for name in sent:
            _docker("rm", "--force", name, check=False)


def test_the_engine_keeps_what_the_program_sends(started: dict[str, tuple[int, int, int | None]]) -> None:
    assert len(started) == 9
    for name, (memory, reservation, _) in started.items():
        assert _read_back(name) == (memory, reservation), name


def test_a_changed_reservation_and_limit_update_the_same_container(
    started: dict[str, tuple[int, int, int | None]],
) -> None:
    name, (memory, reservation, swap) = sorted(started.items())[0]
    before = _docker("inspect", "--format", "{{.Id}}", name).stdout.strip()
    # As the provider's update does: raise the limit past the old one, lower the reservation, in one call.
    new_swap = None if swap is None else swap * 2
    _docker("update", *_memory_flags(memory * 2, reservation // 2, new_swap), name)
    assert _read_back(name) == (memory * 2, reservation // 2)
    assert _docker("inspect", "--format", "{{.Id}}", name).stdout.strip() == before


def test_the_engine_refuses_a_reservation_above_the_limit(image: str) -> None:
    name = f"selfhost-memtest-{uuid.uuid4().hex[:6]}"
    result = _docker("create", "--name", name, *_memory_flags(64, 128, None), image, "true", check=False)
    _docker("rm", "--force", name, check=False)
    assert result.returncode != 0
    assert "Minimum memory limit can not be less than memory reservation limit" in result.stderr
