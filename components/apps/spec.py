"""An app as plain data: what a kind's ``spec()`` returns and the generic App component registers.

Every kind is a pure function ``spec(app_name, settings, site) -> AppSpec``: no Pulumi
resource, no output, no I/O, so a spec is tested by comparing data. The App component
(components/apps/app.py) turns roles into resources and names:

- container ``<prefix>-<app>-<role>``, resource ``<app>-container`` for the service of role
  ``app`` and ``<app>-<role>`` for the others (the names the stack has always used);
- volume ``<prefix>-<app>-<role>``, resource ``<app>-<role>``; retained, protected with the stack;
- backing service ``<prefix>-<app>-<role>``, resource ``<app>-<role>``, on the app's internal
  network ``<prefix>-<app>-backend`` (made only when the app has backing services);
- generated secret: resource ``<app>-<role>`` (pulumi-random, protected with the volumes);
- image: one ``RemoteImage`` per distinct ``ImagePin`` of the app, resource ``<app>-image`` or
  ``<app>-<image_name>-image``, named by the first service (in spec order) that runs it:
  its ``image_name``, or nothing for the role ``app`` and the role for the others.

Contract between the kinds and the App component: change it only additively, and say so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from pydantic import SecretStr

from components.core.container import Healthcheck, Replacement
from components.core.images import ImagePin
from components.edge.routes import ProxyRoute
from components.services.spec import Backing, Connection, ServiceSecret

__all__ = ["Backing", "Connection", "ServiceSecret"]  # re-exported: part of a kind's contract

EDGE_PORT = 80
"""The port the PHP apps' images listen on inside the edge network; only the proxy publishes ports."""


def edge_alias(app_name: str) -> str:
    """The routed container's DNS name on the edge network, which the proxy resolves per request:
    what a kind writes into ``ProxyRoute.upstream_host`` (the App component gives its ``routed``
    service exactly that alias)."""
    return f"app-{app_name}"


@dataclass(frozen=True)
class Site:
    """What the stack derives once for an app from its host name and the proxy's settings."""

    app: str
    """App name from config (``blog``)."""
    hostname: str
    """Public host name (``blog.example.com``)."""
    public_url: str
    """What users type: ``https://blog.example.com`` or ``http://blog.localhost:8080``."""
    scheme: Literal["http", "https"]
    public_host: str
    """The host with the port when it is not the scheme's default (``blog.localhost:8080``)."""
    trusted_proxies: str
    """The edge network's subnet: requests from it carry trustworthy X-Forwarded-* headers."""


# --- secrets: where a secret file's value comes from ---------------------------------------


@dataclass(frozen=True)
class AppSecret:
    """A password generated for this app (``GeneratedSecret`` of the same role)."""

    role: str


@dataclass(frozen=True)
class ConfigSecret:
    """A value the operator set with ``pulumi config set --secret``."""

    value: SecretStr
    key: str
    """The config key it came from (``apps.chat.secrets.SMTP_PASSWORD``), for messages."""


SecretSource = AppSecret | ServiceSecret | ConfigSecret


@dataclass(frozen=True)
class GeneratedSecret:
    role: str
    """``admin-password`` -> resource ``<app>-admin-password``."""
    protect: bool = True
    """Protected with the volumes when the stack protects state: data on them depends on it."""


# --- files and mounts ----------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    """A file written into the container before it starts (root-owned unless ``owner`` says otherwise)."""

    path: str
    content: str = ""
    content_base64: str | None = None
    """Binary content, base64: then ``content`` is ignored."""
    owner: int = 0
    group: int = 0
    mode: str = "0444"


@dataclass(frozen=True)
class SecretFile:
    """A secret as a file readable only by ``owner`` (mode 0400), never as a variable."""

    path: str
    source: SecretSource
    owner: int
    render: Callable[[str], str] | None = None
    """Wraps the secret's value into the file's content (e.g. a config file holding it); pure."""


