"""Tier 3: the Apache snippet that keeps WordPress's web installer closed, in a real Apache.

Debian's Apache 2.4 (the php:apache images run Debian's) serves static stand-ins for
WordPress's entry points with the snippet included, as the image's apache2.conf includes
conf-enabled/*.conf. Proves: the installer and config wizard answer 403 however the path
is spelled, and nothing else is refused. Not proven: PHP, or the image's own config.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from components import wordpress_setup
from tests.scripttools import require

pytestmark = pytest.mark.live


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def apache() -> Iterator[str]:
    """Debian's Apache (the images' own) serving static stand-ins for WordPress's entry points.

    Not under pytest's tmp_path: its parents are private to root, and Apache serves as nobody.
    """
    binary = require("apache2")
    with tempfile.TemporaryDirectory(prefix="selfhost-apache-") as directory:
        yield from _serve(binary, Path(directory))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _serve(binary: str, tmp_path: Path) -> Iterator[str]:
    modules = Path("/usr/lib/apache2/modules")
    docroot = tmp_path / "html"
    for page in ("wp-admin/install.php", "wp-admin/setup-config.php", "wp-admin/upgrade.php", "wp-login.php"):
        (docroot / page).parent.mkdir(parents=True, exist_ok=True)
        (docroot / page).write_text("ok\n")
    (tmp_path / "selfhost.conf").write_text(wordpress_setup.APACHE_NO_INSTALLER)
    port = _free_port()
    config = tmp_path / "httpd.conf"
    config.write_text(
        f"""ServerRoot {tmp_path}
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
Listen 127.0.0.1:{port}
ServerName localhost
PidFile {tmp_path}/httpd.pid
ErrorLog {tmp_path}/error.log
DocumentRoot {docroot}
User nobody
Group nogroup
<Directory {docroot}>
    Require all granted
</Directory>
Include {tmp_path}/selfhost.conf
"""
    )
    tmp_path.chmod(0o755)
    for path in tmp_path.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    check = subprocess.run([binary, "-t", "-f", str(config)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    subprocess.run([binary, "-f", str(config), "-k", "start"], check=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                _http_status(base + "/wp-login.php")
                break
            except OSError:
                assert time.monotonic() < deadline, "Apache did not start"
                time.sleep(0.1)
        yield base
    finally:
        subprocess.run([binary, "-f", str(config), "-k", "stop"], check=False)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/wp-admin/install.php", 403),
        ("/wp-admin/install.php?step=2", 403),
        ("/wp-admin//install.php", 403),
        ("/wp-admin/instal%6c.php", 403),
        ("/wp-admin/install.php/extra", 403),
        ("/wp-admin/setup-config.php", 403),
        ("/wp-admin/upgrade.php", 200),
        ("/wp-login.php", 200),
    ],
)
def test_apache_refuses_the_web_installer_and_nothing_else(apache: str, path: str, status: int) -> None:
    assert _http_status(apache + path) == status
