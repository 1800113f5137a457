"""Every container image the stack runs, pinned to an explicit version, in one place.

Bump a version here and `pulumi up` pulls it and replaces the containers that use it;
their data stays on the volumes. Nextcloud moves one major version per deploy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker


@dataclass(frozen=True)
class ImagePin:
    repository: str
    tag: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def major(self) -> int:
        return int(self.tag.split(".")[0].split("-")[0])

    @property
    def php(self) -> str | None:
        """The PHP version in tags such as ``7.0-php8.4-apache`` (``8.4``), if the tag names one."""
        match = re.search(r"(?:\A|-)php(\d+\.\d+)(?:-|\Z)", self.tag)
        return match.group(1) if match else None


WORDPRESS = ImagePin("wordpress", "7.0-php8.4-apache")
WORDPRESS_CLI = ImagePin("wordpress", "cli-2.12-php8.4")
"""WP-CLI (Alpine); keep its PHP version equal to WORDPRESS's: both run the same site code."""
NEXTCLOUD = ImagePin("nextcloud", "33.0-apache")
MARIADB = ImagePin("mariadb", "11.8")
POSTGRES = ImagePin("postgres", "18.1")
REDIS = ImagePin("redis", "8.2")
NGINX = ImagePin("nginx", "1.30")

ALL = (WORDPRESS, WORDPRESS_CLI, NEXTCLOUD, MARIADB, POSTGRES, REDIS, NGINX)


def postgres_data_path(pin: ImagePin) -> str:
    """Postgres 18 moved PGDATA's parent: the volume goes on /var/lib/postgresql from 18 on."""
    return "/var/lib/postgresql" if pin.major >= 18 else "/var/lib/postgresql/data"


def pull(
    name: str, pin: ImagePin, parent: pulumi.Resource, after: pulumi.Output[object] | None = None
) -> docker.RemoteImage:
    """Pull ``pin`` on the parent's Docker host; containers use its ``image_id``.

    ``keep_locally`` leaves the image on the host at destroy: other stacks may share it.
    ``after``: an output that must resolve first (e.g. a version check that may fail); the
    pull, and every container on the image, waits for it.
    """
    ref: pulumi.Input[str] = pin.ref if after is None else after.apply(lambda _: pin.ref)
    return docker.RemoteImage(
        f"{name}-image",
        name=ref,
        keep_locally=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
