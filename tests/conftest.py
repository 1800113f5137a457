"""Session fixtures: what several tier-3 modules may share, started once per test run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import dockerd28


@pytest.fixture(scope="session")
def docker28() -> Iterator[dockerd28.Engine]:
    """Docker Engine 28 from the unstable root, in its own namespaces (see ``tests/dockerd28.py``)."""
    reason = dockerd28.skip_reason()
    if reason is not None:
        pytest.skip(reason)
    with dockerd28.running_engine() as engine:
        yield engine
