"""Start a Pulumi resource-provider plugin binary and drive it over gRPC, as the engine does.

Shared by the tier-3 tests of the real provider binaries (docker, hcloud, command). The
engine's side of the protocol (pulumi/pulumi ``pkg/resource/plugin/provider_plugin.go``):
the plugin is started with the engine's gRPC address as its argument, prints the port it
serves on as its first line of stdout, and is configured with ``CheckConfig`` then
``Configure`` (``args`` plus the legacy ``variables`` map of ``<package>:config:<key>``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import engine_pb2_grpc, provider_pb2, provider_pb2_grpc


def provider_binary(package: str, major: int, env_var: str) -> Path | None:
    """``pulumi-resource-<package>``: from ``env_var``, the PATH, or the newest ``major``.x the CLI installed."""
    explicit = os.environ.get(env_var)
    if explicit:
        return Path(explicit)
    on_path = shutil.which(f"pulumi-resource-{package}")
    if on_path:
        return Path(on_path)
    pattern = f".pulumi/plugins/resource-{package}-v{major}.*/pulumi-resource-{package}"
    installed = sorted(Path.home().glob(pattern))
    return installed[-1] if installed else None


def missing_binary_reason(package: str, version: str, env_var: str) -> str:
    return (
        f"the pulumi-resource-{package} binary is not installed "
        f"(`pulumi plugin install resource {package} {version}`, or {env_var}=path)"
    )


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(values))
    return message


class EngineLog(engine_pb2_grpc.EngineServicer):
    """The engine's Log RPC: what the provider reports (warnings, status lines) lands in ``messages``."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:  # noqa: N802 - the gRPC method's name
        self.messages.append(request.message)
        return empty_pb2.Empty()

    def settled(self) -> list[str]:
        """The messages so far, after a moment: logs travel on their own RPC."""
        time.sleep(0.2)
        return list(self.messages)


@contextmanager
def running_provider(
    command: Sequence[str], env: Mapping[str, str] | None = None, engine_log: EngineLog | None = None
) -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    """Run ``command`` (the plugin, or a wrapper that execs it) and yield a stub connected to it.

    With ``engine_log``, an engine stand-in serves its Log RPC and its address is appended to
    ``command``, as the engine passes it.
    """
    engine = None
    argv = list(command)
    if engine_log is not None:
        engine = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(engine_log, engine)
        argv.append(f"127.0.0.1:{engine.add_insecure_port('127.0.0.1:0')}")
        engine.start()
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=None if env is None else dict(env),
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"provider printed {port!r} instead of its port"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        process.kill()
        process.wait(timeout=10)
        if engine is not None:
            engine.stop(None)


def configure(stub: provider_pb2_grpc.ResourceProviderStub, package: str, urn: str, config: Mapping[str, str]) -> None:
    """CheckConfig, then Configure with the checked inputs and the legacy variables map."""
    checked = stub.CheckConfig(provider_pb2.CheckRequest(urn=urn, news=struct(config), olds=struct({})), timeout=60)
    assert not checked.failures, checked.failures
    stub.Configure(
        provider_pb2.ConfigureRequest(
            args=checked.inputs,
            variables={f"{package}:config:{key}": value for key, value in config.items()},
            acceptSecrets=True,
            acceptResources=True,
            type=f"pulumi:providers:{package}",
        ),
        timeout=60,
    )
