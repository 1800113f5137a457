"""Each host's Docker provider targets exactly that host, whatever DOCKER_* the operator's shell holds.

Tier 2 (mocks): what the program sends as the provider's configuration, in a clean shell and
in one full of DOCKER_* variables; the two must be identical (no provider diff between
operators) and leave the provider nothing to take from the environment.
Tier 3 (tests/test_engine_target_live.py): the real provider binary, driven over gRPC.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from components.hosts.local import (
    ENGINE_ENVIRONMENT,
    EngineEnvironmentError,
    default_engine_endpoint,
    ignored_environment,
)
from tests.mockstack import MOCK_SERVER_IP, ProgramRun, RecordingMonitor, run_program, run_stack_file, stack_file_config
from tests.stateful_urns import shipped_stacks

SHIPPED_STACKS = shipped_stacks()

HOSTILE_SHELL = {
    "DOCKER_HOST": "tcp://laptop.example:2376",
    "DOCKER_CONTEXT": "laptop",
    "DOCKER_CA_MATERIAL": "-----BEGIN CERTIFICATE-----",
    "DOCKER_CERT_MATERIAL": "-----BEGIN CERTIFICATE-----",
    "DOCKER_KEY_MATERIAL": "-----BEGIN PRIVATE KEY-----",
    "DOCKER_SSH_OPTS": "-o ProxyJump=laptop",
    "DOCKER_TLS_VERIFY": "1",
}
PINNED_EMPTY = ("context", "certPath", "caMaterial", "certMaterial", "keyMaterial")


@pytest.fixture
def clean_shell(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in (*ENGINE_ENVIRONMENT, "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"):
        monkeypatch.delenv(variable, raising=False)
    yield


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: seen.append(message))
    return seen


def provider_inputs(run: ProgramRun) -> dict[str, Any]:
    inputs = dict(run.named("host-docker").inputs)
    raw = inputs.get("sshOpts")
    inputs["sshOpts"] = json.loads(raw) if isinstance(raw, str) else raw  # provider config travels as JSON text
    return inputs


def run_in_shell(monkeypatch: pytest.MonkeyPatch, stack: str, shell: dict[str, str], **overrides: Any) -> ProgramRun:
    with monkeypatch.context() as patch:
        for variable, value in shell.items():
            patch.setenv(variable, value)
        return run_stack_file(stack, overrides or None)


def test_local_default_is_the_engine_socket_not_the_shell(
    monkeypatch: pytest.MonkeyPatch, clean_shell: None, warnings: list[str]
) -> None:
    clean = provider_inputs(run_in_shell(monkeypatch, "dev", {}))
    assert clean["host"] == "unix:///var/run/docker.sock"
    assert all(clean[key] == "" for key in PINNED_EMPTY)
    assert clean["sshOpts"] == []
    assert warnings == []

    hostile = provider_inputs(run_in_shell(monkeypatch, "dev", HOSTILE_SHELL))
    assert hostile == clean  # the same provider config in every shell: no provider diff, same engine
    (warning,) = [w for w in warnings if "ignores" in w]
    assert "deploys to the Docker engine at unix:///var/run/docker.sock" in warning
    for variable in ENGINE_ENVIRONMENT:
        assert f"{variable}={HOSTILE_SHELL[variable]}" in warning
    assert "DOCKER_TLS_VERIFY" not in warning  # the provider never reads it (no client.FromEnv)
    assert 'pulumi config set selfhost:dockerHost "tcp://laptop.example:2376"' in warning


def test_local_docker_host_setting_wins(
    monkeypatch: pytest.MonkeyPatch, clean_shell: None, warnings: list[str]
) -> None:
    rootless = "unix:///run/user/1000/docker.sock"
    run = run_in_shell(monkeypatch, "dev", {"DOCKER_HOST": rootless}, **{"selfhost:dockerHost": rootless})
    assert provider_inputs(run)["host"] == rootless
    assert warnings == []  # DOCKER_HOST says the same as the stack
    hostile = run_in_shell(monkeypatch, "dev", HOSTILE_SHELL, **{"selfhost:dockerHost": rootless})
    assert provider_inputs(hostile) == provider_inputs(run)


def test_hetzner_provider_is_the_server_whatever_the_shell(
    monkeypatch: pytest.MonkeyPatch, clean_shell: None, warnings: list[str]
) -> None:
    clean = provider_inputs(run_in_shell(monkeypatch, "prod", {}))
    hostile = provider_inputs(run_in_shell(monkeypatch, "prod", HOSTILE_SHELL))
    assert clean == hostile
    assert clean["host"] == f"ssh://root@{MOCK_SERVER_IP}"
    assert all(clean[key] == "" for key in PINNED_EMPTY)
    assert "-o" in clean["sshOpts"] and "ProxyJump=laptop" not in clean["sshOpts"]


def test_ignored_environment() -> None:
    target = "unix:///var/run/docker.sock"
    assert ignored_environment(target, {}) == []
    assert ignored_environment(target, {"DOCKER_HOST": target, "DOCKER_CONTEXT": ""}) == []
    assert ignored_environment(target, {"DOCKER_HOST": "tcp://x:2375", "DOCKER_CONTEXT": "c"}) == [
        "DOCKER_HOST=tcp://x:2375",
        "DOCKER_CONTEXT=c",
    ]
    # A context overrides even a matching host in the provider: always reported.
    assert ignored_environment(target, {"DOCKER_HOST": target, "DOCKER_CONTEXT": "c"}) == ["DOCKER_CONTEXT=c"]


def test_default_endpoint_per_platform() -> None:
    assert default_engine_endpoint("linux") == "unix:///var/run/docker.sock"
    assert default_engine_endpoint("darwin") == "unix:///var/run/docker.sock"
    assert default_engine_endpoint("win32") == "npipe:////./pipe/docker_engine"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_docker_cert_path_is_refused_before_anything_is_registered(
    monkeypatch: pytest.MonkeyPatch, clean_shell: None, stack: str
) -> None:
    """pulumi-docker's native half loads TLS from DOCKER_CERT_PATH (client.FromEnv) whatever the config says."""
    monkeypatch.setenv("DOCKER_CERT_PATH", "/home/op/.docker/laptop")
    values, secret_keys = stack_file_config(stack)
    monitors: list[RecordingMonitor] = []
    with pytest.raises(EngineEnvironmentError, match=r"DOCKER_CERT_PATH=/home/op/\.docker/laptop is set.*env -u"):
        run_program(values, stack=stack, secret_keys=secret_keys, monitors=monitors)
    assert monitors and monitors[0].registrations == []
