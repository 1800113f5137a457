"""A WordPress site as plain data: the app and wp-cli containers, its own MariaDB and Redis, its files on a volume."""

from __future__ import annotations

from components.apps.spec import (
    EDGE_PORT,
    AppSecret,
    AppSpec,
    Backing,
    Connection,
    File,
    GeneratedSecret,
    SecretFile,
    Service,
    Site,
    Volume,
    VolumeMount,
    edge_alias,
)
from components.apps.wordpress.settings import WordPressApp
from components.apps.wordpress.setup import (
    ADMIN_INSTALL_CONFIG,
    APACHE_NO_INSTALLER,
    APACHE_NO_INSTALLER_CONF,
    REDIS_CHECK_PATH,
    REDIS_CHECK_PHP,
    RUN_AS,
    SCRIPT_PATH,
    SiteSettings,
    admin_install_config,
    healthcheck_test,
    site_script,
)
from components.core import images
from components.core.container import Healthcheck, http_healthcheck
from components.core.php import php_defines, php_ini
from components.core.units import php_size
from components.edge.routes import UPLOAD_ENVELOPE_BYTES, ProxyRoute
from components.services.registry import connection

WWW_DATA_UID = 33
DB_PASSWORD_FILE = "/run/secrets/db_password"
REDIS_PASSWORD_FILE = "/run/secrets/redis_password"
HTML_PATH = "/var/www/html"
PHP_INI_FILE = "/usr/local/etc/php/conf.d/zz-selfhost.ini"
DATABASE_NAME = "wordpress"
DATABASE_USER = "wordpress"
ADMIN_PASSWORD = "admin-password"


def route(app_name: str, app: WordPressApp) -> ProxyRoute:
    return ProxyRoute(
        app=app_name,
        kind="wordpress",
        server_name=app.hostname,
        upstream_host=edge_alias(app_name),
        upstream_port=EDGE_PORT,
        max_body_bytes=app.upload_limit + UPLOAD_ENVELOPE_BYTES,
        read_timeout_seconds=120,
        request_buffering=True,
        dav_redirects=False,
        login_paths=("/wp-login.php", "/xmlrpc.php"),
        app_sets_security_headers=False,
        # Themes, plugins and media are public; the image's Apache sets no cache lifetime.
        static_cache_paths=("/wp-content/", "/wp-includes/"),
        microcache=app.microcache.route_cache(),
    )


def config_extra(public_url: str, app_name: str, redis: Connection) -> str:
    """PHP the image evaluates inside wp-config.php (WORDPRESS_CONFIG_EXTRA).

    The image already turns ``X-Forwarded-Proto: https`` into HTTPS; the home URL makes
    WordPress build links to the public address, not the container's.
    """
    return php_defines(
        {
            "WP_HOME": public_url,
            "WP_SITEURL": public_url,
            "WP_REDIS_HOST": redis.host,
            "WP_REDIS_PORT": redis.port,
            "WP_REDIS_CLIENT": "predis",
            "WP_CACHE_KEY_SALT": f"{app_name}:",
            # The cron container runs due events every minute; page visits must not.
            "DISABLE_WP_CRON": True,
        }
    ) + (
        # The password stays in its file; reading it at run time keeps it out of `docker inspect`.
        f"define('WP_REDIS_PASSWORD', trim((string) @file_get_contents('{REDIS_PASSWORD_FILE}')));\n"
    )


