"""A container app as plain data: one service, routed by host name, its volumes and secret files.

Secrets are files, never variables: ``secrets: {API_TOKEN: ...}`` becomes the file
``/run/secrets/api_token`` (mode 0400) and ``API_TOKEN_FILE=/run/secrets/api_token`` in the
environment, the ``*_FILE`` convention of the official images (docker-library's
``file_env``). Who owns the file, so that the process can read it:

- ``user: <uid>`` or ``<uid>:<uid>``: that uid (the engine gives an upload with an owner to the
  container's user, components/core/container.py ``FileUpload.args``);
- no ``user``: root (0:0). The process reads it when the image runs as root, or when its
  entrypoint reads ``*_FILE`` as root before dropping privileges (the docker-library pattern,
  DESIGN.md §3). An image that runs as another user needs ``user`` set to its uid;
- a user name: refused with secrets (settings), as its uid is known only inside the image.

Each case is run on Docker 28.5 by tests/test_kind_container_live.py.

No backing services and no internal network: the container is on the edge network only, where
the proxy reaches it at ``app-<name>:<port>``; nothing is published on the host.
"""

from __future__ import annotations

import math

from components.apps.container.settings import ContainerApp, ContainerHealthcheck, config_secret_key
from components.apps.spec import AppSpec, ConfigSecret, SecretFile, Service, Site, Volume, VolumeMount, edge_alias
from components.core.container import Healthcheck, Replacement
from components.core.durations import SECOND, nanoseconds
from components.edge.routes import ProxyRoute

ROLE = "app"
MIN_WAIT_SECONDS = 120
"""The provider's wait for healthy, at least: the App component's default."""


def secret_path(name: str) -> str:
    return f"/run/secrets/{name.lower()}"


def healthcheck(settings: ContainerHealthcheck, port: int) -> Healthcheck:
    """``path``: curl inside the image, as components/core/container.py ``http_healthcheck`` does on port 80."""
    if settings.command is not None:
        test: tuple[str, ...] = tuple(settings.command)
    else:
        test = (
            "CMD",
            "curl",
            "--fail",
            "--silent",
            "--show-error",
            "--output",
            "/dev/null",
            f"http://localhost:{port}{settings.path}",
        )
    return Healthcheck(
        test=test,
        interval=settings.interval,
        timeout=settings.timeout,
        retries=settings.retries,
        start_period=settings.start_period,
    )


def wait_timeout_seconds(settings: ContainerHealthcheck) -> int:
    """Long enough for Docker to decide: the start period, then ``retries`` checks each up to interval + timeout.

    A shorter wait would fail a deploy whose container is still allowed to become healthy.
    """
    decided = nanoseconds(settings.start_period) + settings.retries * (
        nanoseconds(settings.interval) + nanoseconds(settings.timeout)
    )
    return max(MIN_WAIT_SECONDS, math.ceil(decided / SECOND))


def replacement(settings: ContainerApp) -> Replacement:
    """Create-first only without named volumes: the stack cannot know whether an unknown image may run twice on
    the same data (an SQLite file, an embedded database's lock, a migration on start), so an app with volumes
    keeps the clean stop-then-start. Without volumes two copies share nothing the stack gives them; what an
    image keeps on its own anonymous volumes is per container either way (a replacement gets fresh ones)."""
    return "stop-first" if settings.volumes else "create-first"


def spec(app_name: str, settings: ContainerApp, site: Site) -> AppSpec:
    """Pure: the same settings give equal specs; maps come out sorted."""
    owner = settings.uid if settings.uid is not None else 0
    secret_files = tuple(
        SecretFile(
            path=secret_path(name),
            source=ConfigSecret(value=value, key=config_secret_key(app_name, name)),
            owner=owner,
        )
        for name, value in sorted(settings.secrets.items())
    )
    env = dict(sorted({**settings.env, **{f"{name}_FILE": secret_path(name) for name in settings.secrets}}.items()))
    service = Service(
        role=ROLE,
        image=settings.image_pin,
        memory=settings.memory.app,
        memory_reservation=settings.reserved.app,
        healthcheck=healthcheck(settings.healthcheck, settings.port),
        edge="routed",
        backend=False,
        env=env,
        files=secret_files,
        mounts=tuple(VolumeMount(volume=name, path=path) for name, path in sorted(settings.volumes.items())),
        command=tuple(settings.command) if settings.command is not None else None,
        entrypoint=tuple(settings.entrypoint) if settings.entrypoint is not None else None,
        user=settings.user,
        wait_timeout_seconds=wait_timeout_seconds(settings.healthcheck),
        # Any image: a VOLUME path left out of `volumes` holds data on an anonymous volume; keep it
        # when the container is replaced, so it can be recovered (docs/apps.md, the container kind).
        keep_anonymous_volumes=True,
        replacement=replacement(settings),
    )
    route = ProxyRoute(
        app=app_name,
        kind="container",
        server_name=site.hostname,
        upstream_host=edge_alias(app_name),
        upstream_port=settings.port,
        max_body_bytes=settings.body_limit,
        read_timeout_seconds=settings.proxy_read_timeout,
        request_buffering=True,
        dav_redirects=False,
        websocket=settings.websocket,
    )
    return AppSpec(
        kind="container",
        services=(service,),
        route=route,
        url=site.public_url,
        volumes=tuple(
            Volume(role=name, holds=f"what the container keeps at {path}")
            for name, path in sorted(settings.volumes.items())
        ),
    )
