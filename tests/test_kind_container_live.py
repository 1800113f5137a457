"""Tier 3: who can read a container app's secret file, on Docker Engine 28.5.

The spec's rule (components/apps/container/spec.py): the file is owned by ``user``'s uid when
it is numeric, else by root; mode 0400. Here each combination of an image's ``USER`` and the
app's ``user`` runs on a real engine (tests/dockerd28.py), the file copied in the way the
provider copies uploads (one tar per file, ``CopyUIDGID`` when it has an owner:
components/core/container.py ``FileUpload.args``; tests/docker_replay.py does the same), and the
container's own process tries to read it. The last case is the documented limit: an image whose
``USER`` is not root cannot read a root-owned secret, so such an image needs ``user``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from components.core.container import FileUpload, secret_file
from tests import docker_replay as replay
from tests.dockerd28 import Engine

SECRET_PATH = "/run/secrets/api_token"
RUNS_AS_1000 = "selfhost-test/busybox-user1000:local"


@pytest.fixture(scope="module")
def images(docker28: Engine) -> Iterator[dict[str | None, str]]:
    """The stand-in image as root, and the same with ``USER 1000:1000`` in its config."""
    busybox = docker28.root / "usr/bin/busybox"
    rootfs = replay.stand_in_image_tar(busybox)
    docker28.docker("import", "-", replay.STAND_IN_IMAGE, input=rootfs)
    docker28.docker("import", "--change", "USER 1000:1000", "-", RUNS_AS_1000, input=rootfs)
    yield {None: replay.STAND_IN_IMAGE, "1000:1000": RUNS_AS_1000}


def _as_provider_sends(upload: FileUpload, content: str) -> dict[str, object]:
    """The upload's provider inputs (FileUpload.args without Pulumi): no owner/group when root's."""
    owner, group = (None, None) if upload.root_owned else (upload.owner, upload.group)
    return {"file": upload.path, "content": content, "owner": owner, "group": group, "permissions": upload.mode}


@pytest.mark.parametrize(
    ("image_user", "user", "owner", "readable"),
    [
        (None, None, 0, True),
        (None, "0", 0, True),
        (None, "1000", 1000, True),
        (None, "1000:1000", 1000, True),
        ("1000:1000", "1000:1000", 1000, True),
        ("1000:1000", None, 0, False),
    ],
    ids=["root-image", "user-0", "user-uid", "user-uid-gid", "image-user-and-user", "image-user-without-user"],
)
def test_the_process_reads_its_secret_exactly_when_the_spec_says(
    docker28: Engine,
    images: dict[str | None, str],
    image_user: str | None,
    user: str | None,
    owner: int,
    readable: bool,
) -> None:
    name = f"selfhost-test-secret-{uuid.uuid4().hex[:12]}"
    value = f"token-{uuid.uuid4().hex}"
    upload = _as_provider_sends(secret_file(SECRET_PATH, value, owner), value)
    user_args = ["--user", user] if user is not None else []
    docker28.docker("create", "--name", name, *user_args, images[image_user], "sleep", "600")
    try:
        archive = ["--archive"] if replay.upload_copies_uid_gid(upload) else []
        docker28.docker("cp", *archive, "-", f"{name}:/", input=replay.upload_tar(upload))
        docker28.docker("start", name)
        stat = docker28.docker("exec", name, "stat", "-c", "%u %a", SECRET_PATH).stdout.split()
        assert stat == [str(owner), "400"], stat
        read = docker28.docker("exec", name, "cat", SECRET_PATH, check=False)
        assert (read.returncode == 0 and read.stdout == value) is readable, (read.returncode, read.stderr)
    finally:
        docker28.docker("rm", "--force", name, check=False)
