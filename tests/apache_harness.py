"""Debian's Apache 2.4 (the php:apache images run Debian's), serving static files with one snippet included.

For the tier-3 tests of what the program hands the images' Apache: WordPress's installer
block (tests/test_apache_live.py) and Nextcloud's body limit (tests/test_nextcloud_apache_live.py).
Not under pytest's tmp_path: its parents are private to root, and Apache serves as nobody.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.scripttools import require

MODULES = Path("/usr/lib/apache2/modules")


def status(url: str, body: bytes | None = None) -> int:
    """The HTTP status of a GET, or of a POST of ``body``."""
    request = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            code: int = response.status
            return code
    except urllib.error.HTTPError as error:
        return error.code


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def apache(
    pages: Sequence[str], snippet: str, environ: Mapping[str, str] | None = None, prefix: str = "selfhost-apache-"
) -> Iterator[str]:
    """Apache on a free loopback port with ``snippet`` included, each of ``pages`` a static file; yields its base URL.

    ``environ`` is added to Apache's environment (which ``${VAR}`` in ``snippet`` reads); the
    first page is what it is polled on until it answers.
    """
    binary = require("apache2")
    env = {**os.environ, **(environ or {})}
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        work = Path(directory)
        docroot = work / "html"
        docroot.mkdir()
        for page in pages:
            (docroot / page).parent.mkdir(parents=True, exist_ok=True)
            (docroot / page).write_text("ok\n")
        (work / "snippet.conf").write_text(snippet)
        port = _free_port()
        config = work / "httpd.conf"
        config.write_text(
            f"""ServerRoot {work}
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
Listen 127.0.0.1:{port}
ServerName localhost
PidFile {work}/httpd.pid
ErrorLog {work}/error.log
DocumentRoot {docroot}
User nobody
Group nogroup
<Directory {docroot}>
    Require all granted
</Directory>
Include {work}/snippet.conf
"""
        )
        work.chmod(0o755)
        for path in work.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        check = subprocess.run([binary, "-t", "-f", str(config)], env=env, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        subprocess.run([binary, "-f", str(config), "-k", "start"], env=env, check=True)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 10
            while True:
                try:
                    status(f"{base}/{pages[0]}")
                    break
                except OSError:
                    assert time.monotonic() < deadline, "Apache did not start"
                    time.sleep(0.1)
            yield base
        finally:
            subprocess.run([binary, "-f", str(config), "-k", "stop"], env=env, check=False)
