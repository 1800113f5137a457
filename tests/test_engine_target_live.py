"""Tier 3: the real Docker provider, configured as the program configures it, in a hostile shell.

The provider binary (``pulumi-resource-docker`` 5.x, which the Pulumi CLI installs under
~/.pulumi/plugins) is driven over its gRPC interface as the engine drives it: CheckConfig,
then Configure with ``args`` and the legacy ``variables`` map (pulumi/pulumi
``pkg/resource/plugin/provider_plugin.go``), then an Invoke that makes it talk to its engine.
Two fake engines (unix sockets answering the Docker API's ``/_ping`` and ``/version``, and 404
to the rest) show where the requests go. DOCKER_CONTEXT's endpoint is written to a context
in a private mount namespace, over the home directory the provider reads contexts from.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import pwd
import shlex
import shutil
import socketserver
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from tests.mockstack import run_stack_file
from tests.provider_plugin import configure, provider_binary, running_provider, struct

PROVIDER_URN = "urn:pulumi:dev::selfhost::pulumi:providers:docker::host-docker"


BINARY = provider_binary("docker", 5, "SELFHOST_DOCKER_PROVIDER")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        BINARY is None or shutil.which("unshare") is None or os.geteuid() != 0,
        reason="needs root, unshare and the pulumi-resource-docker 5.x binary "
        "(`pulumi plugin install resource docker 5.2.0`, or SELFHOST_DOCKER_PROVIDER=path)",
    ),
]


class FakeEngine:
    """Answers the Docker API's ping and version on a unix socket and records every request path."""

    def __init__(self, path: Path) -> None:
        self.requests: list[str] = []
        engine = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def address_string(self) -> str:
                return "unix"

            def do_GET(self) -> None:
                engine.requests.append(self.path)
                if self.path.endswith("/_ping"):
                    code, body, kind = 200, b"OK", "text/plain"
                elif self.path.endswith("/version"):
                    version = {"ApiVersion": "1.51", "MinAPIVersion": "1.24", "Version": "28.5.0", "Os": "linux"}
                    code, body, kind = 200, json.dumps(version).encode(), "application/json"
                else:
                    code, body, kind = 404, b'{"message":"fake engine: no such object"}', "application/json"
                self.send_response(code)
                self.send_header("Api-Version", "1.51")
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError):  # the provider hangs up after the headers
                    self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self.endpoint = f"unix://{path}"
        self._server = Server(str(path), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[FakeEngine, FakeEngine]]:
    target, elsewhere = FakeEngine(tmp_path / "target.sock"), FakeEngine(tmp_path / "elsewhere.sock")
    yield target, elsewhere
    target.close()
    elsewhere.close()


def configure_and_invoke(config: Mapping[str, str], environ: Mapping[str, str], context_host: str | None) -> str:
    """Start the provider, configure it as the engine would, make it talk to its engine; return the outcome."""
    assert BINARY is not None
    command = shlex.quote(str(BINARY))
    if context_host is not None:
        home = pwd.getpwuid(os.getuid()).pw_dir
        meta = json.dumps({"Name": "laptop", "Endpoints": {"docker": {"Host": context_host}}})
        contexts = f"{home}/.docker/contexts/meta/selfhost-test"
        command = (
            f"mount -t tmpfs tmpfs {shlex.quote(home)} && mkdir -p {shlex.quote(contexts)} && "
            f"printf %s {shlex.quote(meta)} > {shlex.quote(contexts)}/meta.json && exec {command}"
        )
    wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c", command]
    with running_provider(wrapper, environ) as stub:
        try:
            configure(stub, "docker", PROVIDER_URN, config)
            stub.Invoke(
                provider_pb2.InvokeRequest(
                    tok="docker:index/getNetwork:getNetwork", args=struct({"name": "selfhost-probe"})
                ),
                timeout=60,
            )
        except grpc.RpcError as error:
            return f"{error.code().name}: {error.details()}"
        return "invoked"


def clean_environ() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("DOCKER_")}


def program_config(docker_host: str) -> dict[str, str]:
    """The provider's inputs exactly as the program registers them for the dev stack (under mocks)."""
    inputs = run_stack_file("dev", {"selfhost:dockerHost": docker_host}).named("host-docker").inputs
    assert all(isinstance(value, str) for value in inputs.values()), inputs
    return dict(inputs)


def test_program_config_reaches_exactly_its_host(engines: tuple[FakeEngine, FakeEngine]) -> None:
    target, elsewhere = engines
    hostile = {
        **clean_environ(),
        "DOCKER_HOST": elsewhere.endpoint,
        "DOCKER_CONTEXT": "laptop",
        "DOCKER_CA_MATERIAL": "not a certificate",
        "DOCKER_CERT_MATERIAL": "not a certificate",
        "DOCKER_KEY_MATERIAL": "not a key",
        "DOCKER_SSH_OPTS": "-o ProxyJump=laptop",
        "DOCKER_API_VERSION": "1.41",
        "DOCKER_TLS_VERIFY": "1",
    }
    outcome = configure_and_invoke(program_config(target.endpoint), hostile, context_host=elsewhere.endpoint)
    # The data source asked the target engine, which has no such network.
    assert "fake engine: no such object" in outcome
    assert "/_ping" in " ".join(target.requests)
    assert any("/networks/selfhost-probe" in path for path in target.requests)
    assert elsewhere.requests == []


def test_without_the_pinned_settings_the_context_wins(engines: tuple[FakeEngine, FakeEngine]) -> None:
    """The control: what the program sent before (host only) is redirected by DOCKER_CONTEXT."""
    target, elsewhere = engines
    environ = {**clean_environ(), "DOCKER_CONTEXT": "laptop"}
    outcome = configure_and_invoke({"host": target.endpoint}, environ, context_host=elsewhere.endpoint)
    assert "fake engine: no such object" in outcome
    assert any("/networks/selfhost-probe" in path for path in elsewhere.requests)
    assert not any("/networks/" in path for path in target.requests)


def test_docker_cert_path_breaks_configure_whatever_the_config(
    engines: tuple[FakeEngine, FakeEngine], tmp_path: Path
) -> None:
    """Why the program refuses DOCKER_CERT_PATH (components/hosts/local.py refuse_engine_tls_environment)."""
    target, elsewhere = engines
    environ = {**clean_environ(), "DOCKER_CERT_PATH": str(tmp_path / "no-certs")}
    outcome = configure_and_invoke(program_config(target.endpoint), environ, context_host=None)
    assert "docker native provider returned an unexpected error from Configure" in outcome
    assert not any("/networks/" in path for path in target.requests + elsewhere.requests)
