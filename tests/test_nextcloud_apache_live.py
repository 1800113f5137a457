"""Tier 3: Nextcloud's request-body limit, in a real Apache with the image's own directive.

The nextcloud:33-apache image enables conf-enabled/apache-limits.conf holding
``LimitRequestBody ${APACHE_BODY_LIMIT}``, with ``ENV APACHE_BODY_LIMIT 1073741824``
(nextcloud/docker 33/apache/Dockerfile). Debian's Apache 2.4 (the php:apache images run
Debian's) reads that line with the environment the program gives the container. Proves: the
program's value is what Apache enforces (413 one byte past it, not at it), Apache accepts
the dev stack's 16 GiB value, and an upload the image's default refuses is let through. Not
proven: PHP's own limits (PHP_UPLOAD_LIMIT), which the image writes into its ini.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from components.apps.nextcloud.settings import NextcloudApp
from components.apps.nextcloud.spec import apache_body_limit, nextcloud_env
from components.apps.spec import Site
from components.edge.routes import UPLOAD_ENVELOPE_BYTES
from tests import apache_harness

pytestmark = pytest.mark.live

IMAGE_DIRECTIVE = "LimitRequestBody ${APACHE_BODY_LIMIT}\n"
IMAGE_DEFAULT = "1073741824"


@contextmanager
def apache(body_limit: str | None) -> Iterator[str]:
    """Apache serving one static file, the image's directive included, APACHE_BODY_LIMIT as given."""
    environ = {"APACHE_BODY_LIMIT": body_limit or IMAGE_DEFAULT}
    with apache_harness.apache(["status.php"], IMAGE_DIRECTIVE, environ, prefix="selfhost-nc-apache-") as base:
        yield base


def post(url: str, size: int) -> int:
    return apache_harness.status(url, b"\0" * size)


def announced_upload_status(url: str, size: int) -> str:
    """Announce a body of ``size`` bytes, send none: Apache refuses at once if ``size`` is over its limit."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=2) as connection:
        connection.sendall(f"PUT /status.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: {size}\r\n\r\n".encode())
        try:
            return connection.recv(64).decode(errors="replace").split("\r\n")[0]
        except TimeoutError:
            return "waiting for the body"


def cloud_env(upload_limit: str) -> dict[str, str]:
    app = NextcloudApp.model_validate(
        {"kind": "nextcloud", "hostname": "cloud.example.com", "uploadLimit": upload_limit}
    )
    site = Site(
        app="cloud",
        hostname="cloud.example.com",
        public_url="https://cloud.example.com",
        scheme="https",
        public_host="cloud.example.com",
        trusted_proxies="172.30.0.0/24",
    )
    return nextcloud_env(app, site)


def test_the_configured_upload_limit_sets_apaches_body_limit() -> None:
    assert cloud_env("32Mi")["APACHE_BODY_LIMIT"] == str(32 * 1024**2 + UPLOAD_ENVELOPE_BYTES)
    assert cloud_env("16Gi")["APACHE_BODY_LIMIT"] == apache_body_limit(16 * 1024**3) == "17180917760"


def test_apache_enforces_exactly_the_programs_limit() -> None:
    limit = int(cloud_env("32Mi")["APACHE_BODY_LIMIT"])
    with apache(str(limit)) as base:
        assert post(base + "/status.php", limit) == 200
        assert post(base + "/status.php", limit + 1) == 413


def test_a_large_upload_the_image_default_refuses_gets_through() -> None:
    two_gib = 2 * 1024**3
    with apache(None) as base:
        assert " 413 " in announced_upload_status(base, two_gib)
    with apache(cloud_env("16Gi")["APACHE_BODY_LIMIT"]) as base:
        assert " 413 " not in announced_upload_status(base, two_gib)
