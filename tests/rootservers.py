"""Servers from the Debian unstable root (tests/sidroot.py), each alone in namespaces of its own.

A server runs ``chroot ROOT ...`` inside a new network namespace (only ``lo``, up) and a
private mount namespace with fresh tmpfs on the root's ``/run`` and ``/tmp`` and its own
``/proc``. So it can listen on the address and port the program renders (``bind 0.0.0.0``,
6379, 5432, 3306) without meeting another test's server, its data and sockets vanish with
it, and nothing it mounts is seen outside. ``run`` executes a command in the same
namespaces and root, as the container's healthcheck would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from tests import sidroot

CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"


def ensure(packages: Sequence[str]) -> Path:
    reason = sidroot.skip_reason()
    if reason:
        pytest.skip(reason)
    return sidroot.ensure_root(packages)


class RootServer:
    """``files`` are written into the root's fresh /tmp or /run, ``setup`` (sh) runs in the root,
    then ``server`` is exec'd there (as ``user`` if given), keeping the namespaces' first pid."""

    def __init__(
        self,
        root: Path,
        server: Sequence[str],
        *,
        user: str | None = None,
        setup: str = "",
        files: Mapping[str, str] | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
    ) -> None:
        self.root = root
        self.stop_signal = stop_signal
        mounts = (
            "ip link set lo up && "
            f"mount -t tmpfs -o mode=1777 tmpfs {root}/tmp && mount -t tmpfs -o mode=755 tmpfs {root}/run && "
            f"mount -t proc proc {root}/proc && "
        )
        writes = "".join(
            f"mkdir -p {root}{os.path.dirname(path)} && printf '%s' {_quote(text)} >{root}{path} && "
            for path, text in (files or {}).items()
        )
        prepare = f"chroot {root} sh -ec {_quote(setup)} && " if setup else ""
        chroot = ["chroot", *([f"--userspec={user}:{user}"] if user else []), str(root)]
        script = mounts + writes + prepare + "exec " + " ".join(_quote(arg) for arg in [*chroot, *server])
        self.process = subprocess.Popen(
            ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-ec", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def run(
        self, *argv: str, env: Mapping[str, str] | None = None, user: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """``argv`` inside the server's namespaces and root (as ``user`` if given)."""
        chroot = [CHROOT, *([f"--userspec={user}:{user}"] if user else []), str(self.root)]
        return subprocess.run(
            [NSENTER, "-t", str(self.process.pid), "-n", "-m", *chroot, *argv],
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                pytest.fail(f"{what}: the server exited ({self.process.returncode}): {self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{what}: not ready within {timeout} s: {self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        if self.process.poll() is None or self.process.stdout is None:
            return ""
        return self.process.stdout.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        """``stop_signal`` to the server (it leads its own process group), then SIGKILL to the group."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, self.stop_signal)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
