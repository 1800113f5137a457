"""Nextcloud's tuning, as scripts for the image's hook folders (``/docker-entrypoint-hooks.d/``).

The image's entrypoint runs every executable ``*.sh`` in a folder, in name order, as
www-data with the container's environment, and stops the container if one fails:

- ``post-installation/``: once, right after ``occ maintenance:install`` on an empty volume.
  If a script fails, the instance is installed anyway and the folder never runs again.
- ``post-upgrade/``: once, after ``occ upgrade`` when the image is newer than the volume.
- ``before-starting/``: on every start of the app container, after install/upgrade, before
  Apache (the cron container's ``/cron.sh`` runs none of them).

So the split is:

- **before-starting** gets everything that must hold: the values come from config or from
  the stack's own shape (a cron container, a Redis, a proxy on the edge subnet), so they
  must follow a config change, converge an instance restored from an old backup, and be
  back after a reinstall. Each command is idempotent (``config:system:set`` writes nothing
  when the value is unchanged), and a failure keeps Nextcloud from starting with a half
  applied configuration: the deploy fails at the healthcheck instead.
- **post-installation** gets only first-boot choices the admin owns afterwards: AppAPI is
  disabled because it deploys "external apps" through a Docker socket or deploy daemon,
  which no container here has (its setup check warns until one is registered); an admin
  who sets one up can enable it again, and a later start must not undo that.
- **post-upgrade** adds the indices, columns and primary keys a new major may bring (the
  setup checks warn until they exist). Both one-time hooks are best-effort: a failure is
  logged, not fatal, because the folder would not run again anyway.

Redis as distributed cache and for file locking comes from the image's own
``redis.config.php`` (``memcache.distributed`` and ``memcache.locking`` when ``REDIS_HOST``
is set); the before-starting hook verifies it rather than writing Redis settings (and so
the password) into config.php a second time.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.core.templating import templates_of

HOOKS_DIR = "/docker-entrypoint-hooks.d"
BEFORE_STARTING = f"{HOOKS_DIR}/before-starting/50-selfhost-settings.sh"
POST_INSTALLATION = f"{HOOKS_DIR}/post-installation/50-selfhost-first-boot.sh"
POST_UPGRADE = f"{HOOKS_DIR}/post-upgrade/50-selfhost-after-upgrade.sh"
OCC = "/var/www/html/occ"
APCU = "\\OC\\Memcache\\APCu"
REDIS = "\\OC\\Memcache\\Redis"


@dataclass(frozen=True)
class NextcloudSettings:
    phone_region: str
    """ISO 3166-1 alpha-2, validated by the settings model."""
    maintenance_window_start: int
    """Hour 0-23, UTC."""
    public_url: str
    """``overwrite.cli.url``: what background jobs and the setup checks use as the address."""
    public_host: str
    """``overwritehost``: host (and non-default port) users type."""
    scheme: str
    trusted_proxies: str
    """The edge subnet: the proxy's X-Forwarded-* headers are believed from there only."""
    trusted_domains: tuple[str, ...]


_TEMPLATES = templates_of(__file__)
"""templates/: one script per hook, each starting with prelude.sh (``log`` and ``occ``)."""


def before_starting(settings: NextcloudSettings) -> str:
    return _TEMPLATES.get_template("before-starting.sh.j2").render(
        occ=OCC,
        phone_region=settings.phone_region,
        maintenance_window_start=settings.maintenance_window_start,
        apcu=APCU,
        public_url=settings.public_url,
        public_host=settings.public_host,
        scheme=settings.scheme,
        trusted_proxies=settings.trusted_proxies,
        trusted_domains=settings.trusted_domains,
        redis=REDIS,
    )


def post_installation() -> str:
    return _TEMPLATES.get_template("post-installation.sh.j2").render(occ=OCC)


def post_upgrade() -> str:
    return _TEMPLATES.get_template("post-upgrade.sh.j2").render(occ=OCC)
