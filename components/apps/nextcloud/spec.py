"""A Nextcloud as plain data: app and background-jobs containers, its own database and Redis, data on volumes."""

from __future__ import annotations

from components.apps.nextcloud.hooks import (
    BEFORE_STARTING,
    POST_INSTALLATION,
    POST_UPGRADE,
    NextcloudSettings,
    before_starting,
    post_installation,
    post_upgrade,
)
from components.apps.nextcloud.settings import NextcloudApp
from components.apps.nextcloud.upgrades import DEPLOYED_MAJORS_OUTPUT, check_nextcloud_upgrade
from components.apps.spec import (
    EDGE_PORT,
    AppSecret,
    AppSpec,
    Backing,
    BackupQuiesce,
    Connection,
    File,
    GeneratedSecret,
    SecretFile,
    Service,
    Site,
    UpgradeGuard,
    Volume,
    VolumeMount,
    edge_alias,
)
from components.core import images
from components.core.container import Healthcheck, http_healthcheck
from components.core.units import php_size
from components.edge.routes import UPLOAD_ENVELOPE_BYTES, ProxyRoute
from components.services.cache import EvictionPolicy
from components.services.registry import connection

WWW_DATA_UID = 33
DB_PASSWORD_FILE = "/run/secrets/db_password"
REDIS_PASSWORD_FILE = "/run/secrets/redis_password"
ADMIN_PASSWORD_FILE = "/run/secrets/admin_password"
HTML_PATH = "/var/www/html"
DATA_PATH = "/var/www/html/data"
DATABASE_NAME = "nextcloud"
DATABASE_USER = "nextcloud"
ADMIN_PASSWORD = "admin-password"
REDIS_EVICTION_POLICY: EvictionPolicy = "noeviction"
"""Locks must never be evicted; a full Redis refuses new locks instead (components/services/cache.py)."""
OCC = "/var/www/html/occ"
MAINTENANCE_ON = ("php", OCC, "maintenance:mode", "--on")
MAINTENANCE_OFF = ("php", OCC, "maintenance:mode", "--off")
"""Nextcloud's backup procedure (admin manual, "Backup"): maintenance mode on, dump the database and
copy config and data, maintenance mode off. occ runs only as the owner of config/config.php,
www-data (uid 33) in the apache image (nextcloud/docker 33/apache/entrypoint.sh ``run_as``)."""
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


def hook_settings(app: NextcloudApp, site: Site) -> NextcloudSettings:
    return NextcloudSettings(
        phone_region=app.default_phone_region,
        maintenance_window_start=app.maintenance_window_start,
        public_url=site.public_url,
        public_host=site.public_host,
        scheme=site.scheme,
        trusted_proxies=site.trusted_proxies,
        trusted_domains=trusted_domain_list(app.hostname, site.public_host),
    )


def hook_files(app: NextcloudApp, site: Site) -> tuple[File, ...]:
    """Executable by www-data, which the entrypoint runs them as."""

    def hook(path: str, script: str) -> File:
        return File(path, script, owner=WWW_DATA_UID, group=WWW_DATA_UID, mode="0755")

    return (
        hook(BEFORE_STARTING, before_starting(hook_settings(app, site))),
        hook(POST_INSTALLATION, post_installation()),
        hook(POST_UPGRADE, post_upgrade()),
    )


def apache_body_limit(upload_limit: int) -> str:
    """``APACHE_BODY_LIMIT``: the largest request body the image's Apache accepts, in bytes.

    nextcloud/docker 33/apache/Dockerfile writes ``LimitRequestBody ${APACHE_BODY_LIMIT}``
    into conf-enabled/apache-limits.conf with ``ENV APACHE_BODY_LIMIT 1073741824``: without
    this, Apache answers 413 to any body over 1 GiB — a WebDAV PUT or a form upload —
    whatever PHP_UPLOAD_LIMIT says. 0 would mean unlimited; the configured upload limit plus
    a form's envelope keeps a bound. Apache 2.4 takes values past 2 GiB (tests/test_apache_live.py).
    """
    return str(upload_limit + UPLOAD_ENVELOPE_BYTES)


def backing(app: NextcloudApp) -> tuple[Backing, Backing]:
    """Its database (``database``: postgres or mariadb) and its Redis."""
    db = Backing(
        role="db",
        kind=app.database,
        memory=app.memory.database,
        memory_reservation=app.reserved.database,
        database=DATABASE_NAME,
        user=DATABASE_USER,
        options={"server_args": MARIADB_SERVER_ARGS} if app.database == "mariadb" else {},
    )
    redis = Backing(
        role="redis",
        kind="redis",
        memory=app.memory.cache,
        memory_reservation=app.reserved.cache,
        # Nextcloud keeps its file locks there, each with a TTL: evict nothing (components/services/cache.py).
        options={"eviction_policy": REDIS_EVICTION_POLICY},
    )
    return db, redis


