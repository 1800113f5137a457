"""The app kinds as components: each kind's own settings model validates the inputs, its pure
``spec()`` says what the app is, and the library's one App component registers it.

Each class redeclares the App component's outputs: the analyzer reads a description from the
source of the class it analyzes only. Inputs are plain values (``plain: true`` in the schema),
the edge network aside: a kind's settings decide names, files and routes while the component is
constructed, as they do in the stack. What a kind accepts is its settings model's business
(components/apps/<kind>/settings.py): tests/test_package.py checks that every field of each model
is an input here, described alike.
"""

import ipaddress
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

import pulumi

from components.apps.app import App, AppArgs
from components.apps.registry import KINDS
from components.apps.spec import AppSpec, Site
from components.core.fields import APP_NAME, Port
from components.core.urls import DEFAULT_PORTS, port_suffix
from components.core.volumes import StatePolicy
from components.package.validation import NAME_PREFIX, checked, input_error, model, require

SITE_INPUTS = ("edge_network", "name_prefix", "scheme", "public_port", "trusted_proxies", "protect")
"""Inputs every app kind takes besides its settings: where it runs and how users reach it."""
DEFAULT_TRUSTED_PROXIES = "172.16.0.0/12"
"""Docker's default pool for bridge networks (172.17.0.0/16 ... 172.31.0.0/16)."""


def component_name(kind: str) -> str:
    """``WordPress`` for ``wordpress``: the class name, which the schema's type token takes."""
    return KINDS[kind].component.rsplit(":", 1)[-1]


def site(component: str, name: str, hostname: str, args: Mapping[str, Any]) -> Site:
    scheme = checked(component, name, "scheme", Literal["http", "https"], args.get("scheme", "https"))
    port = checked(component, name, "publicPort", Port, args.get("public_port", DEFAULT_PORTS[scheme]))
    trusted = str(args.get("trusted_proxies", DEFAULT_TRUSTED_PROXIES))
    try:
        ipaddress.ip_network(trusted, strict=True)
    except ValueError as error:
        raise input_error(component, name, "trustedProxies", f"{trusted!r} is not a CIDR network: {error}") from None
    public_host = f"{hostname}{port_suffix(scheme, port)}"
    return Site(
        app=name,
        hostname=hostname,
        public_url=f"{scheme}://{public_host}",
        scheme=scheme,
        public_host=public_host,
        trusted_proxies=trusted,
    )


def app_spec(kind: str, name: str, args: Mapping[str, Any]) -> AppSpec:
    """The kind's spec from the inputs: its settings model validates them first, as in a stack file."""
    component = component_name(kind)
    if not APP_NAME.fullmatch(name):
        raise input_error(
            component,
            name,
            "name",
            "the resource name names its containers, volumes and networks: "
            "use a lower-case letter, then up to 19 lower-case letters or digits (e.g. blog)",
        )
    settings_model = KINDS[kind].settings
    values: dict[str, object] = {"kind": kind}
    for field_name, field in settings_model.model_fields.items():
        if field_name != "kind" and args.get(field_name) is not None:
            values[field.alias or field_name] = args[field_name]
    settings = model(component, name, settings_model, values)
    return KINDS[kind].spec(name, settings, site(component, name, settings.hostname, args))  # type: ignore[attr-defined]


def app_args(kind: str, name: str, args: Mapping[str, Any]) -> AppArgs:
    component = component_name(kind)
    spec = app_spec(kind, name, args)
    return AppArgs(
        app_name=name,
        spec=spec,
        type_token=KINDS[kind].component,
        name_prefix=checked(component, name, "namePrefix", NAME_PREFIX, args.get("name_prefix", "selfhost")),
        edge_network=require(component, name, args, "edge_network"),  # type: ignore[arg-type]
        state=StatePolicy(protect=checked(component, name, "protect", bool, args.get("protect", False))),
    )


