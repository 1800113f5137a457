"""Tier 3: docs/backups.md's restore steps, run as written, bring the data back.

The fenced ``sh`` blocks after a ``<!-- restore-test: STEP -->`` marker are run verbatim by
``sh -e`` with a ``docker`` on PATH (tests/docker_shim.py) that maps the documented
``docker exec`` / ``docker run`` / ``docker inspect`` / ``docker ps`` / ``docker stop|start|restart``
onto the test's stand-ins for the containers and volumes (tests/backupstack.py: real MariaDB 11.8,
PostgreSQL 18 and restic 0.19 from the unstable root), and refuses every container and volume the
dev stack does not register (the program's own run under mocks, tests/mockstack.py): so a name in
the doc that the stack no longer has (a create-first container's, which carries a generation suffix)
fails here. Two scenarios:

- restore into the running stack: after a backup the data changes (rows deleted and altered,
  files removed and added); the documented steps put back what the snapshot holds, row for row
  and byte for byte, with Nextcloud in maintenance mode and stopped while it happens, WordPress's
  Apache and wp-cli stopped, and each app's Redis (a cache) restarted after the database is loaded;
- rebuild onto a fresh server from the repository alone: a new stack (empty volumes, fresh
  database servers, a NEW repository password, as a stack whose state was lost would have) gets
  a copy of the repository and the old password; the documented steps let it in, restore every
  app, and back up again (healthy).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.backupstack import PREFIX, REPOSITORY_VOLUME, BackupStack, blog_rows, cloud_rows, tree, write_data
from tests.mockstack import run_stack_file, service_name
from tests.rootservers import ensure

pytestmark = pytest.mark.live

DOC = Path(__file__).resolve().parents[1] / "docs" / "backups.md"
WORKTREE = Path(__file__).resolve().parents[1]
PACKAGES = ["restic", "jq", "busybox-static", "mariadb-server", "postgresql-18"]
VOLUMES = (f"{PREFIX}-blog-html", f"{PREFIX}-cloud-html", f"{PREFIX}-cloud-data")


def doc_steps() -> dict[str, list[str]]:
    """The marked blocks, by step name, in the order of the doc."""
    steps: dict[str, list[str]] = {}
    for match in re.finditer(r"<!-- restore-test: ([a-z-]+) -->\n```sh\n(.*?)```", DOC.read_text(), re.S):
        steps.setdefault(match.group(1), []).append(match.group(2))
    return steps


def test_the_doc_marks_its_restore_steps() -> None:
    steps = doc_steps()
    assert sorted(steps) == ["list", "rebuild", "rebuild-finish", "restore-blog", "restore-cloud"]
    assert len(steps["restore-cloud"]) == 5
    # Every sh block of the Restore section is run, except the one that asks Pulumi for the password.
    restore = DOC.read_text().split("## Restore", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", restore, re.S)
    assert len(blocks) == sum(len(b) for b in steps.values()) + 1
    assert [b for b in blocks if "pulumi" in b] == [
        "pulumi stack output --show-secrets backupRepositoryPassword > repository-password\n"
    ]


@functools.cache
def dev_stack() -> dict[str, Any]:
    """What the dev stack registers: each container's name with its service label, each volume's name."""
    run = run_stack_file("dev")
    return {
        "containers": {str(c.inputs["name"]): service_name(c) for c in run.of_type("docker:index/container:Container")},
        "volumes": sorted(str(v.inputs["name"]) for v in run.of_type("docker:index/volume:Volume")),
    }


def registered_name(service: str) -> str:
    """The dev stack's container of a service (a create-first one's name has a suffix)."""
    containers: dict[str, str] = dev_stack()["containers"]
    names = [name for name, label in containers.items() if label == service]
    assert len(names) == 1, (service, names)
    return names[0]


def test_every_name_in_the_docs_commands_is_one_the_dev_stack_registers() -> None:
    stack = dev_stack()
    services = set(stack["containers"].values())
    blocks = "".join(re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.S))
    labels = set(re.findall(rf"label=io\.selfhost\.service=({PREFIX}-[a-z0-9-]+)", blocks))
    names = set(re.findall(rf"(?<![=\w-])({PREFIX}-[a-z0-9-]+)", blocks))
    assert labels == {f"{PREFIX}-blog-app"} and labels <= services
    unknown = names - set(stack["containers"]) - set(stack["volumes"])
    assert not unknown, f"docs/backups.md names what the dev stack does not register: {sorted(unknown)}"
    # WordPress's Apache is create-first: its stable name is only a label.
    assert registered_name(f"{PREFIX}-blog-app") != f"{PREFIX}-blog-app"


def shim(description: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.docker_shim", *argv],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(WORKTREE), "SELFHOST_DOCKER_SHIM": str(description)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_shim_finds_containers_by_label_and_refuses_what_the_dev_stack_does_not_register(tmp_path: Path) -> None:
    description = tmp_path / "stack.json"
    events = tmp_path / "events"
    description.write_text(
        json.dumps({"containers": {}, "volumes": {}, "events": str(events), "dev_stack": dev_stack()})
    )
    app = registered_name(f"{PREFIX}-blog-app")
    by_label = ["ps", "-aqf", f"label=io.selfhost.service={PREFIX}-blog-app"]
    found = shim(description, *by_label)
    assert found.returncode == 0, found.stderr
    (app_id,) = found.stdout.split()
    assert shim(description, "ps", "-q", "-f", f"label=io.selfhost.service={PREFIX}-blog-app").stdout.split() == [
        app_id
    ]
    assert shim(description, "stop", app_id, f"{PREFIX}-blog-cron").returncode == 0
    # Stopped: only `ps -a` lists it.
    assert shim(description, "ps", "-qf", f"label=io.selfhost.service={PREFIX}-blog-app").stdout == ""
    assert shim(description, *by_label).stdout.split() == [app_id]
    assert shim(description, "start", app_id).returncode == 0
    assert events.read_text().splitlines() == [f"stop {app}", f"stop {PREFIX}-blog-cron", f"start {app}"]
    for argv in (
        ["stop", f"{PREFIX}-blog-app"],  # the stable name of a create-first container is only its label
        ["start", f"{PREFIX}-blog-web"],
        ["restart", f"{PREFIX}-blog-cache"],
        ["exec", f"{PREFIX}-blog-app", "true"],
        ["inspect", "--format", "{{.Image}}", f"{PREFIX}-scheduler"],
        ["ps", "-aqf", f"label=io.selfhost.service={PREFIX}-blog-web"],
        ["run", "--rm", "-v", f"{PREFIX}-blog-uploads:/to", "image", "true"],
        ["run", "--rm", "--volumes-from", app, "image", "true"],
    ):
        refused = shim(description, *argv)
        assert refused.returncode == 125, argv
        assert refused.stderr.startswith("docker (test shim): "), (argv, refused.stderr)
    assert len(events.read_text().splitlines()) == 3


@pytest.fixture(scope="module")
def root() -> Path:
    return ensure(PACKAGES)


class Doc:
    """Runs the doc's steps against one stack."""

    def __init__(self, stack: BackupStack, workdir: Path) -> None:
        self.stack = stack
        self.workdir = workdir
        bin_dir = workdir / "bin"
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "docker").write_text(f'#!/bin/sh\nexec {sys.executable} -m tests.docker_shim "$@"\n')
        (bin_dir / "docker").chmod(0o755)
        self.description = workdir / "stack.json"
        stack.describe(self.description)
        description = json.loads(self.description.read_text())
        self.description.write_text(json.dumps({**description, "dev_stack": dev_stack()}, indent=2))
        self.env = {
            "PATH": f"{bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": str(WORKTREE),
            "SELFHOST_DOCKER_SHIM": str(self.description),
            "HOME": str(workdir),
        }

    def run(self, step: str) -> str:
        output = []
        for block in doc_steps()[step]:
            result = subprocess.run(
                ["sh", "-e", "-c", block],
                cwd=self.workdir,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, f"{step}: {block}\n{result.stdout}\n{result.stderr}"
            output.append(result.stdout)
        return "".join(output)

    def events(self) -> list[str]:
        path = self.stack.tmp / "docker-events"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture(scope="module")
def backed_up(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BackupStack, dict[str, object]]]:
    stack = BackupStack(root, tmp_path_factory.mktemp("docs-old"), step_timeout=20)
    try:
        write_data(stack)
        stack.start_helpers()
        result = stack.scheduler("once")
        assert result.returncode == 0, result.stderr
        expected: dict[str, object] = {
            "blog": blog_rows(stack, stack.box_of_server("blog-db-data")),
            "cloud": cloud_rows(stack, stack.box_of_server("cloud-db-data")),
            **{name: tree(stack.volume(name)) for name in VOLUMES},
        }
        yield stack, expected
    finally:
        stack.close()


def test_the_doc_lists_the_snapshots(backed_up: tuple[BackupStack, dict[str, object]], tmp_path: Path) -> None:
    stack, _ = backed_up
    listing = Doc(stack, tmp_path).run("list")
    assert "2 snapshots" in listing
    assert listing.count(PREFIX) == 2
    assert "app=blog" in listing and "app=cloud" in listing


def test_the_doc_restores_the_apps_into_the_running_stack(
    backed_up: tuple[BackupStack, dict[str, object]], tmp_path: Path
) -> None:
    stack, expected = backed_up
    blog_db, cloud_db = stack.box_of_server("blog-db-data"), stack.box_of_server("cloud-db-data")
    # What happens after the backup, and what the restore must undo.
    stack.mariadb(
        blog_db, "delete from wordpress.posts where id = 2; insert into wordpress.posts values (9, 'new', 'x')"
    )
    stack.psql(cloud_db, "update files set size = 0 where id < 500; delete from files where id > 900")
    html = stack.volume(f"{PREFIX}-cloud-html")
    (html / "dir0" / "sub0" / "file-0.bin").unlink()
    (html / "added-after-the-backup").write_text("gone after the restore\n")
    assert blog_rows(stack, blog_db) != expected["blog"]
    calls_before = len((stack.occ_log / "calls").read_text().splitlines())

    doc = Doc(stack, tmp_path)
    events_before = len(doc.events())  # the module's other tests ran commands on this stack too
    doc.run("restore-cloud")
    doc.run("restore-blog")

    assert blog_rows(stack, blog_db) == expected["blog"]
    assert cloud_rows(stack, cloud_db) == expected["cloud"]
    for name in VOLUMES:
        assert tree(stack.volume(name)) == expected[name], name
    assert not (stack.volume(f"{PREFIX}-cloud-backup") / "restore").exists()
    blog_app = registered_name(f"{PREFIX}-blog-app")  # create-first: found by its label
    assert doc.events()[events_before:] == [
        f"exec {PREFIX}-backup",  # restore cloud
        f"exec {PREFIX}-cloud-quiesce",  # maintenance mode on
        f"stop {PREFIX}-cloud-app",
        f"stop {PREFIX}-cloud-cron",
        f"exec {PREFIX}-cloud-db-dump",  # the dump loaded
        f"restart {PREFIX}-cloud-redis",  # the cache of the old database emptied
        f"start {PREFIX}-cloud-app",
        f"start {PREFIX}-cloud-cron",
        f"exec {PREFIX}-cloud-quiesce",  # maintenance mode off
        f"exec {PREFIX}-backup",  # the restored copy removed
        f"exec {PREFIX}-backup",  # restore blog
        f"stop {blog_app}",
        f"stop {PREFIX}-blog-cron",
        f"exec {PREFIX}-blog-db-dump",
        f"restart {PREFIX}-blog-redis",
        f"start {blog_app}",
        f"start {PREFIX}-blog-cron",
        f"exec {PREFIX}-backup",
    ]
    assert (stack.occ_log / "calls").read_text().splitlines()[calls_before:] == [
        "/var/www/html/occ maintenance:mode --on",
        "/var/www/html/occ maintenance:mode --off",
    ]
    assert (stack.occ_log / "state").read_text() == "off\n"


