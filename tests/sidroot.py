"""A root of Debian's unstable suite: the current nginx, Docker Engine, MariaDB, Postgres, Redis.

The official images pin nginx 1.30, Docker 28, MariaDB 11.8, PostgreSQL 18 and Redis 8;
this machine's Debian release ships older ones. ``debootstrap --variant=minbase sid`` (about
30 s) plus the packages the tier-3 tests name gives the same versions, run from the root
with ``chroot`` (or ``pivot_root`` for dockerd, see ``tests/dockerd28.py``).

Built once per machine and reused: ``SELFHOST_SID_ROOT`` (default
``/var/cache/selfhost/sid-root``) holds it, a lock file serialises concurrent builders, and
packages asked for later are installed into the same root. Installs start no service
(``policy-rc.d`` exits 101). Needs root and ``debootstrap``; elsewhere ``skip_reason()`` says why.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_ROOT = Path("/var/cache/selfhost/sid-root")
MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = ("ca-certificates", "curl", "iproute2", "procps")
"""Always there: tests reach servers with curl and inspect sockets and processes."""
_PACKAGE_STAMP = ".selfhost-packages"
_BASE_STAMP = ".selfhost-base"


def root_path() -> Path:
    return Path(os.environ.get("SELFHOST_SID_ROOT", str(DEFAULT_ROOT)))


def skip_reason() -> str | None:
    """Why the root cannot be built or used here, or None."""
    if os.geteuid() != 0:
        return "the Debian unstable root needs root (debootstrap, chroot, mounts)"
    if (root_path() / _BASE_STAMP).exists():
        return None
    if shutil.which("debootstrap") is None:
        return "debootstrap not installed (apt-get install debootstrap)"
    return None


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _in_mounted_root(root: Path, script: str) -> None:
    """Run ``script`` (sh) with proc, sys, dev and a tmpfs /run mounted in ``root``, in a private mount namespace."""
    mounts = (
        f"mount -t proc proc {root}/proc && mount --rbind /sys {root}/sys && mount --make-rslave {root}/sys && "
        f"mount --rbind /dev {root}/dev && mount --make-rslave {root}/dev && mount -t tmpfs tmpfs {root}/run && "
        "mkdir -p " + f"{root}/run/lock && "
    )
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-ec", mounts + script],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if result.returncode != 0:
        raise RuntimeError(f"building the unstable root failed ({result.returncode}): {result.stderr[-2000:]}")


def _installed(root: Path) -> set[str]:
    stamp = root / _PACKAGE_STAMP
    return set(stamp.read_text().split()) if stamp.exists() else set()


def ensure_root(packages: Iterable[str] = ()) -> Path:
    """The unstable root with ``packages`` (Debian package names) installed; built or extended on demand."""
    root = root_path()
    wanted = sorted({*BASE_PACKAGES, *packages})
    with _locked(root):
        if not (root / _BASE_STAMP).exists():
            if root.exists():
                shutil.rmtree(root)
            subprocess.run(
                ["debootstrap", "--variant=minbase", "sid", str(root), MIRROR],
                check=True,
                capture_output=True,
                text=True,
                timeout=1200,
            )
            policy = root / "usr/sbin/policy-rc.d"
            policy.write_text("#!/bin/sh\nexit 101\n")
            policy.chmod(0o755)
            # The mirror serves sid as it was on its last sync: its Release file may be past
            # Valid-Until, which apt refuses by default (debootstrap does not check it).
            (root / "etc/apt/apt.conf.d/99selfhost-no-valid-until").write_text('Acquire::Check-Valid-Until "false";\n')
            (root / _BASE_STAMP).write_text("debootstrap --variant=minbase sid\n")
        missing = [package for package in wanted if package not in _installed(root)]
        if missing:
            shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
            _in_mounted_root(
                root,
                f"chroot {root} apt-get update -qq && DEBIAN_FRONTEND=noninteractive chroot {root} "
                f"apt-get install -y -qq --no-install-recommends {' '.join(missing)}",
            )
            (root / _PACKAGE_STAMP).write_text("\n".join(sorted(_installed(root) | set(missing))) + "\n")
    return root


def chroot_command(root: Path, *argv: str) -> list[str]:
    """argv to run ``argv`` inside the root (no mounts: enough for servers that need only files)."""
    return ["chroot", str(root), *argv]
