"""What installs and looks after a WordPress site: a wp-cli container that converges, then schedules.

Mechanism: a long-running container on the official ``wordpress:cli`` image, made with
``service_container`` like every other container. On each start it *converges* the site
(installs WordPress if ``wp core is-installed`` says no, applies title and admin e-mail,
installs and activates the Redis object cache plugin, writes its drop-in and checks that
it connects), retrying until that succeeds; then it runs due WP-cron events every minute.
Its healthcheck passes only after convergence, and ``wait=True`` makes ``pulumi up`` fail
when the site never converges (``docker logs <prefix>-<app>-cron`` says why).

Why not the two mechanisms one reaches for first:

- A one-shot ``docker.Container`` (``must_run=False``, ``attach=True``, ``logs=True``) does
  not fail the deploy when the command fails: the provider waits for the container to stop
  and ignores its status (kreuzwerker/terraform-provider-docker, ``resourceDockerContainerCreate``;
  ``exit_code`` is only read back as an output, per the PR that added ``attach``). Checking
  ``exit_code`` in the program would fail *after* the container is in state, so the next
  ``up`` sees no diff and never retries. It also cannot pass ``wait``/healthcheck care.
- ``pulumi_command`` would need a ``docker`` CLI (and ssh access for a Hetzner host) on the
  machine running Pulumi, and secrets piped through it: a second path to the engine beside
  the provider, with its own ``--network``/``--user``/``--memory`` flags to keep in step.

The container is replaced, and so converges again, exactly when its inputs change: the
rendered script below (URL, title, admin user and e-mail, plugin version), its image, its
environment. Nothing in them is time-dependent, so an unchanged stack shows no diff.
Restarts (host reboot) converge again too; every step is idempotent.

Settings from config win: a title or admin e-mail edited in the dashboard is set back to
the configured value the next time this container starts. The admin *password* is only
used for the first install; WordPress owns it afterwards.

How the admin password reaches ``wp core install`` without ever being output, in argv or
in the environment (wp-cli 2.12.0, php/WP_CLI/): ``--prompt=admin_password`` is out, as
``Subcommand::invoke`` logs the whole prompted command, password included, to stdout
(``WP_CLI::log('wp core install ... --admin_password=...')``), and ``prompt()`` reads through
readline, which echoes what it reads to stdout as well: both end in ``docker logs``. Instead
the password sits in a wp-cli config file of its own (``ADMIN_INSTALL_CONFIG``, 0400, a
secret upload) as a per-command default: ``Configurator::merge_yml`` keeps unknown top-level
keys such as ``core install`` in ``extra_config``, ``Runner::run_command`` hands
``extra_config['core install']`` to the command and ``Subcommand::invoke`` merges it under
the command line's arguments. ``WP_CLI_CONFIG_PATH`` (``Runner::get_global_config_path``)
points that one call at the file; the environment then carries a path only. ``core install``
reads ``$args['admin_password']`` (wp-cli/core-command v2.1.20, the release current with
wp-cli 2.12.0) and logs a password only when it generated one itself.

The cache plugin is checked against wordpress.org's checksums on every converge, before it
is activated (``wp plugin verify-checksums``, wp-cli/checksum-command). That command exits 0
when it could not fetch checksums ("Verified 0 of 1 plugins (1 skipped)",
``report_batch_operation_results`` in wp-cli's php/utils.php), so only its exact success
line counts. On a mismatch the plugin is deactivated and its drop-in removed: the site runs
without the persistent cache rather than on unverified code, and converging fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from components.core.shell import shell_literal

SCRIPT_PATH = "/usr/local/share/selfhost/wp-site.sh"
REDIS_CHECK_PATH = "/usr/local/share/selfhost/redis-check.php"
ADMIN_INSTALL_CONFIG = "/run/secrets/wp_admin_install.yml"
"""A wp-cli config file holding only the admin password, as ``core install``'s default."""
CONTENT_DIR = "/var/www/html/wp-content"
STATE_DIR = "/tmp/selfhost"
"""Inside the container (not on the volume): readiness and cron heartbeat markers."""
RUN_AS = "33:33"
"""The apache image's www-data. The cli image is Alpine, where www-data is uid 82 and 33 is
``xfs``: running as its default user would leave files on the shared volume that Apache
cannot write (docker-library/wordpress#256)."""

