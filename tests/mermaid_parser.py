"""Mermaid's own parser under Node.js, without a browser, for checking generated diagrams offline.

``mermaid.parse()`` runs the same grammar GitHub's renderer uses; mermaid imports DOMPurify, which
needs a DOM, so jsdom provides one (tests/mermaid_parse.mjs). Pinned versions: mermaid 11.17.2
declares no Node.js engine limit (12.x asks for Node 22, the machine has 20), jsdom 26.1.0 runs on
Node 18+ (jsdom 27+ needs 22). Installed once per machine with npm into ``SELFHOST_MERMAID_DIR``
(default ``/var/cache/selfhost/mermaid-11.17.2``), a lock file serialising concurrent installs;
``skip_reason()`` says why it cannot be used (no node/npm, or the install failed).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MERMAID_VERSION = "11.17.2"
JSDOM_VERSION = "26.1.0"
DEFAULT_DIR = Path(f"/var/cache/selfhost/mermaid-{MERMAID_VERSION}")
SCRIPT = Path(__file__).resolve().parent / "mermaid_parse.mjs"
_STAMP = ".selfhost-installed"


def install_dir() -> Path:
    return Path(os.environ.get("SELFHOST_MERMAID_DIR", str(DEFAULT_DIR)))


def _ensure() -> str | None:
    """Install the pinned packages if needed; the reason they cannot be used, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "Node.js and npm are not installed (Mermaid's parser runs under node)"
    directory = install_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f"{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (directory / _STAMP).exists():
            return None
        (directory / "package.json").write_text('{"name": "selfhost-mermaid-check", "private": true}\n')
        result = subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
                str(directory),
                f"mermaid@{MERMAID_VERSION}",
                f"jsdom@{JSDOM_VERSION}",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            return f"npm install mermaid@{MERMAID_VERSION} failed: {result.stderr.strip()[-500:]}"
        (directory / _STAMP).write_text(f"mermaid {MERMAID_VERSION}, jsdom {JSDOM_VERSION}\n")
    return None


_REASON: list[str | None] = []


def skip_reason() -> str | None:
    if not _REASON:
        _REASON.append(_ensure())
    return _REASON[0]


@dataclass(frozen=True)
class ParseResult:
    ok: bool
    output: str
    """The diagram type (``flowchart-v2``) when ``ok``, else the parser's error."""


def parse(text: str) -> ParseResult:
    """Run Mermaid's parser on ``text``; call ``skip_reason()`` first."""
    # Node resolves the script's imports from NODE_PATH only for CommonJS; an ES module looks in the
    # script's own folder upwards, so it runs from a copy inside the install directory.
    script = install_dir() / SCRIPT.name
    if not script.exists() or script.read_text() != SCRIPT.read_text():
        script.write_text(SCRIPT.read_text())
    result = subprocess.run(["node", str(script)], input=text, capture_output=True, text=True, timeout=120, check=False)
    return ParseResult(result.returncode == 0, (result.stdout if result.returncode == 0 else result.stderr).strip())