class WordPressMemory(TypedDict, total=False):
    """Memory sizes of a WordPress app's containers (e.g. ``512Mi``)."""

    app: str
    """WordPress (Apache + PHP)"""
    database: str
    """its MariaDB"""
    cache: str
    """its Redis"""
    cron: str
    """its wp-cli container (installs the site, then runs WP-cron)"""


class WordPressMicrocache(TypedDict, total=False):
    """The edge's short-lived cache of anonymous pages (docs/edge.md has what is never cached)."""

    enabled: bool
    """cache anonymous GET/HEAD pages at the proxy"""
    seconds: int
    """how long a cached page is fresh, in seconds (1-60); a page's nonces stay valid far longer"""
    bypass_feeds: bool
    """send RSS/Atom feed requests to WordPress every time"""
    size: str
    """most the cache holds (nginx's max_size), 1Mi-1Gi; the proxy's memory grows by it, a quarter more
    (at least 4Mi) of headroom and its keys zone"""


class WordPressArgs(TypedDict):
    hostname: str
    """public host name the proxy routes to this site"""
    edge_network: pulumi.Input[str]
    """Name of the Docker network the proxy reaches the app on (the app joins it as ``app-<name>``)."""
    title: NotRequired[str]
    """site title"""
    admin_user: NotRequired[str]
    """administrator's login name"""
    admin_email: NotRequired[str]
    """administrator's e-mail; default admin@<hostname>"""
    upload_limit: NotRequired[str]
    """largest upload (PHP and the proxy's body limit), at most 2Gi"""
    microcache: NotRequired[WordPressMicrocache]
    """the proxy's few-second cache of anonymous pages"""
    memory: NotRequired[WordPressMemory]
    """memory limits of its containers"""
    memory_reservation: NotRequired[WordPressMemory]
    """memory its containers need to run (Docker's memory reservation); unset: at most the limit"""
    name_prefix: NotRequired[str]
    """Prefix of its containers', volumes' and networks' names (``<prefix>-<name>-<role>``); default ``selfhost``."""
    scheme: NotRequired[str]
    """``https`` (default) or ``http``: how users reach the proxy."""
    public_port: NotRequired[int]
    """The port users reach the proxy on; default 443 (https) or 80 (http)."""
    trusted_proxies: NotRequired[str]
    """Subnet of the edge network, whose X-Forwarded-* headers the app trusts; default 172.16.0.0/12."""
    protect: NotRequired[bool]
    """Protect its volumes and passwords from deletion."""