REDIS_CACHE_PLUGIN = "redis-cache"
REDIS_CACHE_VERSION = "2.6.3"
"""Installed if missing or older; a newer version (updated from the dashboard) is kept.

2.6.3 is the plugin's latest release: "Stable tag: 2.6.3" in readme.txt and the newest
entry of its changelog (rhubarbgroup/redis-cache, main and develop as of 2025-07-25; its
tags end at 2.6.3). The 2.8.0 pinned before never existed, so ``wp plugin install
--version=2.8.0`` could only fail."""
CRON_INTERVAL_SECONDS = 60
RETRY_INTERVAL_SECONDS = 15
HEARTBEAT_MAX_AGE_SECONDS = 900
"""Unhealthy after this long without a successful cron run (a slow event may take minutes)."""

APACHE_NO_INSTALLER_CONF = "/etc/apache2/conf-enabled/zz-selfhost-no-web-installer.conf"
APACHE_NO_INSTALLER = """\
# selfhost installs WordPress with wp-cli. Until that has run, a fresh site would offer its
# installer to whoever finds it first: refuse the installer and config wizard over HTTP.
<LocationMatch "^/wp-admin/(install|setup-config)\\.php">
    Require all denied
</LocationMatch>
"""

REDIS_CHECK_PHP = """\
<?php
// Run by `wp eval-file` after the drop-in is written: fail unless the Redis object cache
// is in use and connected, so a wrong host or password fails the deploy instead of
// silently falling back to no persistent cache.
$cache = $GLOBALS['wp_object_cache'] ?? null;
if (!is_object($cache) || !method_exists($cache, 'redis_status') || !$cache->redis_status()) {
    fwrite(STDERR, "selfhost: the Redis object cache is not connected; see `wp redis status`\\n");
    exit(1);
}
echo "selfhost: Redis object cache connected\\n";
"""


def admin_install_config(password: str) -> str:
    """The ``ADMIN_INSTALL_CONFIG`` file: wp-cli.yml syntax, ``core install``'s admin password.

    Only generated passwords (letters and digits) come here; anything else could need YAML
    escaping, so it is refused, without echoing it.
    """
    if not re.fullmatch(r"[A-Za-z0-9]{16,}", password):
        raise ValueError("the WordPress admin password must be 16 or more letters and digits")
    return f'core install:\n  admin_password: "{password}"\n'


@dataclass(frozen=True)
class SiteSettings:
    url: str
    title: str
    admin_user: str
    admin_email: str


