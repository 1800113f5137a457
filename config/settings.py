"""The stack's settings: one typed model, validated before any resource is registered.

Config keys are camelCase in the stack files (``selfhost:httpPort``, ``adminUser``) and
snake_case here. Every object rejects unknown keys, so a typo is an error, not a no-op.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, SecretStr, model_validator

from config.countries import ISO_3166_ALPHA2
from config.fields import ConfigModel, HostName, MemorySize
from config.hetzner import HetznerSettings, capacity_problem

__all__ = ["ConfigModel", "HostName", "MemorySize"]  # re-exported: they used to live here

_APP_NAME = re.compile(r"^[a-z][a-z0-9]{0,19}$")
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOCKER_HOST_SCHEMES = ("unix://", "tcp://", "ssh://", "npipe://")


def _check_app_name(value: str) -> str:
    if not _APP_NAME.match(value):
        raise ValueError(
            f"app name {value!r} is not allowed: use 1-20 lower-case letters and digits, "
            "starting with a letter (it becomes part of container, volume and network names)"
        )
    return value


def _check_user_name(value: str) -> str:
    if not _USER_NAME.match(value):
        raise ValueError(
            f"{value!r} is not a user name: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return value


def _check_phone_region(value: str) -> str:
    if value not in ISO_3166_ALPHA2:
        hint = f"; write it in capitals: {value.upper()!r}" if value.upper() in ISO_3166_ALPHA2 else ""
        raise ValueError(
            f"{value!r} is not an ISO 3166-1 alpha-2 country code (two capital letters, e.g. DE, FR, US){hint}"
        )
    return value


def _check_hour(value: int) -> int:
    if not 0 <= value <= 23:
        raise ValueError(f"{value} is not an hour of the day: use a whole number from 0 to 23 (UTC)")
    return value


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address: write one such as admin@example.com")
    return value


def _check_docker_host(value: str) -> str:
    if value and not value.startswith(_DOCKER_HOST_SCHEMES):
        raise ValueError(
            f"{value!r} is not a Docker endpoint: leave it empty or write a URL starting with "
            f"{', '.join(_DOCKER_HOST_SCHEMES)} (e.g. unix:///var/run/docker.sock)"
        )
    return value


AppName = Annotated[str, AfterValidator(_check_app_name)]
UserName = Annotated[str, AfterValidator(_check_user_name)]
EmailAddress = Annotated[str, AfterValidator(_check_email)]
Port = Annotated[int, Field(ge=1, le=65535)]


class WordPressMemory(ConfigModel):
    """Memory limits of a WordPress app's containers."""

    app: MemorySize = Field(default=512 * 1024**2, description="WordPress (Apache + PHP)")
    database: MemorySize = Field(default=512 * 1024**2, description="its MariaDB")
    cache: MemorySize = Field(default=64 * 1024**2, description="its Redis")
    cron: MemorySize = Field(
        default=256 * 1024**2, description="its wp-cli container (installs the site, then runs WP-cron)"
    )


class NextcloudMemory(ConfigModel):
    """Memory limits of a Nextcloud app's containers."""

    app: MemorySize = Field(default=1024**3, description="Nextcloud (Apache + PHP)")
    cron: MemorySize = Field(default=512 * 1024**2, description="its background-jobs container")
    database: MemorySize = Field(default=512 * 1024**2, description="its database")
    cache: MemorySize = Field(default=128 * 1024**2, description="its Redis")


