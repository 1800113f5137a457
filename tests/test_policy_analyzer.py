"""Tier 2: the policy pack as the Pulumi CLI starts it — its analyzer gRPC server, fed the mock graph.

``python -u policy`` is what the CLI runs for ``--policy-pack policy`` (PulumiPolicy.yaml,
runtime python). The test speaks the analyzer protocol to it directly: the pack's own
entry point, imports, policy registration, enforcement levels and (de)serialization are
all exercised, and a value unknown during a preview. Not covered: the CLI itself (not
installed here) and its installing of policy/requirements.txt.
"""

from __future__ import annotations

import selectors
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policy import pack, rules
from policy.rules import Resource
from tests.engine_view import policy_resources
from tests.mockstack import PROJECT_DIR, ProgramRun, run_program, run_stack_file, stack_file_config

POLICY_DIR = PROJECT_DIR / "policy"


@contextmanager
def analyzer_server() -> Iterator[Any]:
    """Start the pack as the CLI does, yield a stub connected to it, stop it."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(POLICY_DIR)],
        cwd=POLICY_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=60)
        line = process.stdout.readline() if ready else ""
        assert line.strip().isdigit(), (
            f"the pack did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
        )
        with grpc.insecure_channel(f"127.0.0.1:{int(line)}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def analyzer() -> Iterator[Any]:
    with analyzer_server() as stub:
        yield stub


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_stack_file("dev")


def _struct(props: Any) -> struct_pb2.Struct:
    return json_format.ParseDict(dict(props), struct_pb2.Struct())


def _options(resource: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect)


def analyze_each(stub: Any, resources: list[Resource]) -> list[Any]:
    """Diagnostics of the resource policies, one Analyze call per resource (as during an update)."""
    diagnostics: list[Any] = []
    for resource in resources:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            properties=_struct(resource.props),
            urn=resource.urn,
            name=resource.name,
            options=_options(resource),
        )
        diagnostics += stub.Analyze(request).diagnostics
    return diagnostics


def analyze_stack(stub: Any, resources: list[Resource]) -> list[Any]:
    request = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(
                type=r.type,
                properties=_struct(r.props),
                urn=r.urn,
                name=r.name,
                options=_options(r),
                propertyDependencies={
                    key: analyzer_pb2.AnalyzerPropertyDependencies(urns=list(urns))
                    for key, urns in r.property_dependencies.items()
                },
            )
            for r in resources
        ]
    )
    return list(stub.AnalyzeStack(request).diagnostics)


def test_pack_announces_every_policy_as_mandatory(analyzer: Any) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == pack.PACK_NAME
    levels = {policy.name: policy.enforcementLevel for policy in info.policies}
    assert levels == {policy.name: analyzer_pb2.MANDATORY for policy in pack.POLICIES}


def test_dev_graph_passes_through_the_analyzer(analyzer: Any, dev: ProgramRun) -> None:
    resources = policy_resources(dev)
    assert analyze_each(analyzer, resources) == []
    assert analyze_stack(analyzer, resources) == []


def test_database_on_the_edge_fails_the_stack_analysis(analyzer: Any, dev: ProgramRun) -> None:
    resources = policy_resources(dev)
    database = next(r for r in resources if r.name == "blog-db-container")
    props = {**database.props, "networksAdvanced": [*database.props["networksAdvanced"], {"name": "selfhost-dev-edge"}]}
    mutated = [
        Resource(r.type, r.urn, props, r.protect, r.property_dependencies) if r is database else r for r in resources
    ]
    diagnostics = analyze_stack(analyzer, mutated)
    assert len(diagnostics) == 2
    for diagnostic in diagnostics:
        assert diagnostic.policyName == "backing-services-isolated"
        assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
        assert diagnostic.urn == database.urn
    shared, not_internal = (d.message for d in diagnostics)
    assert "shares network selfhost-dev-edge with the proxy proxy-container" in shared
    assert "joins network selfhost-dev-edge, which is not internal" in not_internal


def test_password_in_environment_fails_the_resource_analysis(analyzer: Any, dev: ProgramRun) -> None:
    app = next(r for r in policy_resources(dev) if r.name == "blog-container")
    leaky = Resource(app.type, app.urn, {**app.props, "envs": [*app.props["envs"], "WORDPRESS_DB_PASSWORD=x"]})
    [diagnostic] = analyze_each(analyzer, [leaky])
    assert (diagnostic.policyName, diagnostic.enforcementLevel) == ("no-plaintext-secrets", analyzer_pb2.MANDATORY)


def _as_stack(stack: str) -> list[Resource]:
    values, secret_keys = stack_file_config("dev")
    return policy_resources(run_program(values, stack=stack, secret_keys=secret_keys))


def test_stack_tag_and_policy_config_mark_a_stack_as_production() -> None:
    staging = _as_stack("staging")
    volumes = [r for r in staging if r.type == rules.VOLUME]
    with analyzer_server() as stub:
        assert analyze_each(stub, volumes) == []
        stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(stack="staging", tags={"environment": "production"})
        )
        diagnostics = analyze_each(stub, volumes)
        assert [d.policyName for d in diagnostics] == ["stateful-resources-kept"] * len(volumes)
    with analyzer_server() as stub:
        config = analyzer_pb2.PolicyConfig(
            enforcementLevel=analyzer_pb2.MANDATORY, properties=_struct({"productionStacks": ["staging"]})
        )
        stub.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={"stateful-resources-kept": config}))
        assert len(analyze_each(stub, volumes)) == len(volumes)


def test_a_value_unknown_during_preview_is_advisory_then_checked_on_up(analyzer: Any, dev: ProgramRun) -> None:
    """A first preview has no image ids yet: pulumi-policy skips that check (advisory) and `up` runs it."""
    app = next(r for r in policy_resources(dev) if r.name == "blog-container")
    previewed = Resource(app.type, app.urn, {**app.props, "image": UNKNOWN_STRING_VALUE})
    [diagnostic] = analyze_each(analyzer, [previewed])
    assert diagnostic.policyName == "images-pinned"
    assert diagnostic.enforcementLevel == analyzer_pb2.ADVISORY
    assert "can't be known during preview" in diagnostic.message
    assert analyze_each(analyzer, [app]) == []
