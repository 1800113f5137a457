"""A WordPress site: the app container, its own MariaDB and Redis, its files on a volume."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.apps.context import EDGE_PORT, AppContext, edge_alias
from components.apps.spec import Backing
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
from components.core.container import (
    Attachment,
    FileUpload,
    Healthcheck,
    Mount,
    ServiceSpec,
    http_healthcheck,
    secret_file,
    service_container,
)
from components.core.php import php_defines, php_ini
from components.core.secrets import generated_password
from components.core.units import php_size
from components.core.volumes import data_volume
from components.edge.routes import UPLOAD_ENVELOPE_BYTES, ProxyRoute
from components.services.backing import BackingArgs, backing_services
from components.services.registry import connection
from config.settings import WordPressApp

WWW_DATA_UID = 33
_REDIS = connection(Backing(role="redis", kind="redis", memory=0))
_DB = connection(Backing(role="db", kind="postgres", memory=0))
REDIS_HOST, REDIS_PORT, DB_HOST = _REDIS.host, _REDIS.port, _DB.host
REDIS_PASSWORD_FILE = "/run/secrets/redis_password"
DB_PASSWORD_FILE = "/run/secrets/db_password"
HTML_PATH = "/var/www/html"
PHP_INI_FILE = "/usr/local/etc/php/conf.d/zz-selfhost.ini"
DATABASE_NAME = "wordpress"
DATABASE_USER = "wordpress"


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
    )


def config_extra(public_url: str, app_name: str) -> str:
    """PHP the image evaluates inside wp-config.php (WORDPRESS_CONFIG_EXTRA).

    The image already turns ``X-Forwarded-Proto: https`` into HTTPS; the home URL makes
    WordPress build links to the public address, not the container's.
    """
    return php_defines(
        {
            "WP_HOME": public_url,
            "WP_SITEURL": public_url,
            "WP_REDIS_HOST": REDIS_HOST,
            "WP_REDIS_PORT": REDIS_PORT,
            "WP_REDIS_CLIENT": "predis",
            "WP_CACHE_KEY_SALT": f"{app_name}:",
            # The cron container runs due events every minute; page visits must not.
            "DISABLE_WP_CRON": True,
        }
    ) + (
        # The password stays in its file; reading it at run time keeps it out of `docker inspect`.
        f"define('WP_REDIS_PASSWORD', trim((string) @file_get_contents('{REDIS_PASSWORD_FILE}')));\n"
    )


@dataclass(frozen=True)
class WordPressArgs:
    app_name: str
    settings: WordPressApp
    context: AppContext


class WordPress(pulumi.ComponentResource):
    url: pulumi.Output[str]
    admin_user: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    volumes: pulumi.Output[list[str]]

    def __init__(self, name: str, args: WordPressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:WordPress", name, None, opts)
        app, context = args.settings, args.context

        def named(role: str) -> str:
            return context.resource_name(args.app_name, role)

        backing = backing_services(
            self,
            name,
            BackingArgs(
                app_name=args.app_name,
                context=context,
                engine="mariadb",
                database_name=DATABASE_NAME,
                database_user=DATABASE_USER,
                database_memory_bytes=app.memory.database,
                cache_memory_bytes=app.memory.cache,
                database_memory_reservation_bytes=app.reserved.database,
                cache_memory_reservation_bytes=app.reserved.cache,
            ),
        )
        backend, database, cache = backing.network, backing.database, backing.cache
        html = data_volume(f"{name}-html", named("html"), context.state, parent=self)
        self.admin_password = generated_password(f"{name}-admin-password", parent=self, protect=context.state.protect)

        upload = php_size(app.upload_limit)
        # The wp-cli container reads the same wp-config.php, which reads these variables and files.
        site_envs = {
            "WORDPRESS_DB_HOST": DB_HOST,
            "WORDPRESS_DB_NAME": DATABASE_NAME,
            "WORDPRESS_DB_USER": DATABASE_USER,
            "WORDPRESS_DB_PASSWORD_FILE": DB_PASSWORD_FILE,
            "WORDPRESS_CONFIG_EXTRA": config_extra(context.public_url, args.app_name),
        }
        site_secrets = [
            secret_file(DB_PASSWORD_FILE, database.password, WWW_DATA_UID),
            secret_file(REDIS_PASSWORD_FILE, cache.password, WWW_DATA_UID),
        ]
        app_container = service_container(
            f"{name}-container",
            ServiceSpec(
                container_name=named("app"),
                image=images.pull(name, images.WORDPRESS, parent=self),
                memory_bytes=app.memory.app,
                memory_reservation_bytes=app.reserved.app,
                networks=[
                    Attachment(context.edge_network, aliases=[edge_alias(args.app_name)]),
                    Attachment(backend.name),
                ],
                mounts=[Mount(html.name, HTML_PATH)],
                envs=site_envs,
                files=[
                    *site_secrets,
                    FileUpload(
                        PHP_INI_FILE,
                        php_ini({"upload_max_filesize": upload, "post_max_size": upload, "memory_limit": "256M"}),
                    ),
                    FileUpload(APACHE_NO_INSTALLER_CONF, APACHE_NO_INSTALLER),
                ],
                healthcheck=http_healthcheck("/wp-login.php"),
            ),
            parent=self,
            # Start once the database and cache report healthy.
            depends_on=[database, cache],
        )
        site = SiteSettings(
            url=context.public_url,
            title=app.title,
            admin_user=app.admin_user,
            admin_email=app.admin_email or f"admin@{app.hostname}",
        )
        service_container(
            f"{name}-cron",
            ServiceSpec(
                container_name=named("cron"),
                image=images.pull(f"{name}-cli", images.WORDPRESS_CLI, parent=self),
                memory_bytes=app.memory.cron,
                memory_reservation_bytes=app.reserved.cron,
                user=RUN_AS,
                # The edge network only for outbound traffic (plugin downloads, update checks): no alias.
                networks=[Attachment(context.edge_network), Attachment(backend.name)],
                mounts=[Mount(html.name, HTML_PATH)],
                envs={**site_envs, "HOME": "/tmp"},
                files=[
                    *site_secrets,
                    # The admin password as wp-cli's `core install` default (components/apps/wordpress/setup.py).
                    secret_file(ADMIN_INSTALL_CONFIG, self.admin_password.apply(admin_install_config), WWW_DATA_UID),
                    FileUpload(SCRIPT_PATH, site_script(site), mode="0555"),
                    FileUpload(REDIS_CHECK_PATH, REDIS_CHECK_PHP),
                ],
                entrypoint=["/bin/sh", SCRIPT_PATH],
                command=["run"],
                healthcheck=Healthcheck(test=healthcheck_test(), start_period="10m"),
                # The first start installs WordPress and downloads the cache plugin.
                wait_timeout_seconds=600,
            ),
            parent=self,
            # wp-config.php exists once the app container has started; it waits for database and cache.
            depends_on=[database, cache, app_container],
        )

        self.url = pulumi.Output.from_input(context.public_url)
        self.admin_user = pulumi.Output.from_input(app.admin_user)
        self.volumes = pulumi.Output.all(html.name, database.volume_name).apply(lambda names: sorted(names))
        self.register_outputs(
            {
                "url": self.url,
                "admin_user": self.admin_user,
                "admin_password": self.admin_password,
                "volumes": self.volumes,
            }
        )
