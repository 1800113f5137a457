"""Rocket.Chat as plain data: one Node container behind the edge, its MongoDB as a backing service.

What the container gets, and where each fact comes from (Rocket.Chat's apps/meteor, and
RocketChat/Docker.Official.Image 8.5/Dockerfile; both read 2026-08):

- ``templates/entrypoint.sh`` as entrypoint, ``node main.js`` (the image's CMD) as command: it
  builds ``MONGO_URL`` and exports ``ADMIN_PASS`` from their secret files, then execs the image's
  ``docker-entrypoint.sh``. Setting an entrypoint drops the image's CMD, so the command is repeated.
  The image's ``WORKDIR /app/bundle`` and ``USER rocketchat`` (uid 999) stay.
- ``ROOT_URL``: Meteor's public address; also the initial ``Site_Url`` (server/settings/general.ts).
  ``OVERWRITE_SETTING_Site_Url`` keeps Site_Url on the stack's public URL on every start:
  ``OVERWRITE_SETTING_<id>`` values replace stored settings at each start
  (app/settings/server/functions/overwriteSetting.ts, SettingsRegistry.ts ``add``).
- ``ADMIN_USERNAME``, ``ADMIN_EMAIL`` (and ``ADMIN_PASS``): the first administrator, created only
  while no user has the admin role (server/startup/initialData.ts ``insertAdminUserFromEnv``).
  ``ADMIN_EMAIL_VERIFIED`` stays unset: e-mail two-factor codes go only to verified addresses
  (app/2fa/server/code/EmailCheck.ts ``isEnabled``), and the stack configures no SMTP to send one.
- ``OVERWRITE_SETTING_Show_Setup_Wizard=completed``: the wizard's states are pending, in_progress,
  completed (general.ts); with an admin present Rocket.Chat would move it to in_progress and show
  it to the admin, never finished by anyone.
- ``Accounts_RegistrationForm=Disabled``: a plain ``<setting id>`` variable sets a setting's value
  only when it is first stored (SettingsRegistry.ts, ``overrideSetting`` for a setting not yet
  stored), so registration starts closed and the admin may open it later.
- ``OVERWRITE_SETTING_FileUpload_MaxFileSize``: the upload limit, the same number as the proxy's
  body limit (with the multipart envelope), so the two cannot disagree.
- ``HTTP_FORWARDED_COUNT=1``: Meteor takes the client's address from the last X-Forwarded-For
  entry, the one the edge appended (meteor/meteor packages/ddp-server/livedata_server.js
  ``_clientAddress``), so its per-client rate limits see clients, not the proxy, and a client
  cannot choose its own address.
- Uploads live in MongoDB (``FileUpload_Storage_Type`` defaults to GridFS); the image's
  ``VOLUME /app/uploads`` still gets a retained named volume, so switching to FileSystem storage
  there never writes into an anonymous volume that a replacement would drop.
"""

from __future__ import annotations

from typing import Final

from components.apps.rocketchat.settings import RocketChatApp
from components.apps.spec import (
    AppSecret,
    AppSpec,
    Backing,
    File,
    GeneratedSecret,
    SecretFile,
    Service,
    ServiceSecret,
    Site,
    Volume,
    VolumeMount,
    edge_alias,
)
from components.core import images
from components.core.container import Healthcheck
from components.core.templating import templates_of
from components.edge.routes import UPLOAD_ENVELOPE_BYTES, ProxyRoute
from components.services import mongodb

KIND: Final = "rocketchat"
PORT: Final = 3000
"""The image's ``ENV PORT=3000``; set again so the healthcheck and the route use the same number."""
SERVICE_UID: Final = 999
"""``rocketchat``, made by ``useradd -r`` in the image on node:22-bookworm-slim: Debian 12's shadow
4.13 gives the first system user 999 (checked with ``useradd --prefix`` on a bookworm passwd with node
at 1000). The engine gives uploads that have an owner to the image's user anyway (FileUpload.args)."""
MONGO_ROLE: Final = "mongo"
DATABASE: Final = "rocketchat"
DATABASE_USER: Final = "rocketchat"
ADMIN_PASSWORD: Final = "admin-password"
UPLOADS: Final = "uploads"
ENTRYPOINT: Final = "/usr/local/bin/selfhost-rocketchat-entrypoint"
HEALTHCHECK_SCRIPT: Final = "/usr/local/share/selfhost/rocketchat-healthcheck.js"
MONGO_PASSWORD_FILE: Final = "/run/secrets/mongo_password"
ADMIN_PASSWORD_FILE: Final = "/run/secrets/admin_password"
IMAGE_COMMAND: Final = ("node", "main.js")
READ_TIMEOUT_SECONDS: Final = 3600
"""Long, as for Nextcloud: an idle websocket lives between Meteor's heartbeats and a large upload
is stored into GridFS before the answer."""
_TEMPLATES = templates_of(__file__)


