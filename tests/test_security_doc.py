"""Tier 2: docs/security.md names every place the program puts a secret, with its owner and mode.

Runs the program under mocks (dev and prod stack files, and Nextcloud on MariaDB) and checks
that each uploaded secret file appears in the document, in a row that states the owner and
mode the program really sends. A secret file added without documenting it fails here.
"""

from __future__ import annotations

import re

import pytest

from tests.mockstack import PROJECT_DIR, ProgramRun, is_secret, run_stack_file, unwrap

DOC = (PROJECT_DIR / "docs" / "security.md").read_text()
CONTAINER = "docker:index/container:Container"


def _runs() -> list[ProgramRun]:
    mariadb = {"selfhost:apps": {"cloud": {"kind": "nextcloud", "hostname": "cloud.localhost", "database": "mariadb"}}}
    return [run_stack_file("dev"), run_stack_file("prod"), run_stack_file("dev", mariadb)]


def secret_uploads(run: ProgramRun) -> set[tuple[str, str, str, str]]:
    """(path, owner, group, mode) of every upload whose content holds a generated password."""
    passwords = set(run.generated_passwords())
    found = set()
    for container in run.of_type(CONTAINER):
        raw = container.raw_inputs.get("uploads", [])
        for item in raw["value"] if is_secret(raw) else raw:
            upload = unwrap(item)
            if any(password in upload["content"] for password in passwords):
                # A root-owned upload is sent without owner and group: the provider writes it 0:0 (FileUpload.args).
                found.add((upload["file"], upload.get("owner", "0"), upload.get("group", "0"), upload["permissions"]))
    return found


@pytest.fixture(scope="module")
def uploads() -> set[tuple[str, str, str, str]]:
    return set().union(*(secret_uploads(run) for run in _runs()))


def rows_naming(path: str) -> list[str]:
    name = path.rsplit("/", 1)[1]
    return [line for line in DOC.splitlines() if line.startswith("|") and (path in line or f"`{name}`" in line)]


def test_the_runs_upload_the_secret_files_this_test_expects(uploads: set[tuple[str, str, str, str]]) -> None:
    paths = {path for path, *_ in uploads}
    for expected in (
        "/run/secrets/db_root_password",
        "/run/secrets/wp_admin_install.yml",
        "/run/secrets/admin_password",
    ):
        assert expected in paths


def test_every_secret_upload_is_documented_with_its_owner_and_mode(uploads: set[tuple[str, str, str, str]]) -> None:
    for path, owner, group, mode in sorted(uploads):
        rows = rows_naming(path)
        assert rows, f"docs/security.md does not mention {path}"
        stated = f"{owner}:{group} {mode}"
        assert any(re.search(re.escape(stated), line) for line in rows), f"{path}: no row says {stated}"
