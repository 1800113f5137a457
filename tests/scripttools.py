"""Running what the stack hands to containers on this machine: shells, php -l, stub commands.

The scripts are POSIX sh; here they run under Debian's dash, in the images under busybox
ash or dash. Stubs stand in for ``wp`` and ``php occ`` and log every call, so a test sees
the exact argv a script would run, without WordPress or Nextcloud.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

SHELL = "/bin/sh"


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian package: {DEBIAN_PACKAGES.get(tool, tool)})")
    return path


DEBIAN_PACKAGES = {"php": "php-cli", "shellcheck": "shellcheck", "apache2": "apache2-bin"}


def sh_syntax_errors(script: str) -> str:
    result = subprocess.run([SHELL, "-n"], input=script, capture_output=True, text=True, check=False)
    return result.stderr if result.returncode else ""


def shellcheck_findings(script: str, *, severity: str = "style") -> str:
    """shellcheck's default checks for POSIX sh; empty when clean."""
    result = subprocess.run(
        [require("shellcheck"), "--shell=sh", f"--severity={severity}", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout + result.stderr if result.returncode else ""


def php_lint_errors(code: str, *, opening_tag: bool = True) -> str:
    """``php -l`` on a snippet. Without ``<?php`` in front, php -l sees plain text and passes anything."""
    source = ("<?php\n" + code) if opening_tag else code
    result = subprocess.run([require("php"), "-l"], input=source, capture_output=True, text=True, check=False)
    return "" if result.returncode == 0 else result.stdout + result.stderr


STUB_LOGGER = r"""#!/bin/sh
# Test stub: log this call (arguments NUL-separated, one file per call), then act below.
n=$(ls "$STUB_LOG" | wc -l)
n=$((n + 1))
file="$STUB_LOG/$(printf '%04d' "$n")-$(basename "$0")"
for arg in "$@"; do printf '%s\0' "$arg"; done >"$file"
"""


def install_stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(STUB_LOGGER + body)
    path.chmod(0o755)


def stub_calls(log_dir: Path, name: str | None = None) -> list[list[str]]:
    """Every logged call in order, as argv lists (optionally only those of one stub)."""
    calls = []
    for entry in sorted(log_dir.iterdir()):
        if name is None or entry.name.endswith(f"-{name}"):
            calls.append(entry.read_bytes().decode().split("\0")[:-1])
    return calls


def run_script(
    script: Path, *args: str, bin_dir: Path, log_dir: Path, env: Mapping[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "STUB_LOG": str(log_dir),
        **(env or {}),
    }
    return subprocess.run(
        [SHELL, str(script), *args], env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )
