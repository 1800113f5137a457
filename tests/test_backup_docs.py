"""Tier 3: docs/backups.md's restore steps, run as written, bring the data back.

The fenced ``sh`` blocks after a ``<!-- restore-test: STEP -->`` marker are run verbatim by
``sh -e`` with a ``docker`` on PATH (tests/docker_shim.py) that maps the documented
``docker exec`` / ``docker run`` / ``docker inspect`` / ``docker stop|start`` onto the test's
stand-ins for the containers and volumes (tests/backupstack.py: real MariaDB 11.8,
PostgreSQL 18 and restic 0.19 from the unstable root). Two scenarios:

- restore into the running stack: after a backup the data changes (rows deleted and altered,
  files removed and added); the documented steps put back what the snapshot holds, row for row
  and byte for byte, with Nextcloud in maintenance mode and stopped while it happens;
- rebuild onto a fresh server from the repository alone: a new stack (empty volumes, fresh
  database servers, a NEW repository password, as a stack whose state was lost would have) gets
  a copy of the repository and the old password; the documented steps let it in, restore every
  app, and back up again (healthy).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backupstack import PREFIX, REPOSITORY_VOLUME, BackupStack, blog_rows, cloud_rows, tree, write_data
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
    doc.run("restore-cloud")
    doc.run("restore-blog")

    assert blog_rows(stack, blog_db) == expected["blog"]
    assert cloud_rows(stack, cloud_db) == expected["cloud"]
    for name in VOLUMES:
        assert tree(stack.volume(name)) == expected[name], name
    assert not (stack.volume(f"{PREFIX}-cloud-backup") / "restore").exists()
    assert doc.events() == [
        f"stop {PREFIX}-cloud-app",
        f"stop {PREFIX}-cloud-cron",
        f"start {PREFIX}-cloud-app",
        f"start {PREFIX}-cloud-cron",
        f"stop {PREFIX}-blog-app",
        f"start {PREFIX}-blog-app",
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
