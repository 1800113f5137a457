"""Tier 3: what a Docker engine does with the names the provider hands it, against a real registry.

The image policy (components/core/images.py, docs/apps.md) rests on the provider's ``findImage``
(kreuzwerker/terraform-provider-docker v4.5.0, resource_docker_image_funcs.go): it inspects
``name`` on the engine and pulls only when that finds nothing. This test makes the same API
calls the provider makes (``GET /images/<name>/json``, then ``POST /images/create`` with
``fromImage=<repository>&tag=<digest>``, which is how the Go client sends a ``tag@digest``
reference) against this run's Docker 28 (tests/dockerd28.py) and a real registry (Debian's
``docker-registry``, distribution 2.8, from the unstable root, on the engine's loopback),
after "upstream" rebuilt a tag:

- a tag alone answers with the stale local image: a ``pull_triggers`` replacement pulls nothing;
- ``tag@<new digest>`` is not found locally, so it is pulled, and then answers with the new image;
- ``tag@<recorded digest>`` of an image the host has answers locally: no pull, same image id.

Not proven: the provider's own code paths (read in its source), or the containerd image store
(Docker 29's default for new installs), whose lookup of a ``name@digest`` reference reads in
moby v28.5.2 daemon/containerd/image.go ``resolveImage`` (by digest, same repository).
"""

from __future__ import annotations

import http.client
import io
import json
import socket
import tarfile
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import dockerd28
from tests.dockerd28 import Engine

pytestmark = pytest.mark.live


class _EngineConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: Path) -> None:
        super().__init__("localhost", timeout=120)
        self.socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(120)
        self.sock.connect(str(self.socket_path))


def _api(engine: Engine, method: str, path: str) -> tuple[int, bytes]:
    """One Docker API call, as the provider makes it, on the engine's socket (its host path)."""
    connection = _EngineConnection(engine.state / "docker.sock")
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def inspect_id(engine: Engine, name: str) -> str | None:
    """What the provider's searchLocalImages asks: the local image answering to ``name``, if any."""
    status, body = _api(engine, "GET", f"/images/{urllib.parse.quote(name, safe=':/@')}/json")
    if status == 404:
        return None
    assert status == 200, body
    image_id: str = json.loads(body)["Id"]
    return image_id


def pull_by_digest(engine: Engine, repository: str, digest: str) -> None:
    """The Go client's ImagePull of ``repository:tag@digest``: fromImage=repository, tag=digest."""
    query = urllib.parse.urlencode({"fromImage": repository, "tag": digest})
    status, body = _api(engine, "POST", f"/images/create?{query}")
    assert status == 200 and b'"error"' not in body, body


def _image(engine: Engine, content: str) -> str:
    """A one-file image (busybox and /version), imported: no pull needed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(engine.root / "usr/bin/busybox", arcname="bin/busybox")
        data = content.encode()
        info = tarfile.TarInfo("version")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return engine.docker("import", "-", input=buffer.getvalue()).stdout.strip()


@pytest.fixture(scope="module")
def registry(docker28: Engine) -> Iterator[str]:
    """A registry on the engine's loopback (``tests/dockerd28.py``); yields host:port."""
    with dockerd28.running_registry(docker28) as address:
        yield address


def _push(engine: Engine, image_id: str, ref: str) -> str:
    """Tag and push; the registry's digest of ``ref`` now."""
    engine.docker("tag", image_id, ref)
    engine.docker("push", ref)
    repository = ref.rsplit(":", 1)[0]
    inspected = engine.docker("image", "inspect", "--format", "{{json .RepoDigests}}", image_id).stdout
    digests: list[str] = json.loads(inspected)
    (digest,) = [d.split("@", 1)[1] for d in digests if d.startswith(repository + "@")]
    return digest


@pytest.fixture
def rebuilt_upstream(docker28: Engine, registry: str) -> Iterator[tuple[str, str, str, str, str]]:
    """The host has the old build of ``repo:1.0``; the registry has a new one. (ref, old id, old digest, new digest)."""
    repository = f"{registry}/selfhost-probe-{uuid.uuid4().hex[:12]}"
    ref = f"{repository}:1.0"
    old = _image(docker28, f"build 1 {uuid.uuid4()}")
    old_digest = _push(docker28, old, ref)
    new = _image(docker28, f"build 2 {uuid.uuid4()}")
    new_digest = _push(docker28, new, ref)
    # Forget the new build locally; the host's repo:1.0 is the old one again, as on a server that pulled it once.
    docker28.docker("image", "rm", "--force", new)
    docker28.docker("tag", old, ref)
    try:
        yield ref, repository, old, old_digest, new_digest
    finally:
        for name in (ref, f"{repository}@{new_digest}", f"{repository}@{old_digest}", old):
            docker28.docker("image", "rm", "--force", name, check=False)


def test_a_tag_answers_with_the_stale_local_image(
    docker28: Engine, rebuilt_upstream: tuple[str, str, str, str, str]
) -> None:
    ref, _, old, _, new_digest = rebuilt_upstream
    assert inspect_id(docker28, ref) == old, "findImage would return this and pull nothing, whatever pull_triggers say"
    assert inspect_id(docker28, f"{ref}@{new_digest}") is None


def test_a_new_digest_is_pulled_and_then_answers_with_the_new_image(
    docker28: Engine, rebuilt_upstream: tuple[str, str, str, str, str]
) -> None:
    ref, repository, old, _, new_digest = rebuilt_upstream
    pinned = f"{ref}@{new_digest}"
    assert inspect_id(docker28, pinned) is None
    pull_by_digest(docker28, repository, new_digest)
    pulled = inspect_id(docker28, pinned)
    assert pulled is not None and pulled != old


def test_the_recorded_digest_of_a_local_image_answers_without_a_pull(
    docker28: Engine, rebuilt_upstream: tuple[str, str, str, str, str]
) -> None:
    ref, _, old, old_digest, _ = rebuilt_upstream
    assert inspect_id(docker28, f"{ref}@{old_digest}") == old
