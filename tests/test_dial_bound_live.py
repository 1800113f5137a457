"""Tier 3: pulumi-command's real dialling against a real sshd: a failed login ends, on schedule.

The ``pulumi-resource-command`` 1.2.1 binary (installed by the Pulumi CLI under ~/.pulumi/plugins,
or SELFHOST_COMMAND_PROVIDER=path) is driven over gRPC as the engine drives it: Configure, Check,
Create of a ``command:remote:Command``, with a small engine stand-in that receives its status
lines. OpenSSH's sshd runs from the Debian unstable root on a free loopback port, and an
ssh-agent holds either the authorised key or another one.

Proves what components/hosts/hetzner/host.py relies on: an authentication failure is a dial error,
retried ``dial_error_limit`` times and then reported as ``after N failed attempts: ssh:
handshake failed: ssh: unable to authenticate``; the time it takes is what
:func:`dial_budget_seconds` computes (limit + 1 handshakes, ``limit`` growing waits). A small
limit keeps the test short; the schedule is the same for the program's 40.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from pulumi.runtime.proto import provider_pb2

from components.hosts.hetzner.host import dial_budget_seconds
from tests import sidroot
from tests.provider_plugin import EngineLog, missing_binary_reason, provider_binary, running_provider, struct

BINARY = provider_binary("command", 1, "SELFHOST_COMMAND_PROVIDER")
SKIP = (
    missing_binary_reason("command", "1.2.1", "SELFHOST_COMMAND_PROVIDER")
    if BINARY is None
    else sidroot.skip_reason()
    or (None if shutil.which("ssh-agent") and shutil.which("ssh-keygen") else "OpenSSH client tools missing")
)
pytestmark = [pytest.mark.live, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


@dataclass
class Sshd:
    port: int
    authorized: Path
    other: Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    root = sidroot.ensure_root(["openssh-server"])
    inside = f"/tmp/selfhost-sshd-{uuid.uuid4().hex[:10]}"
    here = root / inside.lstrip("/")
    here.mkdir(parents=True)
    (root / "run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege separation directory
    for key, comment in (("host_key", "host"), ("authorized", "authorized"), ("other", "other")):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(here / key)], check=True
        )
    shutil.copyfile(here / "authorized.pub", here / "authorized_keys")
    port = _free_port()
    (here / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {inside}/host_key\n"
        f"AuthorizedKeysFile {inside}/authorized_keys\nPidFile {inside}/sshd.pid\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        # OpenSSH 9.8+ penalises a source after failed logins and then drops its connections
        # ("handshake failed: EOF", what a Debian 13 server soon answers): also a dial error, but
        # this test wants the same answer from every try.
        "PerSourcePenalties no\n"
    )
    server = subprocess.Popen(
        sidroot.chroot_command(root, "/usr/sbin/sshd", "-D", "-e", "-f", f"{inside}/sshd_config"),
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield Sshd(port=port, authorized=here / "authorized", other=here / "other")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(here, ignore_errors=True)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    socket_path = str(tmp_path / "agent.sock")
    process = subprocess.Popen(["ssh-agent", "-D", "-a", socket_path], stdout=subprocess.DEVNULL)
    for _ in range(100):
        if Path(socket_path).exists():
            break
        time.sleep(0.05)
    yield socket_path, process
    process.terminate()
    process.wait(timeout=10)


def run_command(port: int, dial_error_limit: int, agent_socket: str | None) -> tuple[str, float, list[str]]:
    """Create a remote Command as the engine would; return the outcome, the seconds it took and the status lines."""
    assert BINARY is not None
    engine_log = EngineLog()
    environ = {key: value for key, value in os.environ.items() if key != "SSH_AUTH_SOCK"}
    if agent_socket is not None:
        environ["SSH_AUTH_SOCK"] = agent_socket
    with running_provider([str(BINARY)], environ, engine_log) as stub:
        stub.Configure(
            provider_pb2.ConfigureRequest(
                args=struct({}), acceptSecrets=True, acceptResources=True, type="pulumi:providers:command"
            ),
            timeout=30,
        )
        urn = "urn:pulumi:prod::selfhost::command:remote:Command::host-ready"
        connection = {
            "host": "127.0.0.1",
            "port": port,
            "user": "root",
            "dialErrorLimit": dial_error_limit,
            "perDialTimeout": 15,
        }
        checked = stub.Check(
            provider_pb2.CheckRequest(
                urn=urn, news=struct({"connection": connection, "create": "echo ready"}), randomSeed=b"0" * 32
            ),
            timeout=30,
        )
        assert not checked.failures, checked.failures
        start = time.monotonic()
        try:
            created = stub.Create(provider_pb2.CreateRequest(urn=urn, properties=checked.inputs), timeout=600)
            outcome = f"stdout={dict(created.properties).get('stdout', '').strip()}"
        except grpc.RpcError as error:
            outcome = f"error: {error.details()}"
        return outcome, time.monotonic() - start, engine_log.messages


def test_the_authorised_key_logs_in(sshd: Sshd, agent: tuple[str, subprocess.Popen[bytes]]) -> None:
    socket_path, _ = agent
    subprocess.run(["ssh-add", "-q", str(sshd.authorized)], check=True, env={"SSH_AUTH_SOCK": socket_path})
    outcome, _, _ = run_command(sshd.port, 3, socket_path)
    assert outcome == "stdout=ready"


def test_a_failed_login_is_retried_then_fails_on_schedule(
    sshd: Sshd, agent: tuple[str, subprocess.Popen[bytes]]
) -> None:
    socket_path, _ = agent
    subprocess.run(["ssh-add", "-q", str(sshd.other)], check=True, env={"SSH_AUTH_SOCK": socket_path})
    limit = 6
    outcome, seconds, status = run_command(sshd.port, limit, socket_path)
    assert outcome.startswith(
        f"error: after {limit} failed attempts: ssh: handshake failed: ssh: unable to authenticate"
    )
    assert len([line for line in status if "failed: retrying" in line]) == limit
    waits = dial_budget_seconds(limit, 0.0)  # 0.1 + 0.15 + ... : 2.08 s for 6
    assert waits <= seconds < waits + (limit + 1) * 1.0  # plus one loopback handshake per try


def test_no_agent_fails_the_same_way(sshd: Sshd) -> None:
    """Without SSH_AUTH_SOCK pulumi-command offers no key at all: also a dial error, also bounded."""
    outcome, _, _ = run_command(sshd.port, 2, None)
    assert outcome.startswith("error: after 2 failed attempts: ssh: handshake failed: ssh: unable to authenticate")
