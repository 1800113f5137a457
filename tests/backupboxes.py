"""Stand-ins for the backup containers: the Debian unstable root with volumes bind-mounted, one network.

A ``Box`` is what a container is to the scripts in components/backups/: its own root file
system (an overlay on tests/sidroot.py's root with a fresh tmpfs on top, so nothing is written
into the shared root), its own /proc, /tmp and /run, the "volumes" (host directories of the
test) bind-mounted at the paths the containers use (``/backup``, ``/backup/apps/<app>``,
``/backup/source/<app>/<role>`` read-only, ``/run/secrets/...``), a user, an environment, and a
network namespace shared with the other boxes of the test (``Network``: only ``lo``; the
database servers listen there on their default ports, and ``/etc/hosts`` names them). So the
snapshots hold the very paths the containers would, and docs/backups.md's commands work as written.

``busybox=True`` puts busybox's applets first on PATH and busybox as ``/bin/sh``: the restic
image is Alpine (restic/restic docker/Dockerfile.release at v0.19.1), whose shell and tools are busybox's.
"""

from __future__ import annotations

import itertools
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

NSENTER = "/usr/bin/nsenter"
BUSYBOX_BIN = "/opt/busybox/bin"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/18/bin"
_COUNTER = itertools.count()


class Network:
    """A network namespace with only ``lo`` (up), held by a sleeping process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", "ip link set lo up && exec sleep 100000"], start_new_session=True
        )
        deadline = time.monotonic() + 10
        while not self._lo_up():
            if time.monotonic() > deadline:
                raise RuntimeError("the test network namespace did not come up")
            time.sleep(0.02)

    def _lo_up(self) -> bool:
        result = subprocess.run(
            [NSENTER, "-t", str(self.process.pid), "-n", "ip", "-o", "link", "show", "lo"],
            capture_output=True,
            text=True,
            check=False,
        )
        return "UP" in result.stdout.split(">")[0] if result.returncode == 0 else False

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@dataclass(frozen=True)
class Bind:
    source: Path
    read_only: bool = False


@dataclass
class Box:
    """One container: ``binds`` maps a path inside to a host directory or file (``Bind``)."""

    root: Path
    network: Network
    scratch: Path
    """A directory of the test's for the box's mount points (emptied by the kernel when the box ends)."""
    binds: dict[str, Bind] = field(default_factory=dict)
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    busybox: bool = False
    hosts: str = "127.0.0.1 localhost\n"

    def _script(self, argv: list[str], workdir: str | None) -> str:
        top = self.scratch / f"box-{os.getpid()}-{next(_COUNTER)}"
        top.mkdir(parents=True)
        merged = f"{top}/root"
        lines = [
            f"mount -t tmpfs -o mode=755 tmpfs {top}",
            f"mkdir {top}/upper {top}/work {merged}",
            f"mount -t overlay overlay -o lowerdir={self.root},upperdir={top}/upper,workdir={top}/work {merged}",
            f"mount -t proc proc {merged}/proc",
            f"mount -t tmpfs -o mode=1777 tmpfs {merged}/tmp",
            f"mount -t tmpfs -o mode=755 tmpfs {merged}/run",
            f"printf '%s' {shlex.quote(self.hosts)} >{merged}/etc/hosts",
        ]
        for inside, bind in sorted(self.binds.items()):
            target = merged + inside
            if bind.source.is_dir():
                lines.append(f"mkdir -p {shlex.quote(target)}")
            else:
                lines.append(f"mkdir -p {shlex.quote(os.path.dirname(target))} && touch {shlex.quote(target)}")
            lines.append(f"mount --bind {shlex.quote(str(bind.source))} {shlex.quote(target)}")
            if bind.read_only:
                lines.append(f"mount -o remount,bind,ro {shlex.quote(target)}")
        path = PATH
        if self.busybox:
            lines.append(f"chroot {merged} /bin/busybox mkdir -p {BUSYBOX_BIN}")
            lines.append(f"chroot {merged} /bin/busybox --install -s {BUSYBOX_BIN}")
            lines.append(f"ln -sf /bin/busybox {merged}/bin/sh")
            path = f"{BUSYBOX_BIN}:{PATH}"
        env = {"PATH": path, "HOME": "/root" if self.user is None else "/tmp", **self.env}
        chroot = ["chroot", *([f"--userspec={self.user}:{self.user}"] if self.user else []), merged]
        inner = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv]
        if workdir:
            inner = ["sh", "-c", f'cd {shlex.quote(workdir)} && exec "$@"', "sh", *inner]
        lines.append("exec " + " ".join(shlex.quote(word) for word in [*chroot, *inner]))
        return " && ".join(lines)

    def command(self, argv: list[str], workdir: str | None = None) -> list[str]:
        """The host command that runs ``argv`` in this box (for ``os.execv``: stdin and stdout pass through)."""
        return [
            NSENTER,
            "-t",
            str(self.network.process.pid),
            "-n",
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-ec",
            self._script(argv, workdir),
        ]

    def run(
        self, *argv: str, timeout: float = 120, stdin: str | None = None, workdir: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(list(argv), workdir),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *argv: str, log: Path) -> Process:
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                self.command(list(argv)), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return Process(popen, log)


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.popen.poll() is not None:
                raise AssertionError(f"{what} exited ({self.popen.returncode}): {self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not ready within {timeout} s: {self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 20) -> int:
        """``sig`` to the box's first process (as ``docker stop`` signals pid 1), then SIGKILL to all of it."""
        if self.popen.poll() is None:
            os.kill(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        return self.popen.returncode


def owned_file(path: Path, text: str, uid: int, gid: int, mode: int = 0o400) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    return path


def passwd_ids(root: Path, user: str) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise KeyError(user)
