"""Tier 3: the Apache snippet that keeps WordPress's web installer closed, in a real Apache.

Debian's Apache 2.4 (the php:apache images run Debian's) serves static stand-ins for
WordPress's entry points with the snippet included, as the image's apache2.conf includes
conf-enabled/*.conf. Proves: the installer and config wizard answer 403 however the path
is spelled, and nothing else is refused. Not proven: PHP, or the image's own config.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components.apps.wordpress import setup as wordpress_setup
from tests import apache_harness

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def apache() -> Iterator[str]:
    """Debian's Apache (the images' own) serving static stand-ins for WordPress's entry points."""
    pages = ("wp-login.php", "wp-admin/install.php", "wp-admin/setup-config.php", "wp-admin/upgrade.php")
    with apache_harness.apache(pages, wordpress_setup.APACHE_NO_INSTALLER) as base:
        yield base


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
    assert apache_harness.status(apache + path) == status
