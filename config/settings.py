"""The stack's settings: one typed model, validated before any resource is registered.

Config keys are camelCase in the stack files (``selfhost:httpPort``, ``adminUser``) and
snake_case here. Every object rejects unknown keys, so a typo is an error, not a no-op.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import AfterValidator, ConfigDict, Field, SecretStr, create_model, model_validator

from components.apps.kind import Kind, KindSettings
from components.apps.registry import KINDS
from components.apps.spec import Site
from components.backups import memory as backup_memory
from components.backups.derive import app_backup
from components.backups.settings import BackupsSettings
from components.core.fields import APP_NAME, ConfigModel, MemorySize, Port, email_problem
from components.core.urls import port_suffix, public_endpoint
from config.hetzner import (
    HetznerSettings,
    allowed_architectures,
    architecture_problem,
    capacity_problem,
    required_memory,
)
from config.memory import (
    PROXY_MEMORY_LIMIT,
    PROXY_MEMORY_RESERVATION,
    MemoryBudget,
    app_budgets,
    reservation_problem,
)
from config.pem import tls_pair_problem
from config.swarm import LOCAL_NODE, SwarmSettings, placed_apps, swarm_problem

_DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "npipe://")
SSH_PORT = 22
"""sshd on the Hetzner server; the firewall opens it to hetzner.adminCidrs only."""
ACME_HTTP_PORT = 80
"""Let's Encrypt's HTTP-01 check always connects to port 80 (RFC 8555, section 8.3)."""
NON_PUBLIC_SUFFIXES = {
    "localhost": "RFC 6761",
    "test": "RFC 6761",
    "invalid": "RFC 6761",
    "example": "RFC 6761",
    "local": "RFC 6762, multicast DNS",
    "internal": "reserved by ICANN for private use, 2024",
    "home.arpa": "RFC 8375",
}
"""Names no public CA can validate. Let's Encrypt issues only for names under an ICANN top-level
domain (boulder, policy/pa.go ``validNonWildcardDomain``); these are the reserved ones a stack meets."""


def non_public_suffix(hostname: str) -> str | None:
    """The reserved suffix ``hostname`` ends in (``localhost`` for ``blog.localhost``), or None."""
    labels = hostname.split(".")
    if labels[-1].isdigit():
        return labels[-1]
    return next((suffix for suffix in NON_PUBLIC_SUFFIXES if hostname.endswith(f".{suffix}")), None)


def _check_app_name(value: str) -> str:
    if not APP_NAME.fullmatch(value):
        raise ValueError(
            f"app name {value!r} is not allowed: use 1-20 lower-case letters and digits, "
            "starting with a letter (it becomes part of container, volume and network names)"
        )
    return value


def _check_optional_email(value: str) -> str:
    problem = email_problem(value) if value else None
    if problem:
        raise ValueError(problem)
    return value


_REFRESH_MARK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _check_refresh_mark(value: str) -> str:
    if value and not _REFRESH_MARK.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a refresh mark: leave it empty or use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, e.g. 2026-12-01 (any new value re-resolves every image tag)"
        )
    return value


_DOCKER_HOST = re.compile("(?:" + "|".join(map(re.escape, _DOCKER_HOST_SCHEMES)) + r")[^\s\x00-\x1f\x7f]+")
"""One of the schemes above, then no space or control character: the schemes are written once."""


def _check_docker_host(value: str) -> str:
    if value and not _DOCKER_HOST.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Docker endpoint: leave it empty or write a URL starting with "
            f"{', '.join(_DOCKER_HOST_SCHEMES)} without spaces or line breaks (e.g. unix:///var/run/docker.sock)"
        )
    return value


AppName = Annotated[str, AfterValidator(_check_app_name)]


def app_settings_union(kinds: Mapping[str, Kind]) -> Any:
    """One app's settings: the union of every kind's model, told apart by ``kind``."""
    models = tuple(kind.settings for kind in kinds.values())
    if len(models) == 1:
        return models[0]
    return Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007 (a union built at run time)


if TYPE_CHECKING:
    AppSettings = KindSettings
else:
    AppSettings = app_settings_union(KINDS)
APP_KINDS = tuple(KINDS)

TlsMode = Literal["off", "letsencrypt", "provided"]


def _check_edge_subnet(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a CIDR network: {error}") from None
    if not isinstance(network, ipaddress.IPv4Network) or not network.is_private:
        raise ValueError(f"{value!r} must be a private IPv4 network, e.g. 172.30.0.0/24")
    if not 16 <= network.prefixlen <= 28:
        raise ValueError(f"{value!r} must have a prefix length from /16 to /28")
    return value


BACKUP_APP_NAME = "backup"
"""The backups' own Docker names start with ``<prefix>-backup`` (components/backups/derive.py)."""
APPS_DESCRIPTION = (
    "the apps: a map of app name to {kind, hostname, ...options}; the kinds and their options are in the "
    "README's config reference"
)


