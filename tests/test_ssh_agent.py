"""The ssh-agent check (components/hosts/hetzner/ssh_agent.py) and the bounded dialling of the readiness command.

Tier 1 against a fake agent speaking the agent protocol, tier 3 against OpenSSH's real
``ssh-agent``/``ssh-add``, and tier 2: the whole prod program under mocks, which must stop
before registering anything when ``pulumi up`` has no usable agent, and only warn in a preview.
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pulumi
import pytest

from components.hosts.hetzner import ssh_agent
from components.hosts.hetzner.host import DIAL_ERROR_LIMIT, PER_DIAL_TIMEOUT_SECONDS, dial_budget_seconds
from components.hosts.hetzner.ssh_agent import SshAgentError, agent_key_blobs, check_ssh_agent, fingerprint, key_blob
from tests.conftest import REAL_AGENT_PROBLEM
from tests.mockstack import RecordingMonitor, run_program, stack_file_config

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOaW+RC+QOf2afHJ49m0fCOSutw+QwSy0BSjPujBglUU admin@example.com"
"""The key in Pulumi.prod.yaml."""
OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJgrMCzLQ0kF+IDK77ZCmvuOOQCRYVvL1bB+TXS7KXrJ other@example.com"


@pytest.fixture(autouse=True)
def real_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo the suite-wide stand-in (tests/conftest.py): these tests are about the real check."""
    monkeypatch.setattr(ssh_agent, "agent_problem", REAL_AGENT_PROBLEM)


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def identities_answer(blobs: list[bytes]) -> bytes:
    body = bytes([ssh_agent.SSH_AGENT_IDENTITIES_ANSWER]) + struct.pack(">I", len(blobs))
    body += b"".join(_string(blob) + _string(b"comment") for blob in blobs)
    return struct.pack(">I", len(body)) + body


class FakeAgent:
    """A unix socket that answers one request per connection with fixed bytes."""

    def __init__(self, path: Path, answer: bytes) -> None:
        self.path = path
        self.requests: list[bytes] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen()
        self._answer = answer
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection:
                self.requests.append(connection.recv(64))
                connection.sendall(self._answer)

    def close(self) -> None:
        self._server.close()


StartAgent = Callable[[bytes], FakeAgent]


@pytest.fixture
def fake_agent(tmp_path: Path) -> Iterator[StartAgent]:
    agents: list[FakeAgent] = []

    def start(answer: bytes) -> FakeAgent:
        agent = FakeAgent(tmp_path / f"agent-{uuid.uuid4().hex[:8]}.sock", answer)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.close()


def test_asks_for_identities_and_reads_every_blob(fake_agent: StartAgent) -> None:
    agent = fake_agent(identities_answer([key_blob(OTHER), key_blob(ED25519)]))
    assert agent_key_blobs(str(agent.path)) == [key_blob(OTHER), key_blob(ED25519)]
    # SSH_AGENTC_REQUEST_IDENTITIES: length 1, type 11.
    assert agent.requests == [b"\x00\x00\x00\x01\x0b"]


def test_agent_holding_one_of_the_keys_passes(fake_agent: StartAgent) -> None:
    agent = fake_agent(identities_answer([key_blob(OTHER), key_blob(ED25519)]))
    # The comment does not matter: sshd compares keys, not comments.
    renamed = ED25519.rsplit(" ", 1)[0] + " laptop"
    assert ssh_agent.agent_problem([renamed], {"SSH_AUTH_SOCK": str(agent.path)}) is None


def test_agent_without_the_key_names_it_and_ssh_add(fake_agent: StartAgent) -> None:
    agent = fake_agent(identities_answer([key_blob(OTHER)]))
    problem = ssh_agent.agent_problem([ED25519], {"SSH_AUTH_SOCK": str(agent.path)})
    assert problem is not None
    assert f"holds {fingerprint(key_blob(OTHER))}, none of selfhost:hetzner.sshPublicKeys" in problem
    assert f"ssh-ed25519 {fingerprint(key_blob(ED25519))} admin@example.com" in problem
    assert "ssh-add" in problem


def test_empty_agent(fake_agent: StartAgent) -> None:
    agent = fake_agent(identities_answer([]))
    problem = ssh_agent.agent_problem([ED25519], {"SSH_AUTH_SOCK": str(agent.path)})
    assert problem is not None and "holds no keys" in problem


def test_no_agent_at_all() -> None:
    problem = ssh_agent.agent_problem([ED25519], {})
    assert problem is not None and problem.startswith("SSH_AUTH_SOCK is not set")
    assert "ssh-agent" in problem and "ssh-add" in problem and "admin@example.com" in problem


