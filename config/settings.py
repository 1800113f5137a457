"""The stack's settings: one typed model, validated before any resource is registered.

Config keys are camelCase in the stack files (``selfhost:httpPort``, ``adminUser``) and
snake_case here. Every object rejects unknown keys, so a typo is an error, not a no-op.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from components.apps.nextcloud.countries import ISO_3166_ALPHA2
from components.core.fields import APP_NAME, ConfigModel, EmailAddress, HostName, MemorySize, email_problem
from components.core.units import MEMORY_FORMAT_HELP, format_memory, parse_memory
from config.hetzner import HetznerSettings, capacity_problem
from config.memory import (
    PROXY_MEMORY_LIMIT,
    PROXY_MEMORY_RESERVATION,
    MemoryBudget,
    NextcloudMemory,
    NextcloudMemoryReservation,
    WordPressMemory,
    WordPressMemoryReservation,
    app_budgets,
    effective_reservation,
    reservation_problem,
)
from config.pem import tls_pair_problem

# Re-exported: they used to live here.
__all__ = ["ConfigModel", "EmailAddress", "HostName", "MemorySize", "NextcloudMemory", "WordPressMemory"]

_USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
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


WORDPRESS_USER_MAX = 60
"""``wp_insert_user()`` refuses a longer ``user_login`` (wp-includes/user.php, WordPress 7.1)."""
NEXTCLOUD_USER_MAX = 64
"""``IUser::MAX_USERID_LENGTH``, checked by ``Manager::validateUserId()``
(nextcloud/server, lib/private/User/Manager.php)."""
NEXTCLOUD_RESERVED_USERS = frozenset({"files_external", "owncloud.log", "nextcloud.log", "updater.log", "audit.log"})
"""Names of files in Nextcloud's data directory that ``Manager::verifyUid()`` refuses as user ids
(with ``.htaccess``, ``.ncdata``, ``__groupfolders`` and ``appdata_<instanceid>``, which the
first-character rule or the ``appdata_`` check below already refuse)."""


def _check_app_name(value: str) -> str:
    if not APP_NAME.fullmatch(value):
        raise ValueError(
            f"app name {value!r} is not allowed: use 1-20 lower-case letters and digits, "
            "starting with a letter (it becomes part of container, volume and network names)"
        )
    return value


def _user_name_problem(value: str, maximum: int) -> str | None:
    if not _USER_NAME.fullmatch(value) or len(value) > maximum:
        return (
            f"{value!r} is not a user name: use 1-{maximum} letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return None


def _check_wordpress_user(value: str) -> str:
    # WordPress's validate_username() allows a subset of these plus spaces; the rule here is stricter.
    problem = _user_name_problem(value, WORDPRESS_USER_MAX)
    if problem:
        raise ValueError(problem + f" (WordPress refuses logins longer than {WORDPRESS_USER_MAX})")
    if value == "0":
        # PHP's empty("0") is true: validate_username() and wp_insert_user() take it for no login at all.
        raise ValueError("'0' is not a login WordPress accepts (PHP reads it as empty); choose another, e.g. admin")
    return value


def _check_nextcloud_user(value: str) -> str:
    problem = _user_name_problem(value, NEXTCLOUD_USER_MAX)
    if problem:
        raise ValueError(problem)
    if value in NEXTCLOUD_RESERVED_USERS or value.startswith("appdata_"):
        raise ValueError(
            f"{value!r} is the name of a file in Nextcloud's data directory, which Nextcloud refuses as a "
            "user name; choose another, e.g. admin"
        )
    return value


def _check_title(value: str) -> str:
    if value.startswith("-"):
        # wp-cli 2.12 parses every argument that starts with "--" as an option, positionals too
        # (`wp option update blogname "$SITE_TITLE"`); `--exec=<php>` would run PHP.
        raise ValueError(
            f"{value[:40]!r}... may not start with '-': wp-cli would read the title as an option; "
            "start it with another character"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(f"{value[:40]!r} holds a control character (a line break, tab, ...); write one plain line")
    return value


def _upload_limit(maximum: int, why: str) -> BeforeValidator:
    """A size from 1Mi to ``maximum``, in whole Mi (PHP's and nginx's units)."""

    def check(value: object) -> int:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a size; write {MEMORY_FORMAT_HELP}")
        size = parse_memory(value)
        if size < 1024**2 or size % 1024**2:
            raise ValueError(f"{value!r} must be a whole number of Mi, at least 1Mi")
        if size > maximum:
            raise ValueError(f"{value!r} is above the {format_memory(maximum)} maximum: {why}")
        return size

    return BeforeValidator(check)


WORDPRESS_UPLOAD_MAX = 2 * 1024**3
NEXTCLOUD_UPLOAD_MAX = 16 * 1024**3
WordPressUploadLimit = Annotated[
    int,
    _upload_limit(
        WORDPRESS_UPLOAD_MAX,
        "WordPress's media uploader sends a file in one request, which PHP first spools to the "
        "container's /tmp on the server's root disk; bring larger files in with `wp media import`",
    ),
]
NextcloudUploadLimit = Annotated[
    int,
    _upload_limit(
        NEXTCLOUD_UPLOAD_MAX,
        "Nextcloud's clients upload large files in chunks, so this bounds single-request uploads only, "
        "which PHP spools to the container's /tmp on the server's root disk (16G is the figure of "
        "Nextcloud's admin manual for big files)",
    ),
]


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


_DOCKER_HOST = re.compile(r"(unix|tcp|ssh|npipe)://[^\s\x00-\x1f\x7f]+")


def _check_docker_host(value: str) -> str:
    if value and not _DOCKER_HOST.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Docker endpoint: leave it empty or write a URL starting with "
            f"{', '.join(_DOCKER_HOST_SCHEMES)} without spaces or line breaks (e.g. unix:///var/run/docker.sock)"
        )
    return value


AppName = Annotated[str, AfterValidator(_check_app_name)]
WordPressUser = Annotated[str, AfterValidator(_check_wordpress_user)]
NextcloudUser = Annotated[str, AfterValidator(_check_nextcloud_user)]
Port = Annotated[int, Field(ge=1, le=65535)]


class WordPressApp(ConfigModel):
    """A WordPress site with its own MariaDB and Redis."""

    kind: Literal["wordpress"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name the proxy routes to this site")
    title: Annotated[str, AfterValidator(_check_title)] = Field(
        default="WordPress", min_length=1, max_length=200, description="site title"
    )
    admin_user: WordPressUser = Field(default="admin", description="administrator's login name")
    admin_email: EmailAddress | None = Field(
        default=None,
        description="administrator's e-mail; default admin@<hostname>",
    )
    upload_limit: WordPressUploadLimit = Field(
        default=64 * 1024**2, description="largest upload (PHP and the proxy's body limit), at most 2Gi"
    )
    memory: WordPressMemory = Field(default_factory=WordPressMemory, description="memory limits of its containers")
    memory_reservation: WordPressMemoryReservation = Field(
        default_factory=WordPressMemoryReservation,
        description="memory its containers need to run (Docker's memory reservation); unset: at most the limit",
    )

    @property
    def reserved(self) -> WordPressMemoryReservation:
        """The reservations its containers get (unset ones never above their limits)."""
        return effective_reservation(self.memory_reservation, self.memory)

    @model_validator(mode="after")
    def _default_email_valid(self) -> WordPressApp:
        if self.admin_email is None and email_problem(self.default_admin_email):
            raise ValueError(
                f"adminEmail: the default, {self.default_admin_email!r}, is not an address WordPress accepts "
                "(it needs a letter-only top-level label and at most 100 characters); set adminEmail"
            )
        return self

    @property
    def default_admin_email(self) -> str:
        return f"admin@{self.hostname}"


class NextcloudApp(ConfigModel):
    """A Nextcloud with its own database, Redis and background-jobs container."""

    kind: Literal["nextcloud"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name the proxy routes to this Nextcloud")
    admin_user: NextcloudUser = Field(default="admin", description="administrator's login name")
    database: Literal["postgres", "mariadb"] = Field(default="postgres", description="database engine")
    upload_limit: NextcloudUploadLimit = Field(
        default=16 * 1024**3, description="largest single-request upload (clients chunk larger files), at most 16Gi"
    )
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
    memory_reservation: NextcloudMemoryReservation = Field(
        default_factory=NextcloudMemoryReservation,
        description="memory its containers need to run (Docker's memory reservation); unset: at most the limit",
    )

    @property
    def reserved(self) -> NextcloudMemoryReservation:
        """The reservations its containers get (unset ones never above their limits)."""
        return effective_reservation(self.memory_reservation, self.memory)


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
    publish_ipv6: bool = Field(
        default=True,
        description=(
            "publish the proxy's ports on the host's IPv6 addresses (::) too; false on an engine with "
            "userland-proxy: false or a kernel without IPv6, which cannot bind them"
        ),
    )
    protect: bool = Field(
        default=False, description="protect stateful resources from deletion (set true in production)"
    )
    tls: TlsMode = Field(default="off", description="TLS at the proxy: off, letsencrypt or provided")
    acme_email: Annotated[str, AfterValidator(_check_optional_email)] = Field(
        default="", description="contact e-mail for Let's Encrypt (tls=letsencrypt)"
    )
    acme_staging: bool = Field(
        default=False, description="use Let's Encrypt's staging directory (tests of tls=letsencrypt)"
    )
    tls_certificate: SecretStr | None = Field(
        default=None, description="PEM certificate chain (tls=provided; set with --secret)"
    )
    tls_key: SecretStr | None = Field(default=None, description="PEM private key (tls=provided; set with --secret)")
    proxy_memory: MemorySize = Field(default=PROXY_MEMORY_LIMIT, description="memory limit of the nginx proxy")
    proxy_memory_reservation: MemorySize = Field(
        default=PROXY_MEMORY_RESERVATION,
        description="memory the nginx proxy needs to run (Docker's memory reservation); unset: at most proxyMemory",
    )
    image_refresh: Annotated[str, AfterValidator(_check_refresh_mark)] = Field(
        default="",
        description=(
            "any new value (e.g. a date) makes the next deploy resolve every image tag to the "
            "registry's current digest; until then the stack keeps the digests it recorded"
        ),
    )
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
        if self.host != "hetzner":
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
            problem = capacity_problem(self.hetzner.server, self.hetzner.memory_reserve, self.memory_budgets())
            if problem:
                raise ValueError(problem)
        return self

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
        return budgets

    @property
    def scheme(self) -> str:
        return "http" if self.tls == "off" else "https"

    @property
    def public_port(self) -> int:
        return self.http_port if self.tls == "off" else self.https_port

    def public_url(self, hostname: str) -> str:
        """The URL users type: the port appears only when it is not the scheme's default."""
        return f"{self.scheme}://{hostname}{port_suffix(self.scheme, self.public_port)}"