class StackSettings(ConfigModel):
    """Everything a stack can set under the ``selfhost:`` namespace."""

    # Top-level values come from the CLI as strings ("8080", "true"): lax here, strict below.
    model_config = ConfigDict(strict=False)

    apps: dict[AppName, AppSettings] = Field(min_length=1, description=APPS_DESCRIPTION)
    host: Literal["local", "hetzner", "swarm", "local-swarm"] = Field(
        default="local",
        description=(
            "where the containers run: local (the Docker engine here), hetzner (a Hetzner Cloud VPS), swarm (a "
            "Docker Swarm of Hetzner servers, see docs/swarm.md) or local-swarm (the local engine as a single-node "
            "swarm)"
        ),
    )
    docker_host: Annotated[str, AfterValidator(_check_docker_host)] = Field(
        default="",
        description=(
            "Docker endpoint for host=local, e.g. unix:///run/user/1000/docker.sock; empty means the default "
            "socket (unix:///var/run/docker.sock), never DOCKER_HOST or DOCKER_CONTEXT"
        ),
    )
    http_port: Port = Field(default=8080, description="host port where the proxy serves HTTP")
    https_port: Port = Field(default=8443, description="host port where the proxy serves HTTPS (when tls is not off)")
    edge_subnet: Annotated[str, AfterValidator(_check_edge_subnet)] = Field(
        default="172.30.0.0/24",
        description="fixed private subnet of the proxy-to-apps network; apps trust X-Forwarded-* from it",
    )
    publish_ipv6: bool = Field(
        default=True,
        description=(
            "publish the proxy's ports on the host's IPv6 addresses (::) too; false on an engine with "
            "userland-proxy: false or a kernel without IPv6, which cannot bind them (see docs/operations.md)"
        ),
    )
    protect: bool = Field(
        default=False, description="protect stateful resources (volumes) from deletion; set true in production"
    )
    tls: TlsMode = Field(default="off", description="TLS at the proxy: off, letsencrypt or provided")
    acme_email: Annotated[str, AfterValidator(_check_optional_email)] = Field(
        default="", description="contact e-mail for Let's Encrypt (tls=letsencrypt)"
    )
    acme_staging: bool = Field(
        default=False, description="use Let's Encrypt's staging directory (for trying tls=letsencrypt)"
    )
    tls_certificate: SecretStr | None = Field(
        default=None, description="PEM certificate chain for tls=provided; set it with `pulumi config set --secret`"
    )
    tls_key: SecretStr | None = Field(
        default=None, description="PEM private key for tls=provided; set it with `pulumi config set --secret`"
    )
    proxy_memory: MemorySize = Field(
        default=PROXY_MEMORY_LIMIT, description="memory limit of the nginx proxy container, e.g. 128Mi"
    )
    proxy_memory_reservation: MemorySize = Field(
        default=PROXY_MEMORY_RESERVATION,
        description=(
            "memory the nginx proxy needs to run (Docker's memory reservation), at most proxyMemory; "
            "see docs/hetzner.md"
        ),
    )
    image_refresh: Annotated[str, AfterValidator(_check_refresh_mark)] = Field(
        default="",
        description=(
            "any new value (e.g. a date: 2026-12-01) makes the next deploy resolve every image tag to the "
            "registry's current digest (security rebuilds); until then the stack keeps the digests it recorded; "
            "see docs/apps.md"
        ),
    )
    hetzner: HetznerSettings | None = Field(
        default=None,
        description=(
            "the Hetzner Cloud server for host=hetzner: {sshPublicKeys, adminCidrs, serverType, location, ...}; "
            "see docs/hetzner.md; unset for host=local (an error there)"
        ),
    )
    swarm: SwarmSettings | None = Field(
        default=None, description="the swarm's Hetzner servers and where the apps run (host=swarm only)"
    )
    backups: BackupsSettings | None = Field(
        default=None,
        description=(
            "daily encrypted restic backups of every app's volumes and databases: {target, schedule, retention}; "
            "unset: none (see docs/backups.md)"
        ),
    )

    @model_validator(mode="after")
    def _backups_on_one_host(self) -> StackSettings:
        """The scheduler mounts every app's volumes, which on a swarm sit on different nodes."""
        if self.backups is not None and self.host in ("swarm", "local-swarm"):
            raise ValueError(
                f"backups: not available with host={self.host} yet: the backup scheduler mounts every app's "
                "volumes, which a swarm spreads over its nodes; remove the backups key from this stack "
                "(`pulumi config rm backups`) and back up each node as docs/backups.md describes for one host"
            )
        return self

    @model_validator(mode="after")
    def _local_repository_off_the_root_disk(self) -> StackSettings:
        """On Hetzner, only volumes sit on the attached Hetzner Volume; a host directory is on the server's
        own disk, which goes with the server (and a rebuild needs the repository)."""
        target = self.backups.target if self.backups is not None else None
        if self.host == "hetzner" and target is not None and target.kind == "local" and target.host_path:
            raise ValueError(
                f"backups.target.hostPath: {target.host_path!r} would be on the Hetzner server's own disk, lost "
                "with the server; use backups.target.volume (kept on the Hetzner Volume) or a remote target "
                "(s3, sftp, rest)"
            )
        return self

    @model_validator(mode="after")
    def _backup_names_free(self) -> StackSettings:
        if self.backups is not None and BACKUP_APP_NAME in self.apps:
            raise ValueError(
                f"apps.{BACKUP_APP_NAME}: with backups on, <project>-<stack>-{BACKUP_APP_NAME}-* names the backup "
                "scheduler's container and volumes; give the app another name"
            )
        return self

    @model_validator(mode="after")
    def _hostnames_unique(self) -> StackSettings:
        owners: dict[str, str] = {}
        for name, app in sorted(self.apps.items()):
            if app.hostname in owners:
                raise ValueError(
                    f"apps.{name}.hostname: {app.hostname!r} is already the host name of app "
                    f"{owners[app.hostname]!r}; every app needs its own host name"
                )
            owners[app.hostname] = name
        return self

    @model_validator(mode="after")
    def _tls_inputs(self) -> StackSettings:
        if self.tls == "letsencrypt" and not self.acme_email:
            raise ValueError(
                "acmeEmail: tls=letsencrypt needs a contact e-mail address; "
                "set it with `pulumi config set acmeEmail you@example.com`"
            )
        if self.tls == "provided" and (self.tls_certificate is None or self.tls_key is None):
            raise ValueError(
                "tlsCertificate, tlsKey: tls=provided needs both; set them with "
                '`pulumi config set --secret tlsCertificate -- "$(cat fullchain.pem)"` and likewise tlsKey'
            )
        if self.tls != "provided" and (self.tls_certificate is not None or self.tls_key is not None):
            # A certificate set while TLS stays off (or on Let's Encrypt) would be silently unused.
            raise ValueError(
                f"tlsCertificate, tlsKey: they are used only with tls=provided, but tls is {self.tls!r}; "
                "set `pulumi config set tls provided` or remove them with `pulumi config rm`"
            )
        if self.http_port == self.https_port:
            raise ValueError(f"httpsPort: {self.https_port} is also httpPort; the two must differ")
        for name, app in sorted(self.apps.items()) if self.tls == "letsencrypt" else ():
            suffix = non_public_suffix(app.hostname)
            if suffix:
                why = NON_PUBLIC_SUFFIXES.get(suffix, "no top-level domain is all digits")
                raise ValueError(
                    f"apps.{name}.hostname: {app.hostname!r} is not a public DNS name (.{suffix}: {why}), and "
                    "Let's Encrypt issues certificates only for public ones; with tls=letsencrypt use a name "
                    "under a domain you own, or use tls=provided (e.g. a self-signed certificate) or tls=off"
                )
        if self.tls == "letsencrypt" and self.http_port != ACME_HTTP_PORT:
            raise ValueError(
                f"httpPort: tls=letsencrypt needs the proxy on port {ACME_HTTP_PORT}, but httpPort is "
                f"{self.http_port}: Let's Encrypt's HTTP-01 check always connects to port 80; "
                "`pulumi config set httpPort 80`, or use tls=provided"
            )
        if self.tls == "provided" and self.tls_certificate is not None and self.tls_key is not None:
            problem = tls_pair_problem(
                self.tls_certificate.get_secret_value(),
                self.tls_key.get_secret_value(),
                [app.hostname for _, app in sorted(self.apps.items())],
            )
            if problem:
                raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _ports_clear_of_ssh(self) -> StackSettings:
        if self.host not in ("hetzner", "swarm"):
            return self
        for key, port in (("httpPort", self.http_port), ("httpsPort", self.https_port)):
            if port == SSH_PORT:
                raise ValueError(
                    f"{key}: {port} is SSH's port on the Hetzner server; the firewall would open it to the "
                    "whole internet for the proxy, past hetzner.adminCidrs; use 80 and 443"
                )
        return self

    @model_validator(mode="after")
    def _reservations_within_limits(self) -> StackSettings:
        problem = reservation_problem(self.memory_budgets())
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _hetzner_host(self) -> StackSettings:
        # A hetzner block with host=local is an error, not ignored: it would mean someone
        # believes they deploy to a server while the stack deploys here (or the reverse).
        if self.host != "hetzner" and self.hetzner is not None:
            raise ValueError(
                "hetzner: is only used with host=hetzner; set `pulumi config set host hetzner`, "
                "or remove it with `pulumi config rm hetzner`"
            )
        if self.host == "hetzner" and self.hetzner is None:
            raise ValueError(
                "hetzner: host=hetzner needs the server's settings; add to Pulumi.<stack>.yaml "
                "`selfhost:hetzner: {sshPublicKeys: ['ssh-ed25519 AAAA... you@laptop'], adminCidrs: ['<your IP>/32']}` "
                "(see docs/hetzner.md)"
            )
        if self.hetzner is not None:
            needs = self.architecture_needs()
            budgets = self.memory_budgets()
            problem = architecture_problem(
                self.hetzner.server, needs, required_memory(budgets, self.hetzner.memory_reserve)
            ) or capacity_problem(
                self.hetzner.server, self.hetzner.memory_reserve, budgets, allowed_architectures(needs)
            )
            if problem:
                raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _swarm_host(self) -> StackSettings:
        if self.host != "swarm" and self.swarm is not None:
            raise ValueError(
                "swarm: is only used with host=swarm; set `pulumi config set host swarm`, "
                "or remove it with `pulumi config rm swarm`"
            )
        if self.host == "swarm" and self.swarm is None:
            raise ValueError(
                "swarm: host=swarm needs the swarm's servers; add to Pulumi.<stack>.yaml `selfhost:swarm: "
                "{sshPublicKeys: [...], adminCidrs: [...], nodes: {node1: {role: manager}}}` (see docs/swarm.md "
                "and Pulumi.swarm.yaml)"
            )
        if self.swarm is not None and self.tls == "letsencrypt" and len(self.swarm.edge_nodes) > 1:
            raise ValueError(
                f"swarm.nodes: {', '.join(self.swarm.edge_nodes)} are all edge nodes, but with tls=letsencrypt the "
                "proxy keeps its ACME account and certificates on one node's volume; set edge: true on one node, "
                "or use tls=provided (the certificate as a Swarm secret on every edge node)"
            )
        if self.swarm is not None:
            problem = swarm_problem(self.swarm, sorted(self.apps), self.memory_budgets(), self.architecture_needs())
            if problem:
                raise ValueError(problem)
        return self

    def swarm_placement(self) -> dict[str, str]:
        """App -> the swarm node it runs on (host=swarm), or every app on the one local node (local-swarm)."""
        if self.swarm is None:
            return dict.fromkeys(sorted(self.apps), LOCAL_NODE)
        return placed_apps(self.swarm, sorted(self.apps), self.memory_budgets())

    def architecture_needs(self) -> dict[str, frozenset[str]]:
        """App name -> the CPU architectures its kind's images are built for, for kinds that are not multi-arch."""
        needs: dict[str, frozenset[str]] = {}
        for name, app in sorted(self.apps.items()):
            kind = KINDS.get(app.kind)
            if kind is not None and kind.architectures is not None:
                needs[name] = kind.architectures
        return needs

    @property
    def proxy_reserved(self) -> int:
        """The proxy's reservation: unset, never above ``proxyMemory``."""
        if "proxy_memory_reservation" in self.model_fields_set:
            return self.proxy_memory_reservation
        return min(self.proxy_memory_reservation, self.proxy_memory)

    def memory_budgets(self) -> list[MemoryBudget]:
        """Every container's reservation and limit, with the keys that set them: the apps', then the proxy's."""
        budgets = [
            budget for name, app in sorted(self.apps.items()) for budget in app_budgets(name, app.memory, app.reserved)
        ]
        budgets.append(
            MemoryBudget(
                limit_key="proxyMemory",
                reservation_key="proxyMemoryReservation",
                limit=self.proxy_memory,
                reservation=self.proxy_reserved,
                group="proxy",
            )
        )
        # A WordPress app's microcache lives in the proxy's memory, on top of proxyMemory
        # (components/edge/proxy.py, proxy_memory_bytes): reserved whole, as tmpfs pages cannot be reclaimed.
        for name, app in sorted(self.apps.items()):
            edge_bytes = int(getattr(app, "edge_memory_bytes", 0))
            if edge_bytes:
                key = f"apps.{name}.microcache.size"
                budgets.append(MemoryBudget(key, key, limit=edge_bytes, reservation=edge_bytes, group="proxy"))
        return budgets + self._backup_budgets()

    def _backup_budgets(self) -> list[MemoryBudget]:
        """The scheduler, and a helper per dumped database and per quiesce (components/backups/memory.py)."""
        if self.backups is None:
            return []

        def fixed(what: str, limit: int, reservation: int) -> MemoryBudget:
            key = f"backups ({what}, fixed)"
            return MemoryBudget(key, key, limit, reservation, group="backups")

        budgets = [fixed("scheduler", backup_memory.SCHEDULER_MEMORY, backup_memory.SCHEDULER_RESERVATION)]
        for name, app in sorted(self.apps.items()):
            backup = app_backup(name, name, KINDS[app.kind].spec(name, app, self.site(name, app)))
            helpers = 0 if backup is None else len(backup.dumps) + (backup.quiesce is not None)
            budgets.extend(
                fixed(f"apps.{name} helper", backup_memory.HELPER_MEMORY, backup_memory.HELPER_RESERVATION)
                for _ in range(helpers)
            )
        return budgets

    def site(self, app_name: str, app: AppSettings) -> Site:
        """What every kind needs of the stack's address settings, derived once per app."""
        return Site(
            app=app_name,
            hostname=app.hostname,
            public_url=self.public_url(app.hostname),
            scheme=self.scheme,
            public_host=self.public_host(app.hostname),
            trusted_proxies=self.edge_subnet,
        )

    @property
    def scheme(self) -> Literal["http", "https"]:
        return public_endpoint(self.tls != "off", self.http_port, self.https_port)[0]

    @property
    def public_port(self) -> int:
        return public_endpoint(self.tls != "off", self.http_port, self.https_port)[1]

    def public_host(self, hostname: str) -> str:
        """``hostname`` with the port when it is not the scheme's default (``cloud.localhost:8080``)."""
        return f"{hostname}{port_suffix(self.scheme, self.public_port)}"

    def public_url(self, hostname: str) -> str:
        """The URL users type: the port appears only when it is not the scheme's default."""
        return f"{self.scheme}://{self.public_host(hostname)}"


def stack_settings_model(kinds: Mapping[str, Kind]) -> type[StackSettings]:
    """``StackSettings`` whose apps may be of ``kinds``: the stack's own model is that of ``KINDS``."""
    if kinds is KINDS:
        return StackSettings
    apps: Any = (dict[AppName, app_settings_union(kinds)], Field(min_length=1, description=APPS_DESCRIPTION))  # type: ignore[misc]
    model: type[StackSettings] = create_model("StackSettings", __base__=StackSettings, apps=apps)
    return model
