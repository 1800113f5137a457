"""Tier 3: on a real Docker 28 engine, the facts the replacement strategies rest on (docs/operations.md).

- a second container cannot take a running one's name, so create-first needs a new name per generation;
- two containers can carry the same alias on one network, and Docker's DNS then answers both addresses:
  the proxy sees the old and the new container during a create-first overlap;
- once the old one is stopped its address leaves the alias, and the new one still answers under it;
- a second container cannot publish a host port a running one publishes, so the proxy is stop-first.

The engine is this run's Docker 28 (tests/dockerd28.py); images are imported from the root's busybox,
names carry a uuid and are removed after.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest

from tests import docker_replay as replay
from tests.dockerd28 import Engine

pytestmark = pytest.mark.live


class Names:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.image = f"selfhost-test/replace-{tag}:local"
        self.network = f"selfhost-replacetest-{tag}-edge"
        self.service = f"selfhost-replacetest-{tag}-app"
        self.old = f"{self.service}-{tag[:6]}"
        self.new = f"{self.service}-{tag[4:10]}"
        self.client = f"selfhost-replacetest-{tag}-proxy"
        self.alias = f"app-{tag}"


@pytest.fixture
def names(docker28: Engine) -> Iterator[Names]:
    names = Names()
    busybox = docker28.root / "usr/bin/busybox"
    docker28.docker("import", "-", names.image, input=replay.stand_in_image_tar(busybox))
    docker28.docker("network", "create", "--driver", "bridge", names.network)
    try:
        yield names
    finally:
        for container in (names.old, names.new, names.client, names.service):
            docker28.docker("rm", "-f", container, check=False)
        docker28.docker("network", "rm", names.network, check=False)
        docker28.docker("image", "rm", names.image, check=False)


def run_app(engine: Engine, names: Names, name: str, *extra: str) -> None:
    """A stand-in app that serves its own name on port 80 under the alias."""
    engine.docker(
        "run", "-d", "--pull=never", "--name", name, "--network", names.network, "--network-alias", names.alias,
        *extra, names.image, "sh", "-c", f"mkdir -p /www && echo {name} > /www/index.html && httpd -f -p 80 -h /www",
    )  # fmt: skip


def alias_addresses(engine: Engine, names: Names) -> set[str]:
    answer = engine.docker("exec", names.client, "nslookup", names.alias, "127.0.0.11", check=False).stdout
    after_server = answer.split("Name:", 1)[1] if "Name:" in answer else ""
    return set(re.findall(r"Address(?: \d+)?:\s*(\d+\.\d+\.\d+\.\d+)", after_server))


def address_of(engine: Engine, names: Names, container: str) -> str:
    template = f'{{{{(index .NetworkSettings.Networks "{names.network}").IPAddress}}}}'
    return engine.docker("inspect", "--format", template, container).stdout.strip()


def page(engine: Engine, names: Names, address: str) -> str:
    request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address} 80"
    result = engine.docker("exec", names.client, "sh", "-c", request, check=False)
    return result.stdout.replace("\r", "").split("\n\n", 1)[-1].strip()


def test_create_first_needs_a_new_name_and_both_containers_answer_under_the_alias(
    docker28: Engine, names: Names
) -> None:
    docker28.docker("run", "-d", "--pull=never", "--name", names.client, "--network", names.network,
                    names.image, "sleep", "3600")  # fmt: skip
    run_app(docker28, names, names.old)
    # The same name twice is refused while the old container exists: hence the generation suffix.
    taken = docker28.docker("create", "--pull=never", "--name", names.old, names.image, "true", check=False)
    assert taken.returncode != 0 and "already in use" in taken.stderr
    run_app(docker28, names, names.new)
    old, new = address_of(docker28, names, names.old), address_of(docker28, names, names.new)
    assert old and new and old != new
    # During the overlap Docker's DNS answers both: nginx's `resolve` gets two peers.
    assert alias_addresses(docker28, names) == {old, new}
    assert page(docker28, names, old) == names.old and page(docker28, names, new) == names.new
    # The old one stops (as the provider's delete does: ContainerStop, then remove): its address leaves.
    docker28.docker("stop", "-t", "5", names.old)
    deadline = time.monotonic() + 10
    while alias_addresses(docker28, names) != {new} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alias_addresses(docker28, names) == {new}
    assert page(docker28, names, new) == names.new


def test_two_containers_cannot_publish_the_same_host_port(docker28: Engine, names: Names) -> None:
    port = "18080"
    run_app(docker28, names, names.old, "-p", f"{port}:80")
    second = docker28.docker(
        "run", "-d", "--pull=never", "--name", names.new, "-p", f"{port}:80", names.image, "sleep", "3600",
        check=False,
    )  # fmt: skip
    assert second.returncode != 0
    assert re.search(r"port is already allocated|address already in use", second.stderr), second.stderr
