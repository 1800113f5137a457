"""Tier 3: scripts/up-dev.sh run for real by bash on a machine with Docker but no Pulumi CLI.

Each test copies the script into a fresh project directory (with the pinned digest swapped
for the fake archive's where a test needs it) and runs it with a PATH of the few real tools it
uses plus fakes: ``docker`` answers ``info``/``version``, ``python3 -m venv`` makes a venv whose
``pip`` only logs, and a local HTTP server on 127.0.0.1 serves a release archive built here
whose ``pulumi/pulumi`` logs each call (argv, ``$0``, PULUMI_HOME). HOME and TMPDIR point at
empty directories that must stay empty. What this cannot prove: that get.pulumi.com serves
the bytes the pinned digest names (the sources for it are cited beside the pin).
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.mockstack import PROJECT_DIR
from tests.scripttools import require

SCRIPT = PROJECT_DIR / "scripts" / "up-dev.sh"
PINNED_VERSION = "3.256.0"
PINNED_SHA256 = "fe4afd4cda48f7fe06961268834caf78fb1efa8b31ee61ad00ee2e6cfa91caea"
ARCHIVE_PATH = "/pulumi-v3.256.0-linux-x64.tar.gz"

needs_linux_x64 = pytest.mark.skipif(
    (platform.system(), platform.machine()) != ("Linux", "x86_64"), reason="only linux-x64 is pinned"
)

# Logs every call as one line: $0, PULUMI_HOME, then the arguments.
FAKE_PULUMI = f"""#!/bin/sh
printf '%s\\t%s\\t%s\\n' "$0" "${{PULUMI_HOME-}}" "$*" >>"$SELFHOST_TEST_LOG/pulumi.log"
if [ "$1" = version ]; then echo "v${{FAKE_PULUMI_VERSION:-{PINNED_VERSION}}}"; fi
exit 0
"""
FAKE_DOCKER = """#!/bin/sh
case "$1" in
  info) exit 0 ;;
  version) echo 1.47 ;;
  *) echo "fake docker: unexpected $*" >&2; exit 2 ;;
esac
"""
FAKE_PYTHON3 = """#!/bin/sh
if [ "$1" = -m ] && [ "$2" = venv ]; then
  mkdir -p "$3/bin" && cp "$(dirname "$0")/venv-python" "$3/bin/python"
  exit
fi
exec "$REAL_PYTHON" "$@"
"""
FAKE_VENV_PYTHON = """#!/bin/sh
if [ "$1" = -m ] && [ "$2" = pip ]; then
  printf '%s\\n' "$*" >>"$SELFHOST_TEST_LOG/pip.log"
  exit 0
fi
exec "$REAL_PYTHON" "$@"
"""
# What the script runs besides the fakes; nothing else is on PATH (so no pulumi).
REAL_TOOLS = [
    "bash",
    "sh",
    "curl",
    "tar",
    "gzip",
    "sha256sum",
    "cut",
    "mktemp",
    "mv",
    "rm",
    "mkdir",
    "cp",
    "dirname",
    "uname",
    "sort",
    "head",
]


def release_archive(*, version: str = PINNED_VERSION) -> bytes:
    """A tar.gz shaped like Pulumi's: a top-level ``pulumi/`` holding the executables."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in (("pulumi", FAKE_PULUMI.replace(PINNED_VERSION, version)), ("pulumi-language-python", "")):
            data = text.encode()
            info = tarfile.TarInfo(f"pulumi/{name}")
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class Release:
    url: str
    body: bytes
    requests: list[str]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@pytest.fixture