_BODY = r"""
READY="$STATE_DIR/converged"
HEARTBEAT="$STATE_DIR/cron-heartbeat"

log() {
    printf 'selfhost: %s\n' "$*" >&2
}

# Run a command in the background and wait for it, so that a TERM trap fires at once.
interruptible() {
    "$@" &
    wait "$!"
}

older_than_pin() {
    # shellcheck disable=SC2016 # PHP code, not shell: $argv is PHP's.
    php -r 'exit(version_compare($argv[1], $argv[2], "<") ? 0 : 1);' "$1" "$PLUGIN_VERSION"
}

# wordpress.org's checksums for every file of the installed version; wp-cli exits 0 also when
# it could not get them ("Verified 0 of 1 plugins (1 skipped)"), so only this line counts.
verify_plugin() {
    if report="$(wp --skip-plugins plugin verify-checksums "$PLUGIN")" &&
        [ "$(printf '%s\n' "$report" | tail -n 1)" = "Success: Verified 1 of 1 plugins." ]; then
        return 0
    fi
    printf '%s\n' "$report" >&2
    log "$PLUGIN does not match wordpress.org's checksums: deactivating it and removing its drop-in"
    wp --skip-plugins plugin deactivate "$PLUGIN" || true
    rm -f "$CONTENT_DIR/object-cache.php"
    return 1
}

converge() {
    if ! wp core is-installed; then
        log "installing WordPress at $SITE_URL"
        # The password is core install's default in its own wp-cli config file: never in argv,
        # the environment, a prompt or the output (see components/apps/wordpress/setup.py).
        WP_CLI_CONFIG_PATH="$ADMIN_INSTALL_CONFIG" wp core install --url="$SITE_URL" --title="$SITE_TITLE" \
            --admin_user="$ADMIN_USER" --admin_email="$ADMIN_EMAIL" --skip-email
    fi
    wp option update blogname "$SITE_TITLE"
    wp option update admin_email "$ADMIN_EMAIL"
    wp core update-db
    installed="$(wp plugin get "$PLUGIN" --field=version 2>/dev/null || true)"
    if [ -z "$installed" ] || older_than_pin "$installed"; then
        log "installing $PLUGIN $PLUGIN_VERSION (found: ${installed:-none})"
        wp plugin install "$PLUGIN" --version="$PLUGIN_VERSION" --force
    fi
    verify_plugin
    wp plugin activate "$PLUGIN"
    # Like `wp redis enable`, and also replaces a drop-in left by an older plugin version.
    wp redis update-dropin
    wp eval-file "$REDIS_CHECK"
}

health() {
    if [ ! -f "$READY" ]; then
        log "not converged yet"
        return 1
    fi
    last="$(stat -c %Y "$HEARTBEAT" 2>/dev/null || echo 0)"
    age=$(($(date +%s) - last))
    if [ "$age" -ge "$HEARTBEAT_MAX_AGE" ]; then
        log "no successful WP-cron run for ${age}s"
        return 1
    fi
}

run() {
    trap 'log "stopping"; exit 0' TERM INT
    mkdir -p "$STATE_DIR"
    rm -f "$READY" "$HEARTBEAT"
    # A separate shell, so that `set -e` holds inside converge (a condition would disable it).
    until interruptible sh "$0" converge; do
        log "converging failed; retrying in ${RETRY_INTERVAL}s"
        interruptible sleep "$RETRY_INTERVAL"
    done
    touch "$READY"
    log "site converged; running due WP-cron events every ${CRON_INTERVAL}s"
    while :; do
        if interruptible wp cron event run --due-now; then
            touch "$HEARTBEAT"
        else
            log "WP-cron run failed"
        fi
        interruptible sleep "$CRON_INTERVAL"
    done
}

case "${1:-run}" in
    run) run ;;
    converge) converge ;;
    health) health ;;
    *)
        log "usage: $0 [run|converge|health]"
        exit 64
        ;;
esac
"""


def _assign(name: str, value: str | int) -> str:
    return f"{name}={shell_literal(value)}"


def site_script(
    site: SiteSettings,
    *,
    state_dir: str = STATE_DIR,
    admin_install_config: str = ADMIN_INSTALL_CONFIG,
    redis_check: str = REDIS_CHECK_PATH,
    content_dir: str = CONTENT_DIR,
) -> str:
    """The wp-cli container's script; paths are parameters so tests can run it outside the image."""
    header = [
        "#!/bin/sh",
        "# selfhost: keeps this WordPress site installed and configured, then runs its due WP-cron events.",
        "# Rendered by components/apps/wordpress/setup.py; runs as www-data (33:33) in the wp-cli container.",
        "#   sh wp-site.sh run       converge until that succeeds, then run due WP-cron events every minute",
        "#   sh wp-site.sh converge  install if needed and apply the settings below, once (idempotent)",
        "#   sh wp-site.sh health    succeed once converged and while WP-cron runs keep succeeding",
        "set -eu",
        "",
        _assign("SITE_URL", site.url),
        _assign("SITE_TITLE", site.title),
        _assign("ADMIN_USER", site.admin_user),
        _assign("ADMIN_EMAIL", site.admin_email),
        _assign("ADMIN_INSTALL_CONFIG", admin_install_config),
        _assign("CONTENT_DIR", content_dir),
        _assign("PLUGIN", REDIS_CACHE_PLUGIN),
        _assign("PLUGIN_VERSION", REDIS_CACHE_VERSION),
        _assign("REDIS_CHECK", redis_check),
        _assign("STATE_DIR", state_dir),
        _assign("CRON_INTERVAL", CRON_INTERVAL_SECONDS),
        _assign("RETRY_INTERVAL", RETRY_INTERVAL_SECONDS),
        _assign("HEARTBEAT_MAX_AGE", HEARTBEAT_MAX_AGE_SECONDS),
    ]
    return "\n".join(header) + "\n" + _BODY


def healthcheck_test() -> Sequence[str]:
    return ["CMD", "sh", SCRIPT_PATH, "health"]
