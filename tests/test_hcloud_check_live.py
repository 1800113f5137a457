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

from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.mockstack import run_stack_file
from tests.provider_plugin import EngineLog, configure, missing_binary_reason, provider_binary, running_provider, struct

BINARY = provider_binary("hcloud", 1, "SELFHOST_HCLOUD_PROVIDER")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        BINARY is None,
        reason=missing_binary_reason("hcloud", "1.43.3", "SELFHOST_HCLOUD_PROVIDER"),
    ),
]


class Provider:
    def __init__(self, stub: provider_pb2_grpc.ResourceProviderStub, log: EngineLog) -> None:
        self.stub, self.log = stub, log

    def check(self, type_token: str, name: str, inputs: dict[str, Any]) -> tuple[list[str], list[str]]:
        """Failures and log lines of one Check."""
        self.log.messages.clear()
        urn = f"urn:pulumi:prod::selfhost::{type_token}::{name}"
        response = self.stub.Check(
            provider_pb2.CheckRequest(urn=urn, news=struct(inputs), olds=struct({}), randomSeed=b"0" * 32),
            timeout=60,
        )
        return [failure.reason for failure in response.failures], self.log.settled()


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    assert BINARY is not None
    log = EngineLog()
    with running_provider([str(BINARY)], engine_log=log) as stub:
        token = "0" * 64  # the shape of a token; Check never calls the API
        configure(stub, "hcloud", "urn:pulumi:prod::selfhost::pulumi:providers:hcloud::default", {"token": token})
        yield Provider(stub, log)


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
