"""A Nextcloud: app and background-jobs containers, its own database and Redis, data on volumes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.apps.context import EDGE_PORT, AppContext, edge_alias
from components.apps.nextcloud.hooks import (
    BEFORE_STARTING,
    POST_INSTALLATION,
    POST_UPGRADE,
    NextcloudSettings,
    before_starting,
    post_installation,
    post_upgrade,
)
from components.apps.nextcloud.upgrades import check_nextcloud_upgrade, previous_deployed_majors
from components.apps.spec import Backing
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
from components.core.secrets import generated_password
from components.core.units import php_size
from components.core.volumes import data_volume
from components.edge.routes import UPLOAD_ENVELOPE_BYTES, ProxyRoute
from components.services.backing import BackingArgs, backing_services
from components.services.cache import EvictionPolicy
from components.services.registry import connection
from config.settings import NextcloudApp

WWW_DATA_UID = 33
_REDIS = connection(Backing(role="redis", kind="redis", memory=0))
_DB = connection(Backing(role="db", kind="postgres", memory=0))
REDIS_HOST, REDIS_PORT, DB_HOST = _REDIS.host, _REDIS.port, _DB.host
REDIS_PASSWORD_FILE = "/run/secrets/redis_password"
DB_PASSWORD_FILE = "/run/secrets/db_password"
ADMIN_PASSWORD_FILE = "/run/secrets/admin_password"
HTML_PATH = "/var/www/html"
DATA_PATH = "/var/www/html/data"
DATABASE_NAME = "nextcloud"
DATABASE_USER = "nextcloud"
REDIS_EVICTION_POLICY: EvictionPolicy = "noeviction"
"""Locks must never be evicted; a full Redis refuses new locks instead (components/services/cache.py)."""
MARIADB_SERVER_ARGS = ("--transaction-isolation=READ-COMMITTED", "--binlog-format=ROW")
"""Nextcloud's documented MariaDB settings."""


def route(app_name: str, app: NextcloudApp) -> ProxyRoute:
    return ProxyRoute(
        app=app_name,
        kind="nextcloud",
        server_name=app.hostname,
        upstream_host=edge_alias(app_name),
        upstream_port=EDGE_PORT,
        # Nextcloud enforces its own upload limit and chunks large uploads; the proxy streams.
        max_body_bytes=0,
        read_timeout_seconds=3600,
        request_buffering=False,
        dav_redirects=True,
        login_paths=("/login", "/index.php/login"),
        app_sets_security_headers=True,
        spool_large_responses=False,
    )


def trusted_domain_list(hostname: str, public_host: str) -> tuple[str, ...]:
    """With and without a non-default port, in a stable order."""
    return tuple(sorted({hostname, public_host}))


def trusted_domains(hostname: str, public_host: str) -> str:
    """Space-separated, as NEXTCLOUD_TRUSTED_DOMAINS wants."""
    return " ".join(trusted_domain_list(hostname, public_host))


def hook_settings(app: NextcloudApp, context: AppContext) -> NextcloudSettings:
    return NextcloudSettings(
        phone_region=app.default_phone_region,
        maintenance_window_start=app.maintenance_window_start,
        public_url=context.public_url,
        public_host=context.public_host,
        scheme=context.scheme,
        trusted_proxies=context.trusted_proxies,
        trusted_domains=trusted_domain_list(app.hostname, context.public_host),
    )


def hook_files(app: NextcloudApp, context: AppContext) -> list[FileUpload]:
    """Executable by www-data, which the entrypoint runs them as."""

    def hook(path: str, script: str) -> FileUpload:
        return FileUpload(path, script, owner=str(WWW_DATA_UID), group=str(WWW_DATA_UID), mode="0755")

    return [
        hook(BEFORE_STARTING, before_starting(hook_settings(app, context))),
        hook(POST_INSTALLATION, post_installation()),
        hook(POST_UPGRADE, post_upgrade()),
    ]


def apache_body_limit(upload_limit: int) -> str:
    """``APACHE_BODY_LIMIT``: the largest request body the image's Apache accepts, in bytes.

    nextcloud/docker 33/apache/Dockerfile writes ``LimitRequestBody ${APACHE_BODY_LIMIT}``
    into conf-enabled/apache-limits.conf with ``ENV APACHE_BODY_LIMIT 1073741824``: without
    this, Apache answers 413 to any body over 1 GiB — a WebDAV PUT or a form upload —
    whatever PHP_UPLOAD_LIMIT says. 0 would mean unlimited; the configured upload limit plus
    a form's envelope keeps a bound. Apache 2.4 takes values past 2 GiB (tests/test_apache_live.py).
    """
    return str(upload_limit + UPLOAD_ENVELOPE_BYTES)


def nextcloud_env(app: NextcloudApp, context: AppContext) -> dict[str, str]:
    """Environment shared by the app and cron containers (cron reads the same redis.config.php)."""
    database = (
        {
            "POSTGRES_HOST": DB_HOST,
            "POSTGRES_DB": DATABASE_NAME,
            "POSTGRES_USER": DATABASE_USER,
            "POSTGRES_PASSWORD_FILE": DB_PASSWORD_FILE,
        }
        if app.database == "postgres"
        else {
            "MYSQL_HOST": DB_HOST,
            "MYSQL_DATABASE": DATABASE_NAME,
            "MYSQL_USER": DATABASE_USER,
            "MYSQL_PASSWORD_FILE": DB_PASSWORD_FILE,
        }
    )
    return {
        **database,
        "NEXTCLOUD_ADMIN_USER": app.admin_user,
        "NEXTCLOUD_ADMIN_PASSWORD_FILE": ADMIN_PASSWORD_FILE,
        "NEXTCLOUD_TRUSTED_DOMAINS": trusted_domains(app.hostname, context.public_host),
        "TRUSTED_PROXIES": context.trusted_proxies,
        "APACHE_DISABLE_REWRITE_IP": "1",
        "OVERWRITEHOST": context.public_host,
        "OVERWRITEPROTOCOL": context.scheme,
        "OVERWRITECLIURL": context.public_url,
        "REDIS_HOST": REDIS_HOST,
        "REDIS_HOST_PORT": str(REDIS_PORT),
        "REDIS_HOST_PASSWORD_FILE": REDIS_PASSWORD_FILE,
        "PHP_MEMORY_LIMIT": php_size(app.php_memory_limit),
        "PHP_UPLOAD_LIMIT": php_size(app.upload_limit),
        "APACHE_BODY_LIMIT": apache_body_limit(app.upload_limit),
    }


