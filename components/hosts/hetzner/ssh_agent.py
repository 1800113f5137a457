"""Does the operator's ssh-agent hold a key the Hetzner server accepts? Asked before any resource exists.

Pulumi reaches the server twice over SSH, and both need the agent:

- pulumi-command 1.2.1 (``provider/pkg/provider/remote/connection.go``, ``SSHConfig``)
  authenticates with ``privateKey``/``password`` if given, else only with the agent at
  ``agentSocketPath`` or ``SSH_AUTH_SOCK``; it reads no key file. ``dialWithRetry`` retries
  every failed ``ssh.Dial``, an authentication failure as much as a refused connection, so a
  missing key used to surface only as a readiness command that never finished.
- The Docker provider runs the ``ssh`` client (``BatchMode=yes``), which uses the agent too.

So ``pulumi up`` refuses to start unless ``SSH_AUTH_SOCK`` is set, the agent answers, and
it holds one of ``selfhost:hetzner.sshPublicKeys`` (compared by key blob, as sshd does;
comments are irrelevant). A preview connects to nothing, so there the same finding is a
warning: CI previews run without an agent.

The agent is asked with the protocol itself (draft-miller-ssh-agent, section 3.5:
``SSH_AGENTC_REQUEST_IDENTITIES``), which lists public keys only; no ``ssh-add`` binary needed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
from collections.abc import Mapping, Sequence

import pulumi

SSH_AGENTC_REQUEST_IDENTITIES = 11
SSH_AGENT_IDENTITIES_ANSWER = 12
AGENT_TIMEOUT_SECONDS = 5.0
KEYS_SETTING = "selfhost:hetzner.sshPublicKeys"
ADD_KEY_HINT = 'eval "$(ssh-agent)" && ssh-add ~/.ssh/id_ed25519 (the private half of one of them)'


class SshAgentError(pulumi.RunError):
    """The agent cannot authenticate Pulumi to the server; the CLI prints only the message."""


class AgentProtocolError(Exception):
    """The socket answered, but not as an ssh-agent."""


def key_blob(public_key: str) -> bytes:
    """The wire form of an OpenSSH public key line (``type base64 [comment]``)."""
    return base64.b64decode(public_key.split()[1])


def fingerprint(blob: bytes) -> str:
    """As ``ssh-keygen -l`` and ``ssh-add -l`` print it."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def describe(public_key: str) -> str:
    parts = public_key.split(maxsplit=2)
    comment = f" {parts[2]}" if len(parts) > 2 else ""
    return f"{parts[0]} {fingerprint(key_blob(public_key))}{comment}"


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise AgentProtocolError("the agent closed the connection mid-answer")
        data += chunk
    return data


def _string(payload: bytes, offset: int) -> tuple[bytes, int]:
    """One SSH wire-format string (RFC 4251 section 5: uint32 length, then the bytes) at ``offset``."""
    if offset + 4 > len(payload):
        raise AgentProtocolError("truncated identities answer")
    (length,) = struct.unpack_from(">I", payload, offset)
    start = offset + 4
    if start + length > len(payload):
        raise AgentProtocolError("truncated identities answer")
    return payload[start : start + length], start + length


def ssh_strings(blob: bytes) -> list[bytes] | None:
    """The strings a public key blob is made of (its type name first), or None if it does not split exactly."""
    fields: list[bytes] = []
    offset = 0
    try:
        while offset < len(blob):
            field, offset = _string(blob, offset)
            fields.append(field)
    except AgentProtocolError:
        return None
    return fields


def agent_key_blobs(socket_path: str, timeout: float = AGENT_TIMEOUT_SECONDS) -> list[bytes]:
    """The public key blobs the agent at ``socket_path`` holds (raises OSError, AgentProtocolError)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(socket_path)
        connection.sendall(struct.pack(">IB", 1, SSH_AGENTC_REQUEST_IDENTITIES))
        (length,) = struct.unpack(">I", _read_exactly(connection, 4))
        if length < 5 or length > 256 * 1024:
            raise AgentProtocolError(f"implausible answer length {length}")
        payload = _read_exactly(connection, length)
    if payload[0] != SSH_AGENT_IDENTITIES_ANSWER:
        raise AgentProtocolError(f"answer type {payload[0]}, expected {SSH_AGENT_IDENTITIES_ANSWER}")
    (count,) = struct.unpack_from(">I", payload, 1)
    blobs: list[bytes] = []
    offset = 5
    for _ in range(count):
        blob, offset = _string(payload, offset)
        _comment, offset = _string(payload, offset)
        blobs.append(blob)
    return blobs


def agent_problem(public_keys: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """Why the agent cannot log Pulumi in with one of ``public_keys``, or None when it can."""
    wanted = "; ".join(describe(key) for key in public_keys)
    socket_path = environ.get("SSH_AUTH_SOCK", "")
    if not socket_path:
        return (
            f"SSH_AUTH_SOCK is not set. Pulumi logs in to the Hetzner server as root with a key held by "
            f"your ssh-agent, one of {KEYS_SETTING} ({wanted}); it reads no key file. Start an agent and "
            f"add the key: {ADD_KEY_HINT}"
        )
    try:
        blobs = agent_key_blobs(socket_path)
    except (OSError, AgentProtocolError) as error:
        return (
            f"cannot ask the ssh-agent at SSH_AUTH_SOCK={socket_path} for its keys ({error}). Pulumi logs in "
            f"to the Hetzner server with a key held by the agent, one of {KEYS_SETTING} ({wanted}): "
            f"{ADD_KEY_HINT}"
        )
    held = set(blobs)
    if any(key_blob(key) in held for key in public_keys):
        return None
    holding = ", ".join(fingerprint(blob) for blob in blobs) or "no keys"
    return (
        f"the ssh-agent at SSH_AUTH_SOCK={socket_path} holds {holding}, none of {KEYS_SETTING} ({wanted}). "
        f"Pulumi logs in to the Hetzner server with a key held by the agent: {ADD_KEY_HINT}; "
        "`ssh-add -l` lists what the agent holds"
    )


def check_ssh_agent(public_keys: Sequence[str], *, preview: bool, environ: Mapping[str, str] | None = None) -> None:
    """Refuse (``pulumi up``) or warn (preview) when the agent cannot authenticate Pulumi."""
    problem = agent_problem(public_keys, os.environ if environ is None else environ)
    if problem is None:
        return
    if preview:
        pulumi.log.warn(f"{problem}. A preview connects to nothing; `pulumi up` will refuse to start.")
        return
    raise SshAgentError(f"{problem}.")
