"""Tier 3: the real hcloud provider checks every hcloud input the prod stack sends, without a warning.

The ``pulumi-resource-hcloud`` binary (installed by the Pulumi CLI under ~/.pulumi/plugins, or
SELFHOST_HCLOUD_PROVIDER=path) is driven over gRPC as the engine drives it: CheckConfig,
Configure (a dummy token: Check talks to no API), then ``Check`` of each hcloud resource with
the inputs the program registers for ``Pulumi.prod.yaml`` under mocks. A small engine
stand-in receives what the provider logs: terraform-provider-hcloud's validators report
through it (``ValidateConfig`` warnings arrive as ``[WARNING] property ...``).

The control: the primary IP with ``assigneeType: server`` and no ``assigneeId`` (what the
program used to send) draws the "Unused Attribute" warning of terraform-provider-hcloud
``internal/primaryip/resource.go`` ``ValidateConfig``, on every run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import engine_pb2_grpc, provider_pb2, provider_pb2_grpc

from tests.mockstack import run_stack_file


def provider_binary() -> Path | None:
    explicit = os.environ.get("SELFHOST_HCLOUD_PROVIDER")
    if explicit:
        return Path(explicit)
    on_path = shutil.which("pulumi-resource-hcloud")
    if on_path:
        return Path(on_path)
    installed = sorted(Path.home().glob(".pulumi/plugins/resource-hcloud-v1.*/pulumi-resource-hcloud"))
    return installed[-1] if installed else None


BINARY = provider_binary()
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        BINARY is None,
        reason="the pulumi-resource-hcloud binary is not installed "
        "(`pulumi plugin install resource hcloud 1.43.3`, or SELFHOST_HCLOUD_PROVIDER=path)",
    ),
]


class EngineLog(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:  # noqa: N802 - the gRPC method's name
        self.messages.append(request.message)
        return empty_pb2.Empty()


def _struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


class Provider:
    def __init__(self, stub: provider_pb2_grpc.ResourceProviderStub, log: EngineLog) -> None:
        self.stub, self.log = stub, log

    def check(self, type_token: str, name: str, inputs: dict[str, Any]) -> tuple[list[str], list[str]]:
        """Failures and log lines of one Check."""
        self.log.messages.clear()
        urn = f"urn:pulumi:prod::selfhost::{type_token}::{name}"
        response = self.stub.Check(
            provider_pb2.CheckRequest(urn=urn, news=_struct(inputs), olds=_struct({}), randomSeed=b"0" * 32),
            timeout=60,
        )
        time.sleep(0.2)  # logs travel on their own RPC
        return [failure.reason for failure in response.failures], list(self.log.messages)


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    assert BINARY is not None
    log = EngineLog()
    engine = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(log, engine)
    engine_port = engine.add_insecure_port("127.0.0.1:0")
    engine.start()
    process = subprocess.Popen(
        [str(BINARY), f"127.0.0.1:{engine_port}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"provider printed {port!r} instead of its port"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            token = "0" * 64  # the shape of a token; Check never calls the API
            urn = "urn:pulumi:prod::selfhost::pulumi:providers:hcloud::default"
            checked = stub.CheckConfig(
                provider_pb2.CheckRequest(urn=urn, news=_struct({"token": token}), olds=_struct({})), timeout=60
            )
            stub.Configure(
                provider_pb2.ConfigureRequest(
                    args=checked.inputs,
                    variables={"hcloud:config:token": token},
                    acceptSecrets=True,
                    acceptResources=True,
                    type="pulumi:providers:hcloud",
                ),
                timeout=60,
            )
            yield Provider(stub, log)
    finally:
        process.kill()
        process.wait(timeout=10)
        engine.stop(None)


def test_every_hcloud_input_checks_without_a_warning(provider: Provider) -> None:
    run = run_stack_file("prod")
    hcloud = [r for r in run.registrations if r.type.startswith("hcloud:")]
    assert {r.type for r in hcloud} >= {"hcloud:index/primaryIp:PrimaryIp", "hcloud:index/server:Server"}
    for registration in hcloud:
        failures, logs = provider.check(registration.type, registration.name, registration.inputs)
        assert failures == [], (registration.name, failures)
        assert [line for line in logs if "WARNING" in line or "warning" in line] == [], (registration.name, logs)


def test_assignee_type_alone_warns(provider: Provider) -> None:
    """The control: the warning this test would see if the program sent assignee_type again."""
    ip = run_stack_file("prod").named("host-ipv4")
    _, logs = provider.check(ip.type, ip.name, {**ip.inputs, "assigneeType": "server"})
    assert any("assigneeType" in line and "only required together with the assigneeId" in line for line in logs)