@dataclass(frozen=True)
class NextcloudArgs:
    app_name: str
    settings: NextcloudApp
    context: AppContext


class Nextcloud(pulumi.ComponentResource):
    url: pulumi.Output[str]
    admin_user: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    volumes: pulumi.Output[list[str]]
    image_major: pulumi.Output[int]
    """The Nextcloud major this deploy runs, once its app container is up and healthy; the stack
    exports it for the next deploy's upgrade check."""

    def __init__(self, name: str, args: NextcloudArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:Nextcloud", name, None, opts)
        app, context = args.settings, args.context

        def named(role: str) -> str:
            return context.resource_name(args.app_name, role)

        backing = backing_services(
            self,
            name,
            BackingArgs(
                app_name=args.app_name,
                context=context,
                engine=app.database,
                database_name=DATABASE_NAME,
                database_user=DATABASE_USER,
                database_memory_bytes=app.memory.database,
                cache_memory_bytes=app.memory.cache,
                database_memory_reservation_bytes=app.reserved.database,
                cache_memory_reservation_bytes=app.reserved.cache,
                # Nextcloud keeps its file locks there, each with a TTL: evict nothing (components/services/cache.py).
                eviction_policy=REDIS_EVICTION_POLICY,
                server_args=MARIADB_SERVER_ARGS if app.database == "mariadb" else (),
            ),
        )
        backend, database, cache = backing.network, backing.database, backing.cache
        html = data_volume(f"{name}-html", named("html"), context.state, parent=self)
        data = data_volume(f"{name}-data", named("data"), context.state, parent=self)
        self.admin_password = generated_password(f"{name}-admin-password", parent=self, protect=context.state.protect)

        pin = images.NEXTCLOUD
        # The pull, and so every container on the image, waits for the upgrade check.
        upgrade_checked = previous_deployed_majors(f"{name}-deployed", parent=self).apply(
            lambda previous: check_nextcloud_upgrade(args.app_name, previous, pin.major, pin.ref)
        )
        image = images.pull(name, pin, parent=self, after=upgrade_checked)
        envs = nextcloud_env(app, context)
        files = [
            secret_file(DB_PASSWORD_FILE, database.password, WWW_DATA_UID),
            secret_file(REDIS_PASSWORD_FILE, cache.password, WWW_DATA_UID),
            secret_file(ADMIN_PASSWORD_FILE, self.admin_password, WWW_DATA_UID),
        ]
        mounts = [Mount(html.name, HTML_PATH), Mount(data.name, DATA_PATH)]
        app_container = service_container(
            f"{name}-container",
            ServiceSpec(
                container_name=named("app"),
                image=image,
                memory_bytes=app.memory.app,
                memory_reservation_bytes=app.reserved.app,
                networks=[
                    Attachment(context.edge_network, aliases=[edge_alias(args.app_name)]),
                    Attachment(backend.name),
                ],
                mounts=mounts,
                envs=envs,
                files=[*files, *hook_files(app, context)],
                # The first start installs Nextcloud before Apache answers: allow it minutes.
                healthcheck=http_healthcheck("/status.php", start_period="10m"),
                wait_timeout_seconds=900,
            ),
            parent=self,
            depends_on=[database, cache],
        )
        service_container(
            f"{name}-cron",
            ServiceSpec(
                container_name=named("cron"),
                image=image,
                memory_bytes=app.memory.cron,
                memory_reservation_bytes=app.reserved.cron,
                # The edge network only for outbound traffic (app store, update checks): no alias.
                networks=[Attachment(context.edge_network), Attachment(backend.name)],
                mounts=mounts,
                envs=envs,
                files=files,
                entrypoint=["/cron.sh"],
                healthcheck=Healthcheck(test=["CMD-SHELL", "grep -qa crond /proc/1/cmdline"], start_period="10s"),
            ),
            parent=self,
            # cron.sh does not install Nextcloud: start it after the app container has.
            depends_on=[app_container],
        )

        self.url = pulumi.Output.from_input(context.public_url)
        self.admin_user = pulumi.Output.from_input(app.admin_user)
        self.volumes = pulumi.Output.all(html.name, data.name, database.volume_name).apply(lambda names: sorted(names))
        # Known only once the app container's create (or replace) has returned, and with
        # wait=True the provider returns only after the container reported healthy: a deploy that
        # fails there never records the new major (see components/apps/nextcloud/upgrades.py). A property, not
        # `id`: when the engine reports the resource failed (`up --continue-on-error`) the SDK
        # resolves its properties as unknown but may still hand back an id.
        self.image_major = app_container.image.apply(lambda _: pin.major)
        self.register_outputs(
            {
                "url": self.url,
                "admin_user": self.admin_user,
                "admin_password": self.admin_password,
                "volumes": self.volumes,
                "image_major": self.image_major,
            }
        )