def test_the_doc_rebuilds_the_stack_on_a_fresh_server_from_the_repository_alone(
    backed_up: tuple[BackupStack, dict[str, object]], root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    old, expected = backed_up
    fresh = BackupStack(root, tmp_path_factory.mktemp("docs-fresh"), step_timeout=20, repository_password="new one")
    try:
        shutil.copytree(old.volume(REPOSITORY_VOLUME), fresh.volume(REPOSITORY_VOLUME), dirs_exist_ok=True)
        # `pulumi up` on the new server: fresh database servers with the app users, empty volumes, helpers.
        blog_db = fresh.start_mariadb("blog-db-data")
        cloud_db = fresh.start_postgres("cloud-db-data")
        for name in VOLUMES:
            fresh.volume(name)
        fresh.start_helpers()
        workdir = fresh.tmp / "operator"
        workdir.mkdir()
        (workdir / "repository-password").write_text(old.repository_password)
        os.chmod(workdir / "repository-password", 0o600)
        doc = Doc(fresh, workdir)
        # Before the old password lets the new one in, the repository exists but cannot be opened:
        # a run fails and nothing is initialised over it.
        refused = fresh.scheduler("once")
        assert refused.returncode == 1
        assert "restic init" not in refused.stderr

        doc.run("rebuild")
        doc.run("restore-cloud")
        doc.run("restore-blog")
        finish = doc.run("rebuild-finish")

        assert blog_rows(fresh, blog_db) == expected["blog"]
        assert cloud_rows(fresh, cloud_db) == expected["cloud"]
        for name in VOLUMES:
            assert tree(fresh.volume(name)) == expected[name], name
        assert fresh.status()["last_run"]["result"] == "ok", finish
        health = fresh.box(f"{PREFIX}-backup").run("/bin/sh", "/usr/local/lib/selfhost-backup/scheduler.sh", "health")
        assert health.returncode == 0, health.stdout
    finally:
        fresh.close()
