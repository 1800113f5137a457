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
rendered script (templates/wp-site.sh.j2: URL, title, admin user and e-mail, plugin version), its image, its
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

from components.core.templating import templates_of

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
_TEMPLATES = templates_of(__file__)
APACHE_NO_INSTALLER = _TEMPLATES.get_template("no-web-installer.conf").render()
"""Refuses the installer and config wizard over HTTP until wp-cli has installed the site."""
REDIS_CHECK_PHP = _TEMPLATES.get_template("redis-check.php").render()
"""Run by ``wp eval-file`` after the drop-in is written: fails unless the Redis object cache is connected."""


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


def site_script(
    site: SiteSettings,
    *,
    state_dir: str = STATE_DIR,
    admin_install_config: str = ADMIN_INSTALL_CONFIG,
    redis_check: str = REDIS_CHECK_PATH,
    content_dir: str = CONTENT_DIR,
) -> str:
    """The wp-cli container's script (templates/wp-site.sh.j2); paths are parameters for tests outside the image."""
    return _TEMPLATES.get_template("wp-site.sh.j2").render(
        site_url=site.url,
        site_title=site.title,
        admin_user=site.admin_user,
        admin_email=site.admin_email,
        admin_install_config=admin_install_config,
        content_dir=content_dir,
        plugin=REDIS_CACHE_PLUGIN,
        plugin_version=REDIS_CACHE_VERSION,
        redis_check=redis_check,
        state_dir=state_dir,
        cron_interval=CRON_INTERVAL_SECONDS,
        retry_interval=RETRY_INTERVAL_SECONDS,
        heartbeat_max_age=HEARTBEAT_MAX_AGE_SECONDS,
    )


def healthcheck_test() -> Sequence[str]:
    return ["CMD", "sh", SCRIPT_PATH, "health"]
