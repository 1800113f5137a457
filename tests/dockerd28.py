"""Docker Engine 28 from the Debian unstable root, in namespaces of its own, for tier-3 tests.

The host's Debian ships Docker 20.10 (API 1.41), which silently drops a healthcheck's
``start_interval``; the program targets Docker 25+ (API 1.44). The unstable root
(``tests/sidroot.py``) has Docker 28.5, run here as the official images would see it:

- its own network namespace (``ip netns add``): bridges, iptables rules, published ports
  and the embedded DNS stay there, nothing touches the host's network;
- its own mount namespace, ``pivot_root`` into the root: under a plain ``chroot`` the
  shims that ``docker exec`` and healthchecks go through run in the host's ``/``. Inside:
  a fresh sysfs (it must show the new network namespace's devices), the host's cgroup
  hierarchy bound on top, a tmpfs on ``/run`` and on ``/srv`` (scratch space for tests, e.g.
  a stand-in for a server's data mount) so nothing is written into the shared root,
  and a host temp directory bound at ``/run/selfhost`` for the socket, pidfile,
  ``--data-root`` and ``--exec-root``. Containers' cgroups go under a ``--cgroup-parent``
  named after the run, removed at the end.

The docker CLI used is the root's own (docker-cli 28.5), run with ``nsenter`` in the
engine's mount namespace, so it needs nothing from the host. Stopped by its pidfile.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests import sidroot

PACKAGES = ("docker.io", "docker-cli", "busybox-static")
"""Debian packages the engine needs in the root (docker-cli is only a Recommends of docker.io)."""
STATE_MOUNT = "/run/selfhost"
"""Where the run's host temp directory appears inside the engine's root."""
START_TIMEOUT = 30.0
CLI_TIMEOUT = 120.0


def skip_reason() -> str | None:
    """Why Docker 28 cannot be run here, or None."""
    reason = sidroot.skip_reason()
    if reason is not None:
        return reason
    for tool in ("ip", "unshare", "nsenter", "pivot_root"):
        if shutil.which(tool) is None:
            return f"`{tool}` not installed (apt-get install iproute2 util-linux)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"`ip netns` does not work here: {probe.stderr.strip()}"
    return None


@dataclass
class Engine:
    """A running Docker 28 daemon: its namespaces, its state directory and how to talk to it."""

    root: Path
    state: Path
    """Host path of the run's state directory (socket, pidfile, data-root, exec-root)."""
    netns: str
    pid: int
    cgroup_parent: str
    started_in: float
    """Seconds from launching dockerd to its first answer on the socket."""

    def in_engine(self, *argv: str) -> list[str]:
        """argv running ``argv`` from the root, in the engine's mount and network namespaces."""
        return ["nsenter", f"--target={self.pid}", "--mount", "--net", "--root", "--wd=/", *argv]

    def docker_argv(self, *args: str) -> list[str]:
        return self.in_engine(
            "env", f"DOCKER_CONFIG={STATE_MOUNT}/cli", "docker", "--host", f"unix://{STATE_MOUNT}/docker.sock", *args
        )

    def docker(
        self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run the root's docker CLI against this engine; ``input`` goes to its stdin (e.g. a tar)."""
        result = subprocess.run(self.docker_argv(*args), input=input, capture_output=True, check=False, timeout=timeout)
        completed = subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"),
        )
        if check and completed.returncode != 0:
            raise RuntimeError(
                f"docker {' '.join(args[:3])}… failed ({completed.returncode}): {completed.stderr[-800:]}"
            )
        return completed

    def run_in_namespace(self, *argv: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a root binary (curl, ip) on the engine's host side: where published ports listen."""
        return subprocess.run(self.in_engine(*argv), capture_output=True, text=True, check=False, timeout=timeout)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _launch_script(root: Path, state: Path, cgroup_parent: str, config_file: bool) -> str:
    inner = f"{STATE_MOUNT}"
    config = f" --config-file {inner}/daemon.json" if config_file else ""
    return (
        f"mount --bind {root} {root}\n"
        f"mount -t proc proc {root}/proc\n"
        f"mount -t sysfs sysfs {root}/sys\n"
        f"mount --rbind /sys/fs/cgroup {root}/sys/fs/cgroup\n"
        f"mount --rbind /dev {root}/dev\n"
        f"mount -t tmpfs -o mode=0755 tmpfs {root}/run\n"
        f"mount -t tmpfs -o mode=0755 tmpfs {root}/srv\n"
        f"mkdir -p {root}/run/lock {root}{inner}\n"
        f"mount --bind {state} {root}{inner}\n"
        f"cd {root}\n"
        "pivot_root . mnt\n"
        "umount -l /mnt\n"
        f"exec dockerd --host unix://{inner}/docker.sock --data-root {inner}/data --exec-root {inner}/exec "
        f"--pidfile {inner}/docker.pid --cgroup-parent {cgroup_parent} --log-level warn{config}\n"
    )


def _remove_cgroups(name: str) -> None:
    """Remove the (empty, once the engine is gone) cgroup directories under ``--cgroup-parent``."""
    base = Path("/sys/fs/cgroup")
    for found in [*base.glob(f"*/{name}"), *base.glob(f"*/**/{name}")]:
        for directory in sorted((p for p in [found, *found.rglob("*")] if p.is_dir()), key=lambda p: -len(p.parts)):
            with suppress(OSError):
                directory.rmdir()


def _wait_until_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@contextmanager
def running_engine(daemon_config: Mapping[str, object] | None = None) -> Iterator[Engine]:
    """Start Docker 28 (unique names for everything), yield it, stop it and remove what it left.

    ``daemon_config``: a daemon.json for it (e.g. log defaults an operator's engine might have).
    """
    root = sidroot.ensure_root(PACKAGES)
    tag = uuid.uuid4().hex[:8]
    netns, cgroup_parent = f"selfhost-d28-{tag}", f"selfhost-d28-{tag}"
    state = Path(tempfile.mkdtemp(prefix=f"selfhost-d28-{tag}-"))
    (state / "cli").mkdir()
    if daemon_config is not None:
        (state / "daemon.json").write_text(json.dumps(daemon_config))
    log = (state / "dockerd.log").open("wb")
    process: subprocess.Popen[bytes] | None = None
    pid = 0
    try:
        _ip("netns", "add", netns)
        _ip("-n", netns, "link", "set", "lo", "up")
        started = time.monotonic()
        process = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "nsenter",
                f"--net=/run/netns/{netns}",
                "sh",
                "-ec",
                _launch_script(root, state, cgroup_parent, daemon_config is not None),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        pid = process.pid  # `exec dockerd`: the shell becomes the daemon (no pid namespace)
        engine = Engine(root, state, netns, pid, cgroup_parent, 0.0)
        deadline = started + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"dockerd exited ({process.returncode}): {(state / 'dockerd.log').read_text()[-1500:]}"
                )
            if (state / "docker.sock").exists() and engine.docker("version", check=False, timeout=10).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not answer within {START_TIMEOUT} s")
            time.sleep(0.05)
        engine.started_in = time.monotonic() - started
        yield engine
    finally:
        if process is not None and process.poll() is None:
            # On shutdown the engine stops running containers with their own stop timeouts (60 s
            # for a database): remove them first, at once.
            with suppress(Exception):
                leftover = Engine(root, state, netns, pid, cgroup_parent, 0.0)
                ids = leftover.docker("ps", "--all", "--quiet", check=False).stdout.split()
                if ids:
                    leftover.docker("rm", "--force", "--volumes", *ids, check=False)
            pidfile = state / "docker.pid"
            daemon = int(pidfile.read_text()) if pidfile.exists() else pid
            with suppress(ProcessLookupError):
                os.kill(daemon, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
        _remove_cgroups(cgroup_parent)
        # Overlay and shm mounts lived in the engine's mount namespace, gone with it.
        shutil.rmtree(state, ignore_errors=True)


REGISTRY_PACKAGE = "docker-registry"
"""Debian's distribution registry (2.8), in the root: what a RemoteImage pulls from in these tests."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_registry(engine: Engine) -> Iterator[str]:
    """A registry on a free port of ``engine``'s loopback (127.0.0.0/8 is an insecure registry by
    default), storing in a directory of its own under the root's /tmp; yields ``host:port``."""
    root = sidroot.ensure_root([REGISTRY_PACKAGE])
    work = Path(root, "tmp", f"selfhost-registry-{uuid.uuid4().hex[:8]}")
    work.mkdir(parents=True)
    port = _free_port()
    inside = "/" + str(work.relative_to(root))
    (work / "config.yml").write_text(
        "version: 0.1\n"
        f"storage: {{filesystem: {{rootdirectory: {inside}/data}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n"
    )
    server = subprocess.Popen(
        engine.in_engine(REGISTRY_PACKAGE, "serve", f"{inside}/config.yml"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            probe = engine.run_in_namespace("curl", "--silent", "--fail", f"http://127.0.0.1:{port}/v2/")
            if probe.returncode == 0:
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"registry did not start: {server.stderr.read() if server.stderr else ''!r}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