def test_socket_that_is_not_there(tmp_path: Path) -> None:
    path = tmp_path / "gone.sock"
    problem = ssh_agent.agent_problem([ED25519], {"SSH_AUTH_SOCK": str(path)})
    assert problem is not None and f"cannot ask the ssh-agent at SSH_AUTH_SOCK={path}" in problem


@pytest.mark.parametrize(
    "answer",
    [
        b"\x00\x00\x00\x01\x05",  # SSH_AGENT_FAILURE
        b"\x00\x00\x00\x09\x0c\x00\x00\x00\x01\x00\x00\x00\x40",  # one key, blob cut short
        b"\x00\x00",  # connection closed mid-length
    ],
)
def test_socket_that_is_no_agent(fake_agent: StartAgent, answer: bytes) -> None:
    agent = fake_agent(answer)
    problem = ssh_agent.agent_problem([ED25519], {"SSH_AUTH_SOCK": str(agent.path)})
    assert problem is not None and problem.startswith("cannot ask the ssh-agent")


def test_up_refuses_and_preview_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    with pytest.raises(SshAgentError, match="SSH_AUTH_SOCK is not set"):
        check_ssh_agent([ED25519], preview=False, environ={})
    assert warnings == []
    check_ssh_agent([ED25519], preview=True, environ={})
    assert len(warnings) == 1 and "`pulumi up` will refuse to start" in warnings[0]


def _run_prod(preview: bool, monitors: list[RecordingMonitor]) -> None:
    values, secret_keys = stack_file_config("prod")
    run_program(values, stack="prod", secret_keys=secret_keys, monitors=monitors, preview=preview)


def test_prod_up_without_agent_registers_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monitors: list[RecordingMonitor] = []
    with pytest.raises(SshAgentError, match=r"SSH_AUTH_SOCK is not set.*selfhost:hetzner\.sshPublicKeys"):
        _run_prod(preview=False, monitors=monitors)
    assert monitors and monitors[0].registrations == []


def test_prod_preview_without_agent_still_previews(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    monitors: list[RecordingMonitor] = []
    _run_prod(preview=True, monitors=monitors)
    assert any(r.name == "host-ready" for r in monitors[0].registrations)
    assert [w for w in warnings if w.startswith("SSH_AUTH_SOCK is not set")]


def test_dialling_is_bounded() -> None:
    """pulumi-command's -1 dials forever; the bound keeps a fresh server's boot and fails a bad key soon."""
    assert DIAL_ERROR_LIMIT > 0
    refused = dial_budget_seconds(DIAL_ERROR_LIMIT, 0.0)
    # A refused connection or failed login comes back at once: the waits alone, 0.1 s x 1.5^n up to 5 s.
    assert 150 < refused < 170
    # Timeouts: every try waits out its per-dial timeout as well. Bounded, and over 10 minutes for a slow boot.
    timeouts = dial_budget_seconds(DIAL_ERROR_LIMIT, PER_DIAL_TIMEOUT_SECONDS)
    assert 600 < timeouts < 15 * 60
    # The schedule itself: 3 tries with limit 2, waits 0.1 + 0.15.
    assert dial_budget_seconds(2, 1.0) == pytest.approx(0.25 + 3.0)
    with pytest.raises(ValueError):
        dial_budget_seconds(-1, 15)


OPENSSH = shutil.which("ssh-agent") and shutil.which("ssh-add") and shutil.which("ssh-keygen")


@pytest.mark.live
@pytest.mark.skipif(not OPENSSH, reason="OpenSSH client tools (ssh-agent, ssh-add, ssh-keygen) not installed")
def test_real_ssh_agent(tmp_path: Path) -> None:
    """OpenSSH's agent, empty and then holding a fresh key, read through the protocol."""
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test@selfhost", "-f", str(key)], check=True)
    public_key = (tmp_path / "id_ed25519.pub").read_text().strip()
    socket_path = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket_path)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if socket_path.exists():
                break
            threading.Event().wait(0.05)
        environ = {"SSH_AUTH_SOCK": str(socket_path)}
        empty = ssh_agent.agent_problem([public_key], environ)
        assert empty is not None and "holds no keys" in empty
        subprocess.run(["ssh-add", "-q", str(key)], check=True, env=environ, stderr=subprocess.DEVNULL)
        assert ssh_agent.agent_problem([public_key], environ) is None
        assert ssh_agent.agent_problem([ED25519], environ) is not None
        check_ssh_agent([ED25519, public_key], preview=False, environ=environ)
    finally:
        agent.terminate()
        agent.wait(timeout=10)