class WordPressApp(ConfigModel):
    """A WordPress site with its own MariaDB and Redis."""

    kind: Literal["wordpress"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name the proxy routes to this site")
    title: str = Field(default="WordPress", min_length=1, max_length=200, description="site title")
    admin_user: UserName = Field(default="admin", description="administrator's login name")
    admin_email: EmailAddress | None = Field(
        default=None,
        description="administrator's e-mail; default admin@<hostname>",
    )
    upload_limit: MemorySize = Field(
        default=64 * 1024**2, description="largest upload (PHP and the proxy's body limit)"
    )
    memory: WordPressMemory = Field(default_factory=WordPressMemory, description="memory limits of its containers")


class NextcloudApp(ConfigModel):
    """A Nextcloud with its own database, Redis and background-jobs container."""

    kind: Literal["nextcloud"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name the proxy routes to this Nextcloud")
    admin_user: UserName = Field(default="admin", description="administrator's login name")
    database: Literal["postgres", "mariadb"] = Field(default="postgres", description="database engine")
    upload_limit: MemorySize = Field(default=16 * 1024**3, description="largest single upload")
    php_memory_limit: MemorySize = Field(default=512 * 1024**2, description="PHP memory_limit")
    default_phone_region: Annotated[str, AfterValidator(_check_phone_region)] = Field(
        default="DE",
        description="ISO 3166-1 alpha-2 country for phone numbers written without a country code",
    )
    maintenance_window_start: Annotated[int, AfterValidator(_check_hour)] = Field(
        default=1,
        description="hour (0-23, UTC) from which Nextcloud may run heavy background jobs, for four hours",
    )
    memory: NextcloudMemory = Field(default_factory=NextcloudMemory, description="memory limits of its containers")


AppSettings = Annotated[WordPressApp | NextcloudApp, Field(discriminator="kind")]
APP_KINDS = ("wordpress", "nextcloud")

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


def port_suffix(scheme: str, port: int) -> str:
    """``:8080``, or nothing for the scheme's default port: how a port appears in a URL or Host header."""
    return "" if port == {"http": 80, "https": 443}[scheme] else f":{port}"


class StackSettings(ConfigModel):
    """Everything a stack can set under the ``selfhost:`` namespace."""

    # Top-level values come from the CLI as strings ("8080", "true"): lax here, strict below.
    model_config = ConfigDict(strict=False)

    apps: dict[AppName, AppSettings] = Field(
        min_length=1, description="the apps: a map of app name to {kind, hostname, ...}"
    )
    host: Literal["local", "hetzner"] = Field(
        default="local", description="where the containers run: the local Docker engine or a Hetzner VPS"
    )
    docker_host: Annotated[str, AfterValidator(_check_docker_host)] = Field(
        default="",
        description=(
            "Docker endpoint for host=local (e.g. unix:///run/user/1000/docker.sock); "
            "empty: the default socket, never DOCKER_HOST or DOCKER_CONTEXT"
        ),
    )
    http_port: Port = Field(default=8080, description="host port where the proxy serves HTTP")
    https_port: Port = Field(default=8443, description="host port where the proxy serves HTTPS (tls not off)")
    edge_subnet: Annotated[str, AfterValidator(_check_edge_subnet)] = Field(
        default="172.30.0.0/24",
        description="fixed subnet of the proxy-to-apps network; apps trust proxies from it",
    )
    protect: bool = Field(
        default=False, description="protect stateful resources from deletion (set true in production)"
    )
    tls: TlsMode = Field(default="off", description="TLS at the proxy: off, letsencrypt or provided")
    acme_email: str = Field(default="", description="contact e-mail for Let's Encrypt (tls=letsencrypt)")
    acme_staging: bool = Field(
        default=False, description="use Let's Encrypt's staging directory (tests of tls=letsencrypt)"
    )
    tls_certificate: SecretStr | None = Field(
        default=None, description="PEM certificate chain (tls=provided; set with --secret)"
    )
    tls_key: SecretStr | None = Field(default=None, description="PEM private key (tls=provided; set with --secret)")
    proxy_memory: MemorySize = Field(default=128 * 1024**2, description="memory limit of the nginx proxy")
    hetzner: HetznerSettings | None = Field(
        default=None, description="the Hetzner Cloud server (host=hetzner; an error with host=local)"
    )

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
        if self.tls == "letsencrypt" and not _EMAIL.match(self.acme_email):
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
        return self

    @model_validator(mode="after")
    def _hetzner_host(self) -> StackSettings:
        # A hetzner block with host=local is an error, not ignored: it would mean someone
        # believes they deploy to a server while the stack deploys here (or the reverse).
        if self.host == "local" and self.hetzner is not None:
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
            problem = capacity_problem(self.hetzner.server, self.hetzner.memory_reserve, self.memory_limits())
            if problem:
                raise ValueError(problem)
        return self

    def memory_limits(self) -> dict[str, int]:
        """Bytes of memory the containers may use, by config path: each app's sum, and the proxy."""
        limits = {
            f"apps.{name}.memory": sum(int(size) for size in app.memory.model_dump().values())
            for name, app in self.apps.items()
        }
        limits["proxyMemory"] = self.proxy_memory
        return limits

    @property
    def scheme(self) -> str:
        return "http" if self.tls == "off" else "https"

    @property
    def public_port(self) -> int:
        return self.http_port if self.tls == "off" else self.https_port

    def public_url(self, hostname: str) -> str:
        """The URL users type: the port appears only when it is not the scheme's default."""
        return f"{self.scheme}://{hostname}{port_suffix(self.scheme, self.public_port)}"