def release() -> Iterator[Release]:
    served = Release(url="", body=release_archive(), requests=[])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            if self.path != ARCHIVE_PATH:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(served.body)))
            self.end_headers()
            self.wfile.write(served.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_port}{ARCHIVE_PATH}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Machine:
    """A project copy and an environment with Docker (fake) and no Pulumi CLI."""

    root: Path
    project: Path
    tools: Path
    logs: Path
    home: Path
    tmpdir: Path

    def install_script(self, *, sha256: str = PINNED_SHA256) -> None:
        text = SCRIPT.read_text()
        assert text.count(PINNED_SHA256) == 1, "the pin must appear exactly once, beside its sources"
        (self.project / "scripts").mkdir(exist_ok=True)
        script = self.project / "scripts" / "up-dev.sh"
        script.write_text(text.replace(PINNED_SHA256, sha256))
        script.chmod(0o755)

    def run(self, release: Release, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": str(self.tools),
            "HOME": str(self.home),
            "TMPDIR": str(self.tmpdir),
            "SELFHOST_PULUMI_RELEASE_URL": release.url,
            "SELFHOST_TEST_LOG": str(self.logs),
            "REAL_PYTHON": sys.executable,
        }
        return subprocess.run(
            [str(self.tools / "bash"), str(self.project / "scripts" / "up-dev.sh"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pulumi_calls(self) -> list[tuple[str, str, str]]:
        log = self.logs / "pulumi.log"
        if not log.exists():
            return []
        calls = [line.split("\t") for line in log.read_text().splitlines()]
        return [(program, home, argv) for program, home, argv in calls if argv != "version"]

    def leftovers(self) -> list[str]:
        """Temporary files the install might leave: in the project, in TMPDIR, in HOME."""
        found = [p.name for p in self.project.iterdir() if p.name.startswith(".pulumi-install")]
        return found + [str(p) for p in (*self.tmpdir.iterdir(), *self.home.iterdir())]


def write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    box = Machine(
        root=tmp_path,
        project=tmp_path / "project",
        tools=tmp_path / "tools",
        logs=tmp_path / "logs",
        home=tmp_path / "home",
        tmpdir=tmp_path / "tmp",
    )
    for directory in (box.project, box.tools, box.logs, box.home, box.tmpdir):
        directory.mkdir()
    shutil.copy(PROJECT_DIR / "requirements.txt", box.project / "requirements.txt")
    for tool in REAL_TOOLS:
        (box.tools / tool).symlink_to(require(tool))
    write_executable(box.tools / "docker", FAKE_DOCKER)
    write_executable(box.tools / "python3", FAKE_PYTHON3)
    write_executable(box.tools / "venv-python", FAKE_VENV_PYTHON)
    assert shutil.which("pulumi", path=str(box.tools)) is None
    box.install_script()
    return box


def expected_calls(machine: Machine) -> list[tuple[str, str, str]]:
    program = str(machine.project / ".pulumi" / "bin" / "pulumi")
    home = str(machine.project / ".pulumi-home")
    return [(program, home, "stack select dev --create --non-interactive"), (program, home, "up --stack dev --yes")]


@needs_linux_x64
def test_installs_the_pinned_cli_into_the_project_and_runs_up(machine: Machine, release: Release) -> None:
    machine.install_script(sha256=release.sha256)
    result = machine.run(release, "--yes")
    assert result.returncode == 0, result.stderr
    assert f"installing Pulumi CLI v{PINNED_VERSION} into .pulumi/bin" in result.stdout
    assert "using the project's Pulumi CLI" in result.stdout
    installed = machine.project / ".pulumi" / "bin"
    assert sorted(p.name for p in installed.iterdir()) == ["pulumi", "pulumi-language-python"]
    assert os.access(installed / "pulumi", os.X_OK)
    assert machine.pulumi_calls() == expected_calls(machine)
    assert release.requests == [ARCHIVE_PATH]
    pip_call = (machine.logs / "pip.log").read_text().split()
    assert pip_call == ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"]
    assert machine.leftovers() == []


@needs_linux_x64
def test_a_wrong_checksum_aborts_and_installs_nothing(machine: Machine, release: Release) -> None:
    # The script as committed: its pin is the real release's digest, not the fake archive's.
    result = machine.run(release, "--yes")
    assert result.returncode != 0
    assert f"expected sha256 {PINNED_SHA256}, got {release.sha256}" in result.stderr
    assert "nothing was installed" in result.stderr
    assert not (machine.project / ".pulumi").exists()
    assert not (machine.project / ".venv").exists(), "the script went on after the mismatch"
    assert machine.pulumi_calls() == []
    assert machine.leftovers() == []


def archive_without_pulumi() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.addfile(tarfile.TarInfo("pulumi/README"), io.BytesIO(b""))
    return buffer.getvalue()


@needs_linux_x64
@pytest.mark.parametrize("body", [b"not a tarball", archive_without_pulumi()], ids=["garbage", "no-pulumi"])
def test_an_archive_that_matches_the_pin_but_is_unusable_installs_nothing(
    machine: Machine, release: Release, body: bytes
) -> None:
    release.body = body
    machine.install_script(sha256=release.sha256)
    result = machine.run(release, "--yes")
    assert result.returncode != 0
    assert not (machine.project / ".pulumi").exists()
    assert machine.pulumi_calls() == []
    assert machine.leftovers() == []


@needs_linux_x64
def test_an_install_of_the_pinned_version_is_reused_without_download(machine: Machine, release: Release) -> None:
    machine.install_script(sha256=release.sha256)
    assert machine.run(release, "--yes").returncode == 0
    second = machine.run(release, "--yes")
    assert second.returncode == 0, second.stderr
    assert "installing" not in second.stdout
    assert release.requests == [ARCHIVE_PATH], "the second run downloaded again"
    assert machine.pulumi_calls() == expected_calls(machine) * 2


@needs_linux_x64
def test_an_install_of_another_version_is_replaced_whole(machine: Machine, release: Release) -> None:
    stale = machine.project / ".pulumi" / "bin"
    stale.mkdir(parents=True)
    write_executable(stale / "pulumi", FAKE_PULUMI.replace(PINNED_VERSION, "3.100.0"))
    (stale / "pulumi-language-nodejs").write_text("from the old release")
    machine.install_script(sha256=release.sha256)
    result = machine.run(release, "--yes")
    assert result.returncode == 0, result.stderr
    assert release.requests == [ARCHIVE_PATH]
    assert sorted(p.name for p in stale.iterdir()) == ["pulumi", "pulumi-language-python"]
    assert machine.pulumi_calls() == expected_calls(machine)
    assert machine.leftovers() == []


def test_a_pulumi_on_path_is_used_and_nothing_is_downloaded(machine: Machine, release: Release) -> None:
    write_executable(machine.tools / "pulumi", FAKE_PULUMI)
    result = machine.run(release, "--yes")
    assert result.returncode == 0, result.stderr
    assert f"using the Pulumi CLI on PATH: {machine.tools / 'pulumi'}" in result.stdout
    assert release.requests == []
    assert not (machine.project / ".pulumi").exists()
    program = str(machine.tools / "pulumi")
    assert machine.pulumi_calls() == [
        (program, "", "stack select dev --create --non-interactive"),
        (program, "", "up --stack dev --yes"),
    ]


def test_the_script_passes_shellcheck() -> None:
    result = subprocess.run([require("shellcheck"), str(SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
