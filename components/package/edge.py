"""The edge proxy (nginx), the only container that publishes ports, routing to apps on a network of the caller's."""

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
from pydantic import ValidationError

from components.apps.wordpress.settings import WordPressMicrocache
from components.core.fields import EmailAddress, MemorySize, Port
from components.core.volumes import StatePolicy
from components.edge import proxy
from components.edge.nginx.config import TlsMode
from components.edge.routes import UPSTREAM_IDLE_SECONDS, MiB, Microcache, ProxyRoute
from components.package.validation import DOCKER_NAME, checked, input_error, problem, require


class Redirect(TypedDict):
    """A request for exactly ``path`` gets a 301 to ``target`` on the app's public origin."""

    path: str
    """The path requested."""
    target: str
    """The path redirected to."""


class RouteMicrocache(TypedDict):
    """The edge's few-second cache of the app's anonymous pages (WordPress; docs/edge.md)."""

    seconds: int
    """How long a stored response is fresh (1-60); then it is served stale while one request refreshes it."""
    max_bytes: int
    """The most the cache holds (nginx's ``max_size``); the proxy's memory grows by it and its headroom."""
    bypass_feeds: NotRequired[bool]
    """RSS/Atom feeds go to the app every time."""


class Route(TypedDict):
    """One public host name and the app container behind it on the edge network (components/edge/routes.py)."""

    app: str
    """App name: names the server's upstream, maps and rate-limit zone."""
    kind: str
    """App kind (``wordpress``): a label only, nothing branches on it."""
    server_name: str
    """Public host name (``blog.example.com``)."""
    upstream_host: str
    """DNS alias of the app container on the edge network (``app-<name>``), resolved at request time."""
    upstream_port: int
    """The port the app's container listens on."""
    max_body_bytes: int
    """Largest request body; 0 means unlimited."""
    read_timeout_seconds: int
    """How long the proxy waits for the app between two reads or writes before a 504."""
    request_buffering: bool
    """False streams request bodies straight to the app (large uploads)."""
    dav_redirects: NotRequired[bool]
    """Nextcloud's ``/.well-known/carddav`` and ``caldav`` redirects."""
    login_paths: NotRequired[list[str]]
    """Exact paths whose POSTs get a per-client rate limit."""
    app_sets_security_headers: NotRequired[bool]
    """The app sends its own security headers; the proxy must not send them twice."""
    spool_large_responses: NotRequired[bool]
    """False: large responses stream to the client instead of being spooled to a temp file."""
    static_cache_paths: NotRequired[list[str]]
    """Path prefixes under which static files get a browser cache lifetime when the app sent none."""
    websocket: NotRequired[bool]
    """The app upgrades connections to WebSocket."""
    redirects: NotRequired[list[Redirect]]
    """Exact paths answered with a 301 by the proxy."""
    upstream_idle_seconds: NotRequired[int]
    """How long an idle kept-alive connection to the app stays in the proxy's pool (below the app's keep-alive)."""
    microcache: NotRequired[RouteMicrocache]
    """The app's microcache at the edge; absent: nothing of the app is cached."""


def route_inputs(route: ProxyRoute) -> Route:
    """An app's route (``WordPress(...).route``, plain data) as the Proxy's input: apps and proxy cannot drift apart."""
    inputs = Route(
        app=route.app,
        kind=route.kind,
        server_name=route.server_name,
        upstream_host=route.upstream_host,
        upstream_port=route.upstream_port,
        max_body_bytes=route.max_body_bytes,
        read_timeout_seconds=route.read_timeout_seconds,
        request_buffering=route.request_buffering,
        dav_redirects=route.dav_redirects,
        login_paths=list(route.login_paths),
        app_sets_security_headers=route.app_sets_security_headers,
        spool_large_responses=route.spool_large_responses,
        static_cache_paths=list(route.static_cache_paths),
        websocket=route.websocket,
        redirects=[Redirect(path=path, target=target) for path, target in route.redirects],
        upstream_idle_seconds=route.upstream_idle_seconds,
    )
    if route.microcache is not None:
        cache = route.microcache
        inputs["microcache"] = RouteMicrocache(
            seconds=cache.seconds, max_bytes=cache.max_bytes, bypass_feeds=cache.bypass_feeds
        )
    return inputs


def _route(name: str, index: int, value: Mapping[str, Any]) -> ProxyRoute:
    def key(field: str) -> str:
        return f"routes[{index}].{field}"

    def get(field: str, camel: str, rule: Any, default: object = None) -> Any:
        found = value.get(field, default)
        if found is None:
            raise input_error("Proxy", name, key(camel), "is required")
        return checked("Proxy", name, key(camel), rule, found)

    return ProxyRoute(
        app=get("app", "app", str),
        kind=get("kind", "kind", str),
        server_name=get("server_name", "serverName", str),
        upstream_host=get("upstream_host", "upstreamHost", str),
        upstream_port=get("upstream_port", "upstreamPort", Port),
        max_body_bytes=get("max_body_bytes", "maxBodyBytes", int),
        read_timeout_seconds=get("read_timeout_seconds", "readTimeoutSeconds", int),
        request_buffering=get("request_buffering", "requestBuffering", bool),
        dav_redirects=get("dav_redirects", "davRedirects", bool, False),
        login_paths=tuple(get("login_paths", "loginPaths", list[str], [])),
        app_sets_security_headers=get("app_sets_security_headers", "appSetsSecurityHeaders", bool, False),
        spool_large_responses=get("spool_large_responses", "spoolLargeResponses", bool, True),
        static_cache_paths=tuple(get("static_cache_paths", "staticCachePaths", list[str], [])),
        websocket=get("websocket", "websocket", bool, False),
        redirects=tuple((r["path"], r["target"]) for r in get("redirects", "redirects", list[dict[str, str]], [])),
        upstream_idle_seconds=get("upstream_idle_seconds", "upstreamIdleSeconds", int, UPSTREAM_IDLE_SECONDS),
        microcache=_microcache(name, index, value.get("microcache"), value.get("kind")),
    )


