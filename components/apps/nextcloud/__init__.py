"""The ``nextcloud`` kind: a Nextcloud with its own database (PostgreSQL or MariaDB), Redis and cron container."""

from components.apps.kind import Kind
from components.apps.nextcloud import spec as _spec
from components.apps.nextcloud.settings import NextcloudApp
from components.apps.nextcloud.upgrades import DEPLOYED_MAJORS_OUTPUT

KIND = Kind(
    name="nextcloud",
    settings=NextcloudApp,
    spec=_spec.spec,
    component="selfhost:index:Nextcloud",
    summary="Nextcloud (Apache + PHP) with its own PostgreSQL or MariaDB, Redis and background-jobs container",
    example={"kind": "nextcloud", "hostname": "cloud.example.com", "database": "postgres"},
    records=(DEPLOYED_MAJORS_OUTPUT,),
)