def nextcloud_env(app: NextcloudApp, site: Site) -> dict[str, str]:
    """Environment shared by the app and cron containers (cron reads the same redis.config.php)."""
    db, redis = (connection(b) for b in backing(app))
    database = (
        {
            "POSTGRES_HOST": db.host,
            "POSTGRES_DB": DATABASE_NAME,
            "POSTGRES_USER": DATABASE_USER,
            "POSTGRES_PASSWORD_FILE": DB_PASSWORD_FILE,
        }
        if app.database == "postgres"
        else {
            "MYSQL_HOST": db.host,
            "MYSQL_DATABASE": DATABASE_NAME,
            "MYSQL_USER": DATABASE_USER,
            "MYSQL_PASSWORD_FILE": DB_PASSWORD_FILE,
        }
    )
    return {
        **database,
        "NEXTCLOUD_ADMIN_USER": app.admin_user,
        "NEXTCLOUD_ADMIN_PASSWORD_FILE": ADMIN_PASSWORD_FILE,
        "NEXTCLOUD_TRUSTED_DOMAINS": trusted_domains(app.hostname, site.public_host),
        "TRUSTED_PROXIES": site.trusted_proxies,
        "APACHE_DISABLE_REWRITE_IP": "1",
        "OVERWRITEHOST": site.public_host,
        "OVERWRITEPROTOCOL": site.scheme,
        "OVERWRITECLIURL": site.public_url,
        "REDIS_HOST": redis.host,
        "REDIS_HOST_PORT": str(redis.port),
        "REDIS_HOST_PASSWORD_FILE": REDIS_PASSWORD_FILE,
        "PHP_MEMORY_LIMIT": php_size(app.php_memory_limit),
        "PHP_UPLOAD_LIMIT": php_size(app.upload_limit),
        "APACHE_BODY_LIMIT": apache_body_limit(app.upload_limit),
    }


def _secret_files(db: Connection, redis: Connection) -> tuple[SecretFile, ...]:
    return (
        SecretFile(DB_PASSWORD_FILE, db.password, WWW_DATA_UID),
        SecretFile(REDIS_PASSWORD_FILE, redis.password, WWW_DATA_UID),
        SecretFile(ADMIN_PASSWORD_FILE, AppSecret(ADMIN_PASSWORD), WWW_DATA_UID),
    )


def spec(app_name: str, app: NextcloudApp, site: Site) -> AppSpec:
    db, redis = backing(app)
    secrets = _secret_files(connection(db), connection(redis))
    env = nextcloud_env(app, site)
    pin = images.NEXTCLOUD
    mounts = (VolumeMount("html", HTML_PATH), VolumeMount("data", DATA_PATH))
    nextcloud = Service(
        role="app",
        image=pin,
        memory=app.memory.app,
        memory_reservation=app.reserved.app,
        edge="routed",
        mounts=mounts,
        env=env,
        files=(*secrets, *hook_files(app, site)),
        # The first start installs Nextcloud before Apache answers: allow it minutes.
        healthcheck=http_healthcheck("/status.php", start_period="10m"),
        wait_timeout_seconds=900,
        depends_on=("db", "redis"),
        # The image's entrypoint upgrades the code on the html volume and runs `occ upgrade` when the image
        # is newer than the installed version: an old Nextcloud must not serve (or run) beside that.
        replacement="stop-first",
    )
    cron = Service(
        role="cron",
        image=pin,
        memory=app.memory.cron,
        memory_reservation=app.reserved.cron,
        # The edge network only for outbound traffic (app store, update checks): no alias.
        edge="outbound",
        mounts=mounts,
        env=env,
        files=secrets,
        entrypoint=("/cron.sh",),
        healthcheck=Healthcheck(test=["CMD-SHELL", "grep -qa crond /proc/1/cmdline"], start_period="10s"),
        # cron.sh does not install Nextcloud: start it after the app container has.
        depends_on=("app",),
        # Background jobs of the old version must not run during the new one's upgrade.
        replacement="stop-first",
    )

    def check(previous: object) -> None:
        check_nextcloud_upgrade(app_name, previous, pin.major, pin.ref)

    return AppSpec(
        kind="nextcloud",
        services=(nextcloud, cron),
        route=route(app_name, app),
        backing=(db, redis),
        volumes=(Volume("html", holds="Nextcloud's code, apps and config"), Volume("data", holds="users' files")),
        secrets=(GeneratedSecret(ADMIN_PASSWORD),),
        admin_user=app.admin_user,
        admin_password=ADMIN_PASSWORD,
        # One major per deploy (components/apps/nextcloud/upgrades.py): the pull waits for the check,
        # and the major is recorded once the app container is healthy.
        upgrade_guard=UpgradeGuard(output=DEPLOYED_MAJORS_OUTPUT, value=pin.major, gates="app", check=check),
        url=site.public_url,
        # On the cron service's image, mounts and environment: the same code and config as the app.
        backup_quiesce=BackupQuiesce(
            service="cron", user=f"{WWW_DATA_UID}:{WWW_DATA_UID}", on=MAINTENANCE_ON, off=MAINTENANCE_OFF
        ),
    )