def spec(app_name: str, app: WordPressApp, site: Site) -> AppSpec:
    db = Backing(
        role="db",
        kind="mariadb",
        memory=app.memory.database,
        memory_reservation=app.reserved.database,
        database=DATABASE_NAME,
        user=DATABASE_USER,
    )
    redis = Backing(role="redis", kind="redis", memory=app.memory.cache, memory_reservation=app.reserved.cache)
    database, cache = connection(db), connection(redis)
    upload = php_size(app.upload_limit)
    html = (VolumeMount("html", HTML_PATH),)
    # The wp-cli container reads the same wp-config.php, which reads these variables and files.
    site_env = {
        "WORDPRESS_DB_HOST": database.host,
        "WORDPRESS_DB_NAME": DATABASE_NAME,
        "WORDPRESS_DB_USER": DATABASE_USER,
        "WORDPRESS_DB_PASSWORD_FILE": DB_PASSWORD_FILE,
        "WORDPRESS_CONFIG_EXTRA": config_extra(site.public_url, app_name, cache),
    }
    site_secrets = (
        SecretFile(DB_PASSWORD_FILE, database.password, WWW_DATA_UID),
        SecretFile(REDIS_PASSWORD_FILE, cache.password, WWW_DATA_UID),
    )
    setup = SiteSettings(
        url=site.public_url,
        title=app.title,
        admin_user=app.admin_user,
        admin_email=app.admin_email or f"admin@{app.hostname}",
    )
    wordpress = Service(
        role="app",
        image=images.WORDPRESS,
        memory=app.memory.app,
        memory_reservation=app.reserved.app,
        edge="routed",
        mounts=html,
        env=site_env,
        files=(
            *site_secrets,
            File(
                PHP_INI_FILE, php_ini({"upload_max_filesize": upload, "post_max_size": upload, "memory_limit": "256M"})
            ),
            File(APACHE_NO_INSTALLER_CONF, APACHE_NO_INSTALLER),
        ),
        healthcheck=http_healthcheck("/wp-login.php"),
        # Start once the database and cache report healthy.
        depends_on=("db", "redis"),
        # Apache with PHP keeps no state of its own: the html volume, database and cache are shared, and
        # the image's entrypoint copies WordPress onto the volume only when it holds none (docker-library/
        # wordpress docker-entrypoint.sh: `[ ! -e index.php ] && [ ! -e wp-includes/version.php ]`), so an
        # image bump changes no file and two Apaches serve the same site. The old one drains on the php
        # image's STOPSIGNAL SIGWINCH, Apache's graceful stop (docker-library/php 8.4/*/apache/Dockerfile).
        replacement="create-first",
    )
    cron = Service(
        role="cron",
        image=images.WORDPRESS_CLI,
        image_name="cli",
        memory=app.memory.cron,
        memory_reservation=app.reserved.cron,
        user=RUN_AS,
        # The edge network only for outbound traffic (plugin downloads, update checks): no alias.
        edge="outbound",
        mounts=html,
        env={**site_env, "HOME": "/tmp"},
        files=(
            *site_secrets,
            # The admin password as wp-cli's `core install` default (components/apps/wordpress/setup.py).
            SecretFile(ADMIN_INSTALL_CONFIG, AppSecret(ADMIN_PASSWORD), WWW_DATA_UID, render=admin_install_config),
            File(SCRIPT_PATH, site_script(setup), mode="0555"),
            File(REDIS_CHECK_PATH, REDIS_CHECK_PHP),
        ),
        entrypoint=("/bin/sh", SCRIPT_PATH),
        command=("run",),
        healthcheck=Healthcheck(test=healthcheck_test(), start_period="10m"),
        # The first start installs WordPress and downloads the cache plugin.
        wait_timeout_seconds=600,
        # wp-config.php exists once the app container has started; it waits for database and cache.
        depends_on=("db", "redis", "app"),
        # Serves no visitor, so a gap costs nothing, while two at once would run the setup script (install,
        # plugin download, `wp` commands writing the database and the html volume) and wp-cron twice.
        replacement="stop-first",
    )
    return AppSpec(
        kind="wordpress",
        services=(wordpress, cron),
        route=route(app_name, app),
        backing=(db, redis),
        volumes=(Volume("html", holds="WordPress's code, themes, plugins and uploads"),),
        secrets=(GeneratedSecret(ADMIN_PASSWORD),),
        admin_user=app.admin_user,
        admin_password=ADMIN_PASSWORD,
        url=site.public_url,
    )
