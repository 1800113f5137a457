"""Tier 3: every container's memory limit and reservation, as the program sends them, on a real Docker engine.

The bridged provider (terraform-provider-docker v4.6.0, which pulumi-docker 5.2.0 bridges: see
docs/provider-readback.md) sends ``memory`` and ``memory_reservation`` as MiB * 1024 * 1024 and reads
them back as ``HostConfig.Memory / 1024 / 1024`` and ``HostConfig.MemoryReservation / 1024 / 1024``
(internal/provider/resource_docker_container_funcs.go); neither is ForceNew, and a change is
applied in place by one ContainerUpdate carrying memory, reservation and (when set) swap.

Proves, for the dev graph's containers: the engine keeps both figures exactly, so the read-back
equals what was sent (a second preview shows no change); the provider's in-place update changes
them on the same container; the engine refuses a reservation above the limit (config refuses it
first). Runs on this run's Docker 28 (tests/dockerd28.py) with a one-binary busybox image it imports.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests import docker_replay as replay
from tests.dockerd28 import Engine
from tests.mockstack import run_stack_file

pytestmark = pytest.mark.live

MiB = 1024**2


@pytest.fixture(scope="module")
def image(docker28: Engine) -> Iterator[str]:
    tag = f"selfhost-test/memory-{uuid.uuid4().hex[:8]}:local"
    docker28.docker("import", "-", tag, input=replay.stand_in_image_tar(docker28.root / "usr/bin/busybox"))
    yield tag
    docker28.docker("image", "rm", "--force", tag, check=False)


def _memory_flags(memory_mib: int, reservation_mib: int, swap_mib: int | None) -> list[str]:
    flags = ["--memory", f"{memory_mib}m", "--memory-reservation", f"{reservation_mib}m"]
    return flags + (["--memory-swap", f"{swap_mib}m"] if swap_mib is not None else [])


def _read_back(docker28: Engine, name: str) -> tuple[int, int]:
    """What the provider reads: bytes / 1024 / 1024 (Go integer division)."""
    out = docker28.docker(
        "inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}}", name
    ).stdout
    memory, reservation = (int(value) for value in out.split())
    return memory // MiB, reservation // MiB


@pytest.fixture(scope="module")
def started(docker28: Engine, image: str) -> Iterator[dict[str, tuple[int, int, int | None]]]:
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
            docker28.docker("run", "--detach", "--name", name, "--pull=never", *flags, image, "sleep", "600")
        yield sent
    finally:
        for name in sent:
            docker28.docker("rm", "--force", name, check=False)


def test_the_engine_keeps_what_the_program_sends(
    docker28: Engine, started: dict[str, tuple[int, int, int | None]]
) -> None:
    assert len(started) == 13  # the dev stack's 9, and its 4 backup containers (scheduler, 2 dumpers, quiesce)
    for name, (memory, reservation, _) in started.items():
        assert _read_back(docker28, name) == (memory, reservation), name


def test_a_changed_reservation_and_limit_update_the_same_container(
    docker28: Engine,
    started: dict[str, tuple[int, int, int | None]],
) -> None:
    name, (memory, reservation, swap) = sorted(started.items())[0]
    before = docker28.docker("inspect", "--format", "{{.Id}}", name).stdout.strip()
    # As the provider's update does: raise the limit past the old one, lower the reservation, in one call.
    new_swap = None if swap is None else swap * 2
    docker28.docker("update", *_memory_flags(memory * 2, reservation // 2, new_swap), name)
    assert _read_back(docker28, name) == (memory * 2, reservation // 2)
    assert docker28.docker("inspect", "--format", "{{.Id}}", name).stdout.strip() == before


def test_the_engine_refuses_a_reservation_above_the_limit(docker28: Engine, image: str) -> None:
    name = f"selfhost-memtest-{uuid.uuid4().hex[:6]}"
    result = docker28.docker(
        "create", "--name", name, *_memory_flags(64, 128, None), image, "sh", "-c", "true", check=False
    )
    docker28.docker("rm", "--force", name, check=False)
    assert result.returncode != 0
    assert "Minimum memory limit can not be less than memory reservation limit" in result.stderr
