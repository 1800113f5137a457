"""Tier 3: the real Docker provider answers the engine's question for a network replacement.

Before a delete-before-replace of a network, Pulumi asks the provider of each dependent for a
``Diff`` with the inputs that take the network's outputs set to unknown
(pulumi/pulumi ``pkg/resource/deploy/step_generator.go``, ``calculateDependentReplacements``);
a dependent that would be replaced is deleted first. This drives ``pulumi-resource-docker``
(see tests/test_engine_target_live.py for where the binary comes from) over gRPC against this
run's Docker 28 (tests/dockerd28.py, through its socket's host path): it creates the program's
edge network (its registered inputs, with a test name and subnet) and a container on it, then
asks those Diffs.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests import docker_replay as replay
from tests.dockerd28 import Engine
from tests.mockstack import run_stack_file
from tests.provider_plugin import configure, running_provider, struct
from tests.test_engine_target_live import BINARY, clean_environ

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""How an unknown value travels in a gRPC Struct (pulumi ``sdk/go/common/resource/plugin/rpc.go``)."""
DIFF_NONE, DIFF_SOME = 1, 2
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        BINARY is None,
        reason="needs the pulumi-resource-docker 5.x binary (see tests/test_engine_target_live.py)",
    ),
]


@pytest.fixture
def image(docker28: Engine) -> Iterator[str]:
    tag = f"selfhost-test/difftest-{uuid.uuid4().hex[:10]}:local"
    docker28.docker("import", "-", tag, input=replay.stand_in_image_tar(docker28.root / "usr/bin/busybox"))
    yield docker28.docker("image", "inspect", tag, "--format", "{{.Id}}").stdout.strip()
    docker28.docker("image", "rm", "-f", tag, check=False)


@pytest.fixture
def provider(docker28: Engine) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    assert BINARY is not None
    with running_provider([str(BINARY)], clean_environ()) as stub:
        config = dict(run_stack_file("dev").named("host-docker").inputs)
        config["host"] = f"unix://{docker28.state / 'docker.sock'}"
        configure(stub, "docker", "urn:pulumi:dev::selfhost::pulumi:providers:docker::host-docker", config)
        yield stub


def test_containers_on_a_replaced_network_are_replaced_too(
    provider: provider_pb2_grpc.ResourceProviderStub, image: str
) -> None:
    tag = uuid.uuid4().hex[:10]
    third = random.randrange(0, 256, 2)
    edge = dict(run_stack_file("dev").named("edge-network").inputs)
    edge.update(name=f"selfhost-difftest-{tag}-edge", ipamConfigs=[{"subnet": f"10.252.{third}.0/24"}])
    network_urn = "urn:pulumi:dev::selfhost::docker:index/network:Network::edge-network"
    container_urn = "urn:pulumi:dev::selfhost::docker:index/container:Container::proxy-container"
    checked_network = provider.Check(
        provider_pb2.CheckRequest(urn=network_urn, news=struct(edge), randomSeed=b"0" * 32), timeout=60
    )
    network = provider.Create(
        provider_pb2.CreateRequest(urn=network_urn, properties=checked_network.inputs), timeout=120
    )
    container_inputs = {
        "name": f"selfhost-difftest-{tag}-app",
        "image": image,
        "command": ["sleep", "3600"],
        "networksAdvanced": [{"name": edge["name"], "aliases": ["app-blog"]}],
        "restart": "unless-stopped",
    }
    checked_container = provider.Check(
        provider_pb2.CheckRequest(urn=container_urn, news=struct(container_inputs), randomSeed=b"0" * 32), timeout=60
    )
    container = provider.Create(
        provider_pb2.CreateRequest(urn=container_urn, properties=checked_container.inputs), timeout=120
    )
    try:

        def diff_container(news: dict[str, Any]) -> provider_pb2.DiffResponse:
            response: provider_pb2.DiffResponse = provider.Diff(
                provider_pb2.DiffRequest(
                    urn=container_urn,
                    id=container.id,
                    olds=container.properties,
                    news=struct(news),
                    old_inputs=checked_container.inputs,
                ),
                timeout=60,
            )
            return response

        unchanged = diff_container(container_inputs)
        assert unchanged.changes == DIFF_NONE  # the control: read back equal
        # The engine's question: networksAdvanced takes the network's name, now unknown.
        for unknown in (UNKNOWN, [{"name": UNKNOWN, "aliases": ["app-blog"]}]):
            answer = diff_container({**container_inputs, "networksAdvanced": unknown})
            assert answer.changes == DIFF_SOME and list(answer.replaces) == ["networksAdvanced"]

        def diff_network(news: dict[str, Any]) -> provider_pb2.DiffResponse:
            response: provider_pb2.DiffResponse = provider.Diff(
                provider_pb2.DiffRequest(
                    urn=network_urn,
                    id=network.id,
                    olds=network.properties,
                    news=struct(news),
                    old_inputs=checked_network.inputs,
                ),
                timeout=60,
            )
            return response

        # The program's network inputs read back equal; a new subnet replaces the network.
        assert diff_network(edge).changes == DIFF_NONE
        widened = diff_network({**edge, "ipamConfigs": [{"subnet": f"10.252.{third}.0/23"}]})
        assert widened.changes == DIFF_SOME and "ipamConfigs" in widened.replaces
    finally:
        provider.Delete(
            provider_pb2.DeleteRequest(urn=container_urn, id=container.id, properties=container.properties), timeout=120
        )
        provider.Delete(
            provider_pb2.DeleteRequest(urn=network_urn, id=network.id, properties=network.properties), timeout=120
        )
