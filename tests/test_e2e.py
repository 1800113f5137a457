"""Tier 4: `pulumi up` / `preview` / `destroy` through the Automation API on the local Docker host.

Needs the Pulumi CLI and a Docker engine that can pull the official images; skips with a
one-line reason otherwise. Run it alone with ``scripts/test.sh tests/test_e2e.py``. It uses
a throwaway file backend and copy of the project, a free host port and its own subnet, and
deletes the retained volumes it created at the end.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.mockstack import PROJECT_DIR

pytestmark = pytest.mark.e2e


def _skip_reason() -> str | None:
    if shutil.which("pulumi") is None:
        return "Pulumi CLI not on PATH (https://www.pulumi.com/docs/install/)"
    if shutil.which("docker") is None:
        return "docker CLI not on PATH"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "no Docker engine answers `docker info`"
    api = subprocess.run(
        ["docker", "version", "--format", "{{.Server.APIVersion}}"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if tuple(int(part) for part in api.split(".")) < (1, 44):
        return f"Docker Engine API {api} < 1.44: healthcheck start_interval needs Docker Engine 25 or newer"
    return None


REASON = _skip_reason()
if REASON is not None:
    pytest.skip(REASON, allow_module_level=True)

from pulumi import automation as auto  # noqa: E402  (only when the CLI is there)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(port: int, host: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _eventually(check: Any, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[auto.Stack, int]]:
    work = tmp_path_factory.mktemp("project")
    for item in ("Pulumi.yaml", "__main__.py", "requirements.txt", "components", "config"):
        source = PROJECT_DIR / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, work / item)
    backend = tmp_path_factory.mktemp("backend")
    project = auto.ProjectSettings(
        name="selfhost",
        runtime=auto.ProjectRuntimeInfo(name="python", options={"virtualenv": str(Path(sys.prefix))}),
    )
    workspace = auto.LocalWorkspace(
        work_dir=str(work),
        project_settings=project,
        env_vars={
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "e2e-only",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        },
    )
    name = f"e2e{uuid.uuid4().hex[:6]}"
    created = auto.Stack.create(name, workspace)
    port = _free_port()
    apps = {
        "blog": {"kind": "wordpress", "hostname": "blog.localhost"},
        "cloud": {"kind": "nextcloud", "hostname": "cloud.localhost"},
    }
    created.set_config("selfhost:apps", auto.ConfigValue(json.dumps(apps)), path=False)
    created.set_all_config(
        {
            "selfhost:httpPort": auto.ConfigValue(str(port)),
            "selfhost:httpsPort": auto.ConfigValue(str(_free_port())),
            "selfhost:edgeSubnet": auto.ConfigValue(f"172.31.{int(name[3:5], 16)}.0/24"),
        }
    )
    volumes: list[str] = []
    try:
        result = created.up(on_output=print)
        for names in result.outputs["volumes"].value.values():
            volumes.extend(names)
        yield created, port
    finally:
        created.destroy(on_output=print)
        workspace.remove_stack(name)
        if volumes:
            subprocess.run(["docker", "volume", "rm", *volumes], check=False)


def test_apps_answer_through_the_proxy(stack: tuple[auto.Stack, int]) -> None:
    _, port = stack

    def wordpress() -> None:
        status, _ = _get(port, "blog.localhost", "/wp-login.php")
        assert status in (200, 302), status

    def nextcloud() -> None:
        status, body = _get(port, "cloud.localhost", "/status.php")
        assert status == 200 and json.loads(body)["installed"] is True, body

    _eventually(wordpress)
    _eventually(nextcloud)
    status, _ = _get(port, "unknown.localhost", "/")
    assert status not in (200, 302)


def test_second_preview_shows_no_changes(stack: tuple[auto.Stack, int]) -> None:
    created, _ = stack
    preview = created.preview(diff=True)
    # The StackReference to the stack's own last outputs (components/apps/nextcloud/upgrades.py)
    # is a read each run, not a change.
    changes = {op: count for op, count in preview.change_summary.items() if op not in ("same", "read")}
    assert changes == {}, preview.stdout


def test_the_deployed_nextcloud_major_is_recorded_for_the_next_deploy(stack: tuple[auto.Stack, int]) -> None:
    from components.core import images

    created, _ = stack
    recorded = created.outputs()["nextcloudVersions"].value
    assert {app: int(major) for app, major in recorded.items()} == {"cloud": images.NEXTCLOUD.major}


def test_the_images_run_at_the_digests_the_stack_recorded(stack: tuple[auto.Stack, int]) -> None:
    """The next deploy pulls these again (components/core/images.py): each must be the image the engine has."""
    created, _ = stack
    recorded = created.outputs()["imageDigests"].value
    assert recorded["refresh"] == "" and recorded["digests"]
    for ref, digest in recorded["digests"].items():
        repository = ref.split(":", 1)[0]
        inspected = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", f"{ref}@{digest}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"{repository}@{digest}" in json.loads(inspected), ref


def test_destroy_keeps_the_volumes(stack: tuple[auto.Stack, int]) -> None:
    created, _ = stack
    names = [n for group in created.outputs()["volumes"].value.values() for n in group]
    created.destroy(on_output=print)
    listed = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True, check=True).stdout.split()
    assert set(names) <= set(listed)
