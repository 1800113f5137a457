"""Tier 3: a static site's uploads as the provider copies them into a container, on a real Docker 28.

Each upload goes in as the provider sends it: a tar of one file with its absolute name, the
mode, uid/gid 0 and the time of the upload (tests/docker_replay.py ``upload_tar``), through the
engine's archive API (``docker cp -``, the ``PUT /containers/{id}/archive`` the provider's
``CopyToContainer`` calls) into a created, not yet started container. Then the container runs
the spec's entrypoint script, as the nginx image's /docker-entrypoint.sh would, in a busybox
stand-in (no image can be pulled here).

Proven here: the engine makes the directories the tars imply (``/srv/site/css``) root-owned and
0755, the files keep root:root and 0444, and uid 101 (the image's ``nginx``) reads every one;
the script sets each file's modification time to the one ``content_mtime`` derives from its
content, whatever the upload's time, which nginx's ETag then follows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.apps.spec import File, Site
from components.apps.static.settings import PROJECT_ROOT_CONTEXT, StaticApp
from components.apps.static.spec import MTIMES_SCRIPT_PATH, SITE_ROOT, content_mtime, spec
from tests import docker_replay as replay
from tests.dockerd28 import Engine

pytestmark = pytest.mark.live

NGINX_UID = 101
"""nginx/docker-nginx stable/debian/Dockerfile: ``useradd --system --gid nginx ... --uid 101 nginx``."""
PNG = bytes.fromhex("89504e470d0a1a0a") + bytes(range(256))
SITE = Site("www", "www.test", "http://www.test:8080", "http", "www.test:8080", "172.30.0.0/24")


@pytest.fixture(scope="module")
def image(docker28: Engine) -> Iterator[str]:
    tag = f"selfhost-test/static-{uuid.uuid4().hex[:8]}:local"
    applets = ("find", "cut", "xargs", "ls")
    tar = replay.stand_in_image_tar(docker28.root / "usr/bin/busybox", extra_applets=applets)
    docker28.docker("import", "-", tag, input=tar)
    yield tag
    docker28.docker("image", "rm", "--force", tag, check=False)


def _uploads(project: Path) -> tuple[File, ...]:
    for name, content in {
        "index.html": b"<p>hi</p>\n",
        "css/site.css": b"p { margin: 0 }\n",
        "img/a/b.png": PNG,
    }.items():
        path = project / "sites/www" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    settings = StaticApp.model_validate(
        {"kind": "static", "hostname": "www.test", "path": "sites/www"},
        by_alias=True,
        context={PROJECT_ROOT_CONTEXT: project},
    )
    files = spec("www", settings, SITE).services[0].files
    return tuple(file for file in files if isinstance(file, File))


def _provider_upload(file: File) -> dict[str, object]:
    """The upload as the program sends it (components/core/container.py: root-owned files carry no owner)."""
    upload: dict[str, object] = {"file": file.path, "permissions": file.mode}
    if file.content_base64 is not None:
        upload["contentBase64"] = file.content_base64
    else:
        upload["content"] = file.content
    return upload


def test_uploads_land_readable_by_nginx_and_get_content_times(docker28: Engine, image: str, tmp_path: Path) -> None:
    uploads = _uploads(tmp_path)
    name = f"selfhost-static-{uuid.uuid4().hex[:8]}"
    # The entrypoint's run-parts step, then idle, so the test can look in as uid 101.
    docker28.docker("create", "--name", name, image, "sh", "-ec", f"sh {MTIMES_SCRIPT_PATH}; sleep 60")
    try:
        for upload in uploads:
            docker28.docker("cp", "-", f"{name}:/", input=replay.upload_tar(_provider_upload(upload)))
        docker28.docker("start", name)
        site = [upload for upload in uploads if upload.path.startswith(SITE_ROOT + "/")]
        expected = {upload.path: content_mtime(replay.upload_content(_provider_upload(upload))) for upload in site}
        stats: dict[str, str] = {}
        for _ in range(50):
            listing = docker28.docker(
                "exec", name, "sh", "-c", f"find {SITE_ROOT} -exec stat -c '%n %a %u:%g %Y' {{}} +"
            ).stdout
            stats = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in listing.splitlines()}
            if all(stats.get(path, "").endswith(f" {mtime}") for path, mtime in expected.items()):
                break
        for path, mtime in expected.items():
            assert stats[path] == f"444 0:0 {mtime}", path
        for directory in (SITE_ROOT, f"{SITE_ROOT}/css", f"{SITE_ROOT}/img", f"{SITE_ROOT}/img/a"):
            assert stats[directory].startswith("755 0:0 "), directory
        for upload in site:
            read = docker28.docker("exec", "--user", f"{NGINX_UID}:{NGINX_UID}", name, "cat", upload.path, check=False)
            assert read.returncode == 0, (upload.path, read.stderr)
        script = docker28.docker("exec", name, "stat", "-c", "%a %u:%g", MTIMES_SCRIPT_PATH).stdout.strip()
        assert script == "555 0:0"  # executable: the image's entrypoint skips scripts that are not
    finally:
        docker28.docker("rm", "--force", name, check=False)