def entrypoint_script(
    backing: Backing, mongo_password_file: str = MONGO_PASSWORD_FILE, admin_password_file: str = ADMIN_PASSWORD_FILE
) -> str:
    """``templates/entrypoint.sh`` with the MongoDB connection facts (no secret: paths of secret files)."""
    link = mongodb.connection(backing)
    return _TEMPLATES.get_template("entrypoint.sh").render(
        mongo_user=link.user or DATABASE_USER,
        mongo_host=link.host,
        mongo_port=str(link.port),
        mongo_database=link.database or DATABASE,
        mongo_options=mongodb.url_options(backing),
        mongo_password_file=mongo_password_file,
        admin_password_file=admin_password_file,
    )


def healthcheck_script() -> str:
    return _TEMPLATES.get_template("healthcheck.js").render()


def route(app_name: str, settings: RocketChatApp) -> ProxyRoute:
    return ProxyRoute(
        app=app_name,
        kind=KIND,
        server_name=settings.hostname,
        upstream_host=edge_alias(app_name),
        upstream_port=PORT,
        max_body_bytes=settings.upload_limit + UPLOAD_ENVELOPE_BYTES,
        read_timeout_seconds=READ_TIMEOUT_SECONDS,
        request_buffering=True,
        dav_redirects=False,
        login_paths=("/api/v1/login",),
        app_sets_security_headers=False,
        websocket=True,
    )


def mongo_backing(settings: RocketChatApp) -> Backing:
    return Backing(
        role=MONGO_ROLE,
        kind="mongodb",
        memory=settings.memory.mongo,
        memory_reservation=settings.reserved.mongo,
        database=DATABASE,
        user=DATABASE_USER,
        options={"replica_set": mongodb.DEFAULT_REPLICA_SET},
    )


def spec(app_name: str, settings: RocketChatApp, site: Site) -> AppSpec:
    backing = mongo_backing(settings)
    env = {
        "PORT": str(PORT),
        "ROOT_URL": site.public_url,
        "HTTP_FORWARDED_COUNT": "1",
        "ADMIN_USERNAME": settings.admin_user,
        "ADMIN_EMAIL": settings.effective_admin_email,
        "Accounts_RegistrationForm": "Disabled",
        "OVERWRITE_SETTING_Show_Setup_Wizard": "completed",
        "OVERWRITE_SETTING_Site_Url": site.public_url,
        "OVERWRITE_SETTING_FileUpload_MaxFileSize": str(settings.upload_limit),
    }
    app = Service(
        role="app",
        image=images.ROCKETCHAT,
        memory=settings.memory.app,
        memory_reservation=settings.reserved.app,
        healthcheck=Healthcheck(
            test=("CMD", "node", HEALTHCHECK_SCRIPT),
            # Its first start creates the database's indexes and runs migrations.
            start_period="5m",
        ),
        edge="routed",
        env=env,
        files=(
            File(ENTRYPOINT, entrypoint_script(backing), mode="0555"),
            File(HEALTHCHECK_SCRIPT, healthcheck_script()),
            SecretFile(MONGO_PASSWORD_FILE, ServiceSecret(MONGO_ROLE), owner=SERVICE_UID),
            SecretFile(ADMIN_PASSWORD_FILE, AppSecret(ADMIN_PASSWORD), owner=SERVICE_UID),
        ),
        mounts=(VolumeMount(UPLOADS, "/app/uploads"),),
        entrypoint=(ENTRYPOINT,),
        command=IMAGE_COMMAND,
        wait_timeout_seconds=600,
        stop_grace_seconds=30,
        # Rocket.Chat migrates its MongoDB database on start (see the healthcheck's start period): a new
        # version must not migrate while the old one still writes, and the old one cannot read the result.
        replacement="stop-first",
        depends_on=(MONGO_ROLE,),
    )
    return AppSpec(
        kind=KIND,
        services=(app,),
        route=route(app_name, settings),
        url=site.public_url,
        backing=(backing,),
        volumes=(Volume(UPLOADS, "uploads under FileSystem storage (the default, GridFS, keeps them in MongoDB)"),),
        secrets=(GeneratedSecret(ADMIN_PASSWORD),),
        admin_user=settings.admin_user,
        admin_password=ADMIN_PASSWORD,
    )
