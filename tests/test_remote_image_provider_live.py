"""Tier 3: the real Docker provider pulls, finds and reads back a RemoteImage named ``tag@digest``.

The stack rewrites every RemoteImage's ``name`` to ``<tag>@<digest>`` (components/core/images.py).
This drives ``pulumi-resource-docker`` (see tests/test_engine_target_live.py for where the
binary comes from) over gRPC against Docker Engine 28 (tests/dockerd28.py), with a registry
(Debian's ``docker-registry``) on the engine's own loopback, where the image was pushed and then
removed from the engine: the provider's ``findImage`` must pull it by digest, read back its
``image_id`` and ``repo_digest``, find it locally the next time, and answer "no change" for the
same name and "replace" for another digest. Not covered: ``getRegistryImage``, which speaks
HTTPS only (``authentication_helpers.go``) and so cannot ask a plain-HTTP test registry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests import dockerd28
from tests.docker_replay import STAND_IN_IMAGE, stand_in_image_tar
from tests.mockstack import run_stack_file
from tests.provider_plugin import configure, running_provider, struct
from tests.test_engine_target_live import BINARY, clean_environ

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        BINARY is None, reason="needs the pulumi-resource-docker 5.x binary (tests/test_engine_target_live.py)"
    ),
]
DIFF_NONE, DIFF_SOME = 1, 2
IMAGE_URN = "urn:pulumi:dev::selfhost::docker:index/remoteImage:RemoteImage::proxy-image"


@pytest.fixture(scope="module")
def pushed() -> Iterator[tuple[dockerd28.Engine, str, str]]:
    """A Docker 28 engine and ``(ref, digest)`` of an image that is in its registry but not on the engine."""
    reason = dockerd28.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with dockerd28.running_engine() as engine, dockerd28.running_registry(engine) as registry:
        engine.docker("import", "-", STAND_IN_IMAGE, input=stand_in_image_tar(engine.root / "bin/busybox"))
        ref = f"{registry}/selfhost/probe:1.0"
        engine.docker("tag", STAND_IN_IMAGE, ref)
        engine.docker("push", ref)
        (repo_digest,) = json.loads(engine.docker("image", "inspect", "--format", "{{json .RepoDigests}}", ref).stdout)
        engine.docker("image", "rm", "--force", ref, STAND_IN_IMAGE)
        yield engine, ref, repo_digest.split("@", 1)[1]


@pytest.fixture(scope="module")
def provider(pushed: tuple[dockerd28.Engine, str, str]) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    engine = pushed[0]
    assert BINARY is not None
    config = dict(run_stack_file("dev").named("host-docker").inputs)
    config["host"] = f"unix://{engine.state}/docker.sock"
    with running_provider([str(BINARY)], env=clean_environ()) as stub:
        configure(stub, "docker", "urn:pulumi:dev::selfhost::pulumi:providers:docker::host-docker", config)
        yield stub


def test_a_tag_at_a_digest_is_pulled_found_and_read_back(
    pushed: tuple[dockerd28.Engine, str, str], provider: provider_pb2_grpc.ResourceProviderStub
) -> None:
    engine, ref, digest = pushed
    # The program's RemoteImage inputs, with the test registry's tag in place of the official one.
    (registered,) = [
        r for r in run_stack_file("dev").of_type("docker:index/remoteImage:RemoteImage") if r.name == "proxy-image"
    ]
    inputs = {**registered.inputs, "name": f"{ref}@{digest}"}
    checked = provider.Check(
        provider_pb2.CheckRequest(urn=IMAGE_URN, news=struct(inputs), randomSeed=b"0" * 32), timeout=60
    )
    assert list(checked.failures) == []
    created = provider.Create(provider_pb2.CreateRequest(urn=IMAGE_URN, properties=checked.inputs), timeout=300)
    outputs = json_format.MessageToDict(created.properties)
    local_id = json.loads(
        engine.docker("image", "inspect", "--format", "{{json .Id}}", f"{ref.rsplit(':', 1)[0]}@{digest}").stdout
    )
    assert outputs["imageId"] == local_id  # pulled by digest: the engine has it now
    assert outputs["repoDigest"] == f"{ref.rsplit(':', 1)[0]}@{digest}"

    def diff(olds: struct_pb2.Struct, name: str) -> provider_pb2.DiffResponse:
        response: provider_pb2.DiffResponse = provider.Diff(
            provider_pb2.DiffRequest(
                urn=IMAGE_URN,
                id=created.id,
                olds=olds,
                news=struct({**inputs, "name": name}),
                old_inputs=checked.inputs,
            ),
            timeout=60,
        )
        return response

    assert diff(created.properties, inputs["name"]).changes == DIFF_NONE  # the second preview
    read = provider.Read(
        provider_pb2.ReadRequest(urn=IMAGE_URN, id=created.id, properties=created.properties, inputs=checked.inputs),
        timeout=60,
    )
    assert read.id == created.id and json_format.MessageToDict(read.properties)["imageId"] == local_id  # a refresh
    assert diff(read.properties, inputs["name"]).changes == DIFF_NONE
    # Another stack (or the replacement of this one) finds the image locally, under the same id.
    again = provider.Create(provider_pb2.CreateRequest(urn=IMAGE_URN + "-again", properties=checked.inputs), timeout=60)
    assert again.id == created.id
    # imageRefresh resolved another digest: the RemoteImage is replaced (and pulls that one).
    refreshed = diff(created.properties, f"{ref}@sha256:{'0' * 64}")
    assert refreshed.changes == DIFF_SOME and list(refreshed.replaces) == ["name"]
