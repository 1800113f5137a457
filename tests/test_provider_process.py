"""Tier 3 (a real process over gRPC): the package's plugin started the way Pulumi's language host starts it.

pulumi-language-python ``RunPlugin`` runs ``python <plugin dir> <engine address>`` with the working
directory set to the consumer's project (pulumi/pulumi sdk/python/cmd/pulumi-language-python/main.go,
``cmd.Dir = req.Pwd``), and reads the port the provider prints. From a directory outside the
repository, the plugin must find the library, serve the committed schema over ``GetSchema``
(what ``pulumi package add`` generates the SDKs from), and refuse a type it does not host.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.mockstack import PROJECT_DIR


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    consumer = tmp_path_factory.mktemp("consumer")  # the consumer's project directory, not this repository
    # The engine address is only dialled for logs and construct calls; GetSchema needs none.
    process = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "provider"), "127.0.0.1:1"],
        cwd=consumer,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.stderr else port
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield provider_pb2_grpc.ResourceProviderStub(channel)
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_plugin_serves_the_committed_schema(provider: provider_pb2_grpc.ResourceProviderStub) -> None:
    response = provider.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60)
    served = json.loads(response.schema)
    assert served == json.loads((PROJECT_DIR / "provider" / "schema.json").read_text())


def test_the_plugin_reports_its_version(provider: provider_pb2_grpc.ResourceProviderStub) -> None:
    from google.protobuf import empty_pb2

    from tests.test_version import package_version

    info = provider.GetPluginInfo(empty_pb2.Empty(), timeout=30)
    assert info.version == package_version()


def test_the_entry_point_runs_from_the_plugin_directory_only() -> None:
    """The repository root is the stack's program: its __main__.py must not be what the plugin runs."""
    entry = (PROJECT_DIR / "provider" / "__main__.py").read_text()
    assert "component_provider_host(components=COMPONENTS, name=NAME, version=version())" in entry
    assert Path(PROJECT_DIR / "provider" / "PulumiPlugin.yaml").is_file()
    assert not (PROJECT_DIR / "PulumiPlugin.yaml").exists()