class WordPress(App):
    """A WordPress site with its own MariaDB and Redis on an internal network, installed unattended."""

    url: pulumi.Output[str]
    """The URL users type (``https://blog.example.com``)."""
    admin_user: pulumi.Output[str | None]
    """The administrator's login, where the kind has one."""
    admin_password: pulumi.Output[str] | None
    """The administrator's generated password (secret), where the kind has one."""
    volumes: pulumi.Output[list[str]]
    """Every Docker volume of the app, its backing services' too, sorted: all retained with the stack."""
    recorded: pulumi.Output[Any] | None
    """What the app's upgrade guard records once the app is up (Nextcloud: its version); absent without a guard."""

    def __init__(self, name: str, args: WordPressArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        built = app_args("wordpress", name, args)
        super().__init__(name, built, opts)
        self.route = built.spec.route
        """The proxy's route to it, plain data (Python only): ``Proxy(..., {"routes": [route_inputs(app.route)]})``."""


class NextcloudMemory(TypedDict, total=False):
    """Memory sizes of a Nextcloud app's containers (e.g. ``1Gi``)."""

    app: str
    """Nextcloud (Apache + PHP)"""
    cron: str
    """its background-jobs container"""
    database: str
    """its database"""
    cache: str
    """its Redis"""


class NextcloudArgs(TypedDict):
    hostname: str
    """public host name the proxy routes to this Nextcloud"""
    edge_network: pulumi.Input[str]
    """Name of the Docker network the proxy reaches the app on (the app joins it as ``app-<name>``)."""
    admin_user: NotRequired[str]
    """administrator's login name"""
    database: NotRequired[str]
    """database engine"""
    upload_limit: NotRequired[str]
    """largest single-request upload (clients chunk larger files), at most 16Gi"""
    php_memory_limit: NotRequired[str]
    """PHP memory_limit"""
    default_phone_region: NotRequired[str]
    """ISO 3166-1 alpha-2 country for phone numbers written without a country code"""
    maintenance_window_start: NotRequired[int]
    """hour (0-23, UTC) from which Nextcloud may run heavy background jobs, for four hours"""
    memory: NotRequired[NextcloudMemory]
    """memory limits of its containers"""
    memory_reservation: NotRequired[NextcloudMemory]
    """memory its containers need to run (Docker's memory reservation); unset: at most the limit"""
    name_prefix: NotRequired[str]
    """Prefix of its containers', volumes' and networks' names (``<prefix>-<name>-<role>``); default ``selfhost``."""
    scheme: NotRequired[str]
    """``https`` (default) or ``http``: how users reach the proxy."""
    public_port: NotRequired[int]
    """The port users reach the proxy on; default 443 (https) or 80 (http)."""
    trusted_proxies: NotRequired[str]
    """Subnet of the edge network, whose X-Forwarded-* headers the app trusts; default 172.16.0.0/12."""
    protect: NotRequired[bool]
    """Protect its volumes and passwords from deletion."""


class Nextcloud(App):
    """A Nextcloud with its own database and Redis on an internal network, and its background-jobs container."""

    url: pulumi.Output[str]
    """The URL users type (``https://blog.example.com``)."""
    admin_user: pulumi.Output[str | None]
    """The administrator's login, where the kind has one."""
    admin_password: pulumi.Output[str] | None
    """The administrator's generated password (secret), where the kind has one."""
    volumes: pulumi.Output[list[str]]
    """Every Docker volume of the app, its backing services' too, sorted: all retained with the stack."""
    recorded: pulumi.Output[Any] | None
    """What the app's upgrade guard records once the app is up (Nextcloud: its version); absent without a guard."""

    def __init__(self, name: str, args: NextcloudArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        built = app_args("nextcloud", name, args)
        super().__init__(name, built, opts)
        self.route = built.spec.route
        """The proxy's route to it, plain data (Python only): ``Proxy(..., {"routes": [route_inputs(app.route)]})``."""


class RocketChatMemory(TypedDict, total=False):
    """Memory sizes of a Rocket.Chat app's containers (e.g. ``1Gi``)."""

    app: str
    """Rocket.Chat (Node)"""
    mongo: str
    """its MongoDB"""


class RocketChatArgs(TypedDict):
    hostname: str
    """public host name the proxy routes to this Rocket.Chat"""
    edge_network: pulumi.Input[str]
    """Name of the Docker network the proxy reaches the app on (the app joins it as ``app-<name>``)."""
    admin_user: NotRequired[str]
    """first administrator's user name"""
    admin_email: NotRequired[str]
    """first administrator's e-mail; default admin@<hostname>"""
    upload_limit: NotRequired[str]
    """largest file upload (Rocket.Chat's FileUpload_MaxFileSize, the proxy's body limit), at most 1Gi"""
    memory: NotRequired[RocketChatMemory]
    """memory limits of its containers"""
    memory_reservation: NotRequired[RocketChatMemory]
    """memory its containers need to run (Docker's memory reservation); unset: at most the limit"""
    name_prefix: NotRequired[str]
    """Prefix of its containers', volumes' and networks' names (``<prefix>-<name>-<role>``); default ``selfhost``."""
    scheme: NotRequired[str]
    """``https`` (default) or ``http``: how users reach the proxy."""
    public_port: NotRequired[int]
    """The port users reach the proxy on; default 443 (https) or 80 (http)."""
    trusted_proxies: NotRequired[str]
    """Subnet of the edge network, whose X-Forwarded-* headers the app trusts; default 172.16.0.0/12."""
    protect: NotRequired[bool]
    """Protect its volumes and passwords from deletion."""


class RocketChat(App):
    """Rocket.Chat with its own MongoDB replica set on an internal network."""

    url: pulumi.Output[str]
    """The URL users type (``https://blog.example.com``)."""
    admin_user: pulumi.Output[str | None]
    """The administrator's login, where the kind has one."""
    admin_password: pulumi.Output[str] | None
    """The administrator's generated password (secret), where the kind has one."""
    volumes: pulumi.Output[list[str]]
    """Every Docker volume of the app, its backing services' too, sorted: all retained with the stack."""
    recorded: pulumi.Output[Any] | None
    """What the app's upgrade guard records once the app is up (Nextcloud: its version); absent without a guard."""

    def __init__(self, name: str, args: RocketChatArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        built = app_args("rocketchat", name, args)
        super().__init__(name, built, opts)
        self.route = built.spec.route
        """The proxy's route to it, plain data (Python only): ``Proxy(..., {"routes": [route_inputs(app.route)]})``."""


class StaticSiteMemory(TypedDict, total=False):
    """Memory size of a static site's container (e.g. ``64Mi``)."""

    app: str
    """its nginx (one worker, serving files)"""


class StaticSiteArgs(TypedDict):
    hostname: str
    """public host name the proxy routes to this site"""
    path: str
    """directory of the site, relative to the project directory (e.g. sites/hello): it needs an index.html and holds at most 8Mi in 1000 files, no PHP and no links out of it; hidden files (but .well-known) are left out"""  # noqa: E501 - the settings model's description, verbatim
    edge_network: pulumi.Input[str]
    """Name of the Docker network the proxy reaches the app on (the app joins it as ``app-<name>``)."""
    cache_seconds: NotRequired[int]
    """how long browsers may use a file other than HTML without asking again (HTML is always revalidated; unchanged files answer 304)"""  # noqa: E501 - verbatim
    memory: NotRequired[StaticSiteMemory]
    """memory limit of its container"""
    memory_reservation: NotRequired[StaticSiteMemory]
    """memory its container needs to run (Docker's memory reservation); unset: at most the limit"""
    name_prefix: NotRequired[str]
    """Prefix of its containers', volumes' and networks' names (``<prefix>-<name>-<role>``); default ``selfhost``."""
    scheme: NotRequired[str]
    """``https`` (default) or ``http``: how users reach the proxy."""
    public_port: NotRequired[int]
    """The port users reach the proxy on; default 443 (https) or 80 (http)."""
    trusted_proxies: NotRequired[str]
    """Subnet of the edge network, whose X-Forwarded-* headers the app trusts; default 172.16.0.0/12."""
    protect: NotRequired[bool]
    """Protect its volumes and passwords from deletion."""


class StaticSite(App):
    """A site from a directory, served by its own nginx behind the edge. The directory is read while the component
    is constructed, relative to the working directory: the program's project directory, also for the package's
    provider, which the CLI starts there (pulumi/pulumi sdk/go/common/resource/plugin/context.go ``Pwd``, "the
    working directory to spawn all plugins in"; pulumi-language-python ``RunPlugin``: ``cmd.Dir = req.Pwd``)."""

    url: pulumi.Output[str]
    """The URL users type (``https://blog.example.com``)."""
    admin_user: pulumi.Output[str | None]
    """The administrator's login, where the kind has one."""
    admin_password: pulumi.Output[str] | None
    """The administrator's generated password (secret), where the kind has one."""
    volumes: pulumi.Output[list[str]]
    """Every Docker volume of the app, its backing services' too, sorted: all retained with the stack."""
    recorded: pulumi.Output[Any] | None
    """What the app's upgrade guard records once the app is up (Nextcloud: its version); absent without a guard."""

    def __init__(self, name: str, args: StaticSiteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        built = app_args("static", name, args)
        super().__init__(name, built, opts)
        self.route = built.spec.route
        """The proxy's route to it, plain data (Python only): ``Proxy(..., {"routes": [route_inputs(app.route)]})``."""
