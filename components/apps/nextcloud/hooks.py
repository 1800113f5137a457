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

from components.core.shell import shell_literal

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


_PRELUDE = f"""\
set -eu

log() {{
    printf 'selfhost: %s\\n' "$*" >&2
}}

occ() {{
    php {OCC} --no-interaction --no-ansi "$@"
}}
"""


def _set(key: str, value: str | int, *, index: int | None = None) -> str:
    typed = " --type=integer" if isinstance(value, int) else ""
    position = f" {index}" if index is not None else ""
    return f"occ config:system:set {key}{position}{typed} --value={shell_literal(value)}"


def before_starting(settings: NextcloudSettings) -> str:
    lines = [
        "#!/bin/sh",
        "# selfhost: settings that must hold on every start (before-starting hook, runs as www-data).",
        "# Rendered by components/apps/nextcloud/hooks.py from the stack's config; every command is idempotent.",
        _PRELUDE,
        "# The stack runs a cron container (/cron.sh): background jobs must not wait for page visits.",
        "occ background:cron",
        _set("default_phone_region", settings.phone_region),
        _set("maintenance_window_start", settings.maintenance_window_start),
        "# APCu is compiled into the image (apc.enable_cli=1, so occ and cron.php can use it too).",
        _set("memcache.local", APCU),
        "# Behind the proxy: the public address, and which hops may set X-Forwarded-*.",
        _set("overwrite.cli.url", settings.public_url),
        _set("overwritehost", settings.public_host),
        _set("overwriteprotocol", settings.scheme),
        _set("trusted_proxies", settings.trusted_proxies, index=0),
        _set("forwarded_for_headers", "HTTP_X_FORWARDED_FOR", index=0),
        "# Same indices as NEXTCLOUD_TRUSTED_DOMAINS at install (0 is the installer's localhost).",
        *(
            _set("trusted_domains", domain, index=position)
            for position, domain in enumerate(settings.trusted_domains, start=1)
        ),
        "",
        "# Redis caching and locking come from the image's redis.config.php (REDIS_HOST): check them.",
        "require_system_value() {",
        '    actual="$(occ config:system:get "$1" || true)"',
        '    if [ "$actual" != "$2" ]; then',
        "        log \"$1 is '$actual', expected '$2': is REDIS_HOST set and redis.config.php in config/?\"",
        "        exit 1",
        "    fi",
        "}",
        f"require_system_value memcache.distributed {shell_literal(REDIS)}",
        f"require_system_value memcache.locking {shell_literal(REDIS)}",
        "",
    ]
    return "\n".join(lines)


def post_installation() -> str:
    return "\n".join(
        [
            "#!/bin/sh",
            "# selfhost: first-boot choices the admin owns afterwards (post-installation hook, runs once).",
            _PRELUDE,
            "# AppAPI needs a Docker socket or deploy daemon; no container here has one. Re-enable it",
            "# after registering a daemon: this hook does not run again.",
            "occ app:disable app_api || log 'occ app:disable app_api failed (no such app in this version?)'",
            "",
        ]
    )


def post_upgrade() -> str:
    return "\n".join(
        [
            "#!/bin/sh",
            "# selfhost: after a version upgrade (post-upgrade hook, runs once per upgrade).",
            _PRELUDE,
            "# Schema additions a new version may bring; the setup checks warn until they exist.",
            "for step in db:add-missing-indices db:add-missing-columns db:add-missing-primary-keys; do",
            '    occ "$step" || log "occ $step failed; run it by hand: docker exec -u www-data <app> php occ $step"',
            "done",
            "",
        ]
    )
