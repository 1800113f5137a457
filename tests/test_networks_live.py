"""Tier 3: on a real Docker engine, why networks are replaced delete-first and that the order works.

components/core/network.py rests on three refusals of the engine and one sequence:
- a second network with the same name is refused, so create-before-delete cannot keep the name;
- a network is not removed while a container is attached, so delete-first alone fails mid-deploy;
- a subnet overlapping an existing network's is refused, so even a renamed network could not
  take e.g. a widened ``edgeSubnet`` while the old one exists;
- the sequence Pulumi runs for a delete-before-replace (attached containers deleted first,
  network replaced, containers created on the new one) succeeds, and the data on a volume
  mounted by the container is still there afterwards.
Also the read-back: ``IPAM.Config`` holds exactly the subnet the program sends (no gateway
added), so the provider reads the network back equal to its inputs.

The engine is this run's Docker 28 (tests/dockerd28.py); names carry a uuid and are removed after.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator

import pytest

from tests import docker_replay as replay
from tests.dockerd28 import Engine

pytestmark = pytest.mark.live


class Names:
    def __init__(self, engine: Engine) -> None:
        self.docker = engine.docker
        tag = uuid.uuid4().hex[:10]
        self.image = f"selfhost-test/net-{tag}:local"
        self.network = f"selfhost-nettest-{tag}-edge"
        self.other_network = f"selfhost-nettest-{tag}-other"
        self.container = f"selfhost-nettest-{tag}-app"
        self.volume = f"selfhost-nettest-{tag}-data"
        third = random.randrange(0, 256, 2)
        self.subnet = f"10.251.{third}.0/24"
        self.widened = f"10.251.{third}.0/23"
        """Contains the first: the engine refuses it while the old network exists."""


@pytest.fixture
def names(docker28: Engine) -> Iterator[Names]:
    names = Names(docker28)
    busybox = docker28.root / "usr/bin/busybox"
    docker28.docker("import", "-", names.image, input=replay.stand_in_image_tar(busybox, extra_applets=("ip",)))
    docker = names.docker
    try:
        yield names
    finally:
        docker("rm", "-f", names.container, check=False)
        docker("network", "rm", names.network, check=False)
        docker("network", "rm", names.other_network, check=False)
        docker("volume", "rm", names.volume, check=False)
        docker("image", "rm", names.image, check=False)


def start_app(names: Names) -> None:
    names.docker(
        "run", "-d", "--pull=never", "--name", names.container, "--network", names.network,
        "-v", f"{names.volume}:/data", names.image, "sleep", "3600",
    )  # fmt: skip


def ipam_config(names: Names, network: str) -> object:
    return json.loads(names.docker("network", "inspect", network, "--format", "{{json .IPAM.Config}}").stdout)


def test_network_replacement_needs_its_containers_gone_first(names: Names) -> None:
    docker = names.docker
    docker("network", "create", "--driver", "bridge", "--subnet", names.subnet, names.network)
    assert ipam_config(names, names.network) == [{"Subnet": names.subnet}]  # read back as sent
    docker("volume", "create", names.volume)
    docker("run", "--rm", "--pull=never", "-v", f"{names.volume}:/data", names.image, "sh", "-c", "echo kept > /data/f")
    start_app(names)

    # Create-before-delete with the fixed name: refused.
    same_name = docker("network", "create", "--subnet", names.widened, names.network, check=False)
    assert same_name.returncode != 0 and "already exists" in same_name.stderr
    # A new name does not help for an overlapping subnet.
    overlapping = docker("network", "create", "--subnet", names.widened, names.other_network, check=False)
    assert overlapping.returncode != 0 and "overlap" in overlapping.stderr.lower()
    # Delete-first while the container is attached: refused.
    busy = docker("network", "rm", names.network, check=False)
    assert busy.returncode != 0 and "active endpoints" in busy.stderr

    # Pulumi's delete-before-replace with dependents: container, network, new network, container.
    docker("rm", "-f", names.container)
    docker("network", "rm", names.network)
    docker("network", "create", "--driver", "bridge", "--subnet", names.widened, names.network)
    start_app(names)
    address = docker("exec", names.container, "ip", "-4", "-o", "addr", "show", "eth0").stdout
    assert f"10.251.{names.widened.split('.')[2]}." in address
    assert docker("exec", names.container, "cat", "/data/f").stdout == "kept\n"
    assert ipam_config(names, names.network) == [{"Subnet": names.widened}]