@dataclass(frozen=True)
class Volume:
    role: str
    """``html``, ``data`` -> volume ``<prefix>-<app>-<role>``."""
    holds: str
    """What is on it, in a few words (docs, backups)."""
    backup: bool = True
    """In every backup of the stack (components/backups/derive.py). Added after the contract's first version."""
    no_backup_reason: str | None = None
    """Why not, required when ``backup`` is False (e.g. a cache the app rebuilds): a volume is left out
    of the backups only on purpose, and the reason is part of the plan's documentation."""


@dataclass(frozen=True)
class VolumeMount:
    volume: str
    """The role of one of the app's volumes."""
    path: str
    read_only: bool = False


EdgeAttachment = Literal["none", "outbound", "routed"]
"""On the edge network: not at all; for outbound traffic only; or as the proxy's upstream,
with the app's alias (``edge_alias``). At most one service of an app is ``routed``."""


@dataclass(frozen=True)
class Service:
    """One long-lived container of the app."""

    role: str
    image: ImagePin
    memory: int
    """Limit, bytes."""
    healthcheck: Healthcheck
    memory_reservation: int | None = None
    edge: EdgeAttachment = "none"
    backend: bool = True
    """On the app's internal network (when it has one)."""
    env: Mapping[str, str] = field(default_factory=dict)
    files: tuple[File | SecretFile, ...] = ()
    mounts: tuple[VolumeMount, ...] = ()
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    user: str | None = None
    wait_timeout_seconds: int = 120
    stop_grace_seconds: int = 30
    keep_anonymous_volumes: bool = False
    """Leave the image's anonymous volumes (its ``VOLUME`` paths not mounted from a named volume) on the
    host when the container is deleted or replaced, instead of the provider's default of removing them:
    for images the stack does not know (the container kind), whose unlisted data may sit there."""
    depends_on: tuple[str, ...] = ()
    """Roles of this app's services or backing services that must be up (healthy) first."""
    image_name: str | None = None
    """Names the image's resource when this service is the first to run its pin (see the module
    docstring): ``cli`` -> ``<app>-cli-image``. Added after the contract's first version."""
    replacement: Replacement = "stop-first"
    """How a change that needs a new container is rolled out (components/core/container.py ``Replacement``):
    ``create-first`` (the new one healthy beside the old, then the old drains and goes; the container's
    name carries a generation suffix) only for services that may run twice at once on the same volumes;
    ``stop-first`` (fixed name, a gap) for everything else. Each kind says which, and why. Added for issue 14."""


# --- the app ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpgradeGuard:
    """A version the stack records after a healthy deploy and checks before the next one pulls.

    ``check(previous_record)`` raises ``pulumi.RunError`` to refuse (e.g. Nextcloud skipping a
    major); the pull of ``gates``' image waits for it. The stack output ``output`` maps app names
    to ``value``, recorded once the ``gates`` service is healthy.
    """

    output: str
    value: int
    gates: str
    check: Callable[[object], None]


@dataclass(frozen=True)
class BackupQuiesce:
    """What makes an app's files and database consistent with each other while its backup is taken
    (Nextcloud: ``occ maintenance:mode --on``, then ``--off`` after the snapshot, also on failure).

    Run by a helper container on the image of the app's service ``service``, with that service's
    volume mounts, environment and backing-service password files (its config reads them), as
    ``user``; on the app's internal network when the service is. Added after the contract's first
    version; components/backups/derive.py turns it into the plan's ``Quiesce``.
    """

    service: str
    """The role of the app's service whose image, mounts and environment the helper uses."""
    user: str
    """``uid:gid`` the commands run as (occ refuses any user but the owner of config.php)."""
    on: tuple[str, ...]
    off: tuple[str, ...]


@dataclass(frozen=True)
class AppSpec:
    kind: str
    services: tuple[Service, ...]
    route: ProxyRoute
    url: str
    """The public address the stack exports for this app (``Site.public_url``)."""
    backing: tuple[Backing, ...] = ()
    volumes: tuple[Volume, ...] = ()
    secrets: tuple[GeneratedSecret, ...] = ()
    admin_user: str | None = None
    admin_password: str | None = None
    """The role of the generated secret that is the admin's password, exported as a secret."""
    upgrade_guard: UpgradeGuard | None = None
    backup_quiesce: BackupQuiesce | None = None
    """Steps around the app's backup; None: its dumps and volumes are taken while it runs."""
