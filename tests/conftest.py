"""Suite-wide test setup and session fixtures that several tier-3 modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components.hosts.hetzner import ssh_agent
from tests import dockerd28


@pytest.fixture(scope="session")
def docker28() -> Iterator[dockerd28.Engine]:
    """Docker Engine 28 from the unstable root, in its own namespaces (see ``tests/dockerd28.py``)."""
    reason = dockerd28.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with dockerd28.running_engine() as engine:
        yield engine


REAL_AGENT_PROBLEM = ssh_agent.agent_problem
"""The real check, for the tests that exercise it (tests/test_ssh_agent.py restores it)."""


@pytest.fixture(autouse=True, scope="session")
def _operator_agent_holds_the_key() -> Iterator[None]:
    """Mock runs of host=hetzner stand for ``pulumi up`` on a machine whose ssh-agent holds the key.

    Without this every such run would stop at the agent check (components/hosts/hetzner/ssh_agent.py), which
    its own tests exercise against real and fake agents. Session scope: module-scoped program
    runs start before any function-scoped fixture.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ssh_agent, "agent_problem", lambda public_keys, environ: None)
        yield