def _microcache(name: str, index: int, value: Mapping[str, Any] | None, kind: object) -> Microcache | None:
    """The route's cache, checked by the WordPress kind's own model (1-60 s, 1Mi-1Gi): one copy of the rule."""
    if value is None:
        return None
    if kind != "wordpress":
        # Its bypass rules know WordPress's cookies and paths only: another app's sessions could be cached.
        raise input_error(
            "Proxy", name, f"routes[{index}].microcache", f"only a wordpress route can have one, not a {kind!r} route"
        )
    max_bytes = checked("Proxy", name, f"routes[{index}].microcache.maxBytes", int, value.get("max_bytes"))
    if max_bytes % MiB:
        raise input_error("Proxy", name, f"routes[{index}].microcache.maxBytes", f"{max_bytes} is not whole MiB")
    values = {
        "seconds": value.get("seconds"),
        "size": f"{max_bytes // MiB}Mi",
        "bypassFeeds": value.get("bypass_feeds"),
    }
    try:
        settings = WordPressMicrocache.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as error:
        location, message = problem(error)
        location = {"size": "maxBytes"}.get(location, location)
        raise input_error("Proxy", name, f"routes[{index}].microcache.{location}", message) from None
    return settings.route_cache()


class ProxyArgs(TypedDict):
    routes: list[Route]
    """One per app: in Python, ``route_inputs(app.route)``; the renderer refuses conflicting names."""
    edge_network: pulumi.Input[str]
    """Name of the Docker network the apps' routed containers join."""
    container_name: NotRequired[str]
    """Docker name of the container; default: the resource name."""
    memory: NotRequired[str]
    """Memory limit, e.g. ``128Mi``; default 128Mi."""
    memory_reservation: NotRequired[str]
    """Docker's memory reservation; default none."""
    http_port: NotRequired[int]
    """Host port mapped to the container's 80; default 8080."""
    https_port: NotRequired[int]
    """Host port mapped to the container's 443 (``tls`` not ``off``); default 8443."""
    publish_ipv6: NotRequired[bool]
    """Publish each port on ``::`` too (default true)."""
    tls: NotRequired[str]
    """``off`` (default), ``provided`` (``certificate``, ``privateKey``) or ``letsencrypt`` (``acmeVolumeName``)."""
    acme_email: NotRequired[str]
    """Let's Encrypt account e-mail (tls=letsencrypt)."""
    acme_staging: NotRequired[bool]
    """Use Let's Encrypt's staging directory."""
    acme_volume_name: NotRequired[str]
    """Docker volume for the ACME state (tls=letsencrypt), retained."""
    certificate: NotRequired[pulumi.Input[str]]
    """PEM certificate chain (tls=provided), uploaded as a secret."""
    private_key: NotRequired[pulumi.Input[str]]
    """PEM private key (tls=provided), uploaded as a secret."""
    protect: NotRequired[bool]
    """Protect the ACME volume from deletion."""


def proxy_args(name: str, args: Mapping[str, Any]) -> proxy.ProxyArgs:
    component = "Proxy"
    routes = checked(component, name, "routes", list[dict[str, Any]], require(component, name, args, "routes"))
    tls = checked(component, name, "tls", TlsMode, args.get("tls", "off"))
    reservation = args.get("memory_reservation")
    email = args.get("acme_email", "")
    if email:
        checked(component, name, "acmeEmail", EmailAddress, email)
    return proxy.ProxyArgs(
        routes=[_route(name, index, route) for index, route in enumerate(routes)],
        edge_network=require(component, name, args, "edge_network"),  # type: ignore[arg-type]
        container_name=checked(component, name, "containerName", DOCKER_NAME, args.get("container_name") or name),
        memory_bytes=checked(component, name, "memory", MemorySize, args.get("memory", "128Mi")),
        memory_reservation_bytes=None
        if reservation is None
        else checked(component, name, "memoryReservation", MemorySize, reservation),
        http_port=checked(component, name, "httpPort", Port, args.get("http_port", 8080)),
        https_port=checked(component, name, "httpsPort", Port, args.get("https_port", 8443)),
        publish_ipv6=checked(component, name, "publishIpv6", bool, args.get("publish_ipv6", True)),
        tls=tls,
        acme_email=email,
        acme_staging=checked(component, name, "acmeStaging", bool, args.get("acme_staging", False)),
        acme_volume_name=None
        if args.get("acme_volume_name") is None
        else checked(component, name, "acmeVolumeName", DOCKER_NAME, args["acme_volume_name"]),
        certificate=args.get("certificate"),
        private_key=args.get("private_key"),
        state=StatePolicy(protect=checked(component, name, "protect", bool, args.get("protect", False))),
    )


class Proxy(proxy.Proxy):
    """nginx in front of the apps: host names to app containers on the edge network, a rendered config."""

    config: pulumi.Output[str]
    """The rendered nginx.conf (no secrets in it)."""
    config_sha256: pulumi.Output[str]
    """Its SHA-256, hex."""
    http_port: pulumi.Output[int]
    """The published HTTP port."""
    https_port: pulumi.Output[int | None]
    """The published HTTPS port; absent with tls=off."""
    container_name: pulumi.Output[str]
    """The container's Docker name."""

    def __init__(self, name: str, args: ProxyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, proxy_args(name, args), opts)
