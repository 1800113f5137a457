"""The edge proxy's whole nginx.conf, rendered from the app routes and the TLS settings.

Pure and deterministic: same input, same text (routes are sorted by host name), so a
`pulumi preview` after `pulumi up` shows no change to the proxy.

Upstreams: production (the official nginx 1.30 image) gets one ``upstream`` block per app
with ``server <alias>:<port> resolve``, a shared-memory ``zone`` and idle ``keepalive``
connections. nginx then starts while an app is down (the name has no server until it
resolves) and follows a recreated container without opening a new TCP connection per
request. ``resolve`` needs nginx >= 1.27.3. The other upstream mode, ``variable``
(``proxy_pass http://$var`` resolved per request), works on any nginx but cannot keep
connections alive: bench/proxy_wrk.py measured it at about a quarter of the keep-alive
throughput on loopback; only the bench renders it.

How fast a recreated container is followed (nginx 1.30.4 source,
src/http/modules/ngx_http_upstream_zone_module.c, ngx_http_upstream_zone_resolve_handler):
a worker re-resolves each ``resolve`` name ``valid + 1`` seconds after the last answer, and
Docker's DNS answers with a TTL of 600 s (moby v28.5.2 libnetwork/resolver.go, respTTL),
so ``resolver ... valid=`` alone sets the interval. Until then requests go to the old
address, which on a bridge does not answer at all: each waits for the connect timeout and
ends in 504. bench/upstream_stall.py measures both figures.

Microcache (routes with ``microcache``, WordPress's): one ``proxy_cache_path`` per app on its
own tmpfs (``microcache_tmpfs``; the proxy adds its size to the container's memory), and in
the app's server the cache with lock, stale-while-updating/on-error and the bypass/no-store
maps (docs/edge.md has every rule and the nginx source each rests on).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pulumi

from components.core.fields import APP_NAME, is_email_address, is_hostname
from components.core.templating import environment
from components.core.urls import port_suffix, public_endpoint
from components.edge.routes import ProxyRoute

TlsMode = Literal["off", "letsencrypt", "provided"]
UpstreamMode = Literal["resolve", "variable"]

LETSENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING_DIRECTORY = "https://acme-staging-v02.api.letsencrypt.org/directory"
HEALTH_PATH = "/healthz"
"""Answered on the default HTTP server, to loopback clients only (the container healthcheck)."""
LOGIN_RATE_PER_MINUTE = 10
LOGIN_BURST = 5
"""A client may POST to a login path 1 + 5 times at once, then once every 6 s; more gets 429."""
STATIC_CACHE_SECONDS = 7 * 24 * 3600
HSTS_SECONDS = 2 * 365 * 24 * 3600
UPSTREAM_IDLE_CONNECTIONS = 16
RESOLVE_VALID_SECONDS = 1
"""``resolver valid=``: nginx re-resolves each app alias every valid + 1 = 2 s, so a recreated
container's new address is in use at most ~2 s after Docker's DNS has it (was 10 s: 11 s).
The smallest value nginx accepts (whole seconds); one DNS query per app every 2 s."""
UPSTREAM_CONNECT_TIMEOUT_SECONDS = 2
"""An app container on the same bridge accepts in well under a millisecond; 2 s still
covers one lost SYN (Linux retransmits it after its initial 1 s RTO, RFC 6298). A removed
container's address drops packets: each request sent there until the next re-resolution
waits this long and ends in 504 (was 5 s)."""
NEXT_UPSTREAM = "error timeout"
"""``proxy_next_upstream``: nginx's default, written out because replacement depends on it. Not ``http_502``
and the like (an app's own error is its answer), not ``non_idempotent`` (a POST sent once stays sent once)."""
UPSTREAM_MAX_FAILS = 1
UPSTREAM_FAIL_TIMEOUT_SECONDS = RESOLVE_VALID_SECONDS + 1
"""A container address that failed a connection once (refused while its container drains, timed out once it
is gone) gets no request for one re-resolution interval, by when Docker's DNS no longer returns it. Without
this (``max_fails=0``, before issue 14) every request nginx sent to a removed container's address in the
last 2 s waited the connect timeout, and its retry was mostly refused: a re-resolution in between changes
the peer set, and nginx does not pass a request on to a peer of another set (nginx 1.30
src/http/ngx_http_upstream_round_robin.c, ``rrp->config != *peers->config``: busy). bench/
replace_under_load.py measured 19 such 504s in 244 requests, and none with this. nginx ignores both
settings while an alias has one address (``peers->single``), so they cost nothing outside a replacement.
The risk: when both of an alias's addresses failed within 2 s (a new container refusing before its app
listens, the old one draining right after), requests get 502 until the first mark expires; docs/operations.md."""
SERVER_NAMES_HASH_BUCKET_SIZE = 512
"""nginx refuses to start when one server name plus its hash overhead does not fit a bucket
(nginx 1.30.4 src/core/ngx_hash.c: ``sizeof(void *) + align(len + 2, 8)`` plus a
terminating pointer, i.e. 272 bytes for a 253-character name on 64-bit); the default is
the CPU's cache line (64 bytes: names of up to 46 characters). 512 fits the longest legal
DNS name; nginx allocates only what the names use, so the size costs nothing."""

MICROCACHE_INACTIVE_SECONDS = 600
"""``inactive=``: an entry nobody asked for in 10 min is removed, expired or not. Until then an
expired entry is what ``proxy_cache_use_stale error timeout http_5xx`` serves while the app is down
or failing, so pages visited in the last 10 minutes stay up through an app outage of that length.
``max_size`` bounds the space either way."""
MICROCACHE_LOCK_SECONDS = 5
"""``proxy_cache_lock_timeout`` and ``_age`` (nginx's defaults, written out): concurrent misses of one
page wait up to 5 s for the one request that fills it, then go to the app themselves (uncached)."""
MICROCACHE_STATUSES = (200, 301, 302, 404)
"""Responses stored: pages, redirects and not-found pages (which bots ask for by the thousand);
any other status (errors, 403 of a protected post...) always goes to the app."""
MICROCACHE_TMPFS_MODE = "0700"
"""Root's at mount; nginx's master (root) chowns each cache path to the worker user at start
(nginx src/core/ngx_file.c, ngx_create_paths). Only the workers read it."""

_TEMPLATES = Path(__file__).parent
_ENV = environment(_TEMPLATES)

_UPSTREAM_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
_FILE_PATH = re.compile(r"[A-Za-z0-9._/-]+")
_STATIC_EXTENSIONS = "css|js|mjs|map|png|jpe?g|gif|webp|avif|svg|ico|woff2?|ttf|otf|eot|mp4|webm|mp3|ogg|pdf"


@dataclass(frozen=True)
class TlsSettings:
    """TLS at the edge, as the stack's config says (``tls``, ``acmeEmail``, ``acmeStaging``)."""

    mode: TlsMode = "off"
    acme_email: str = ""
    acme_staging: bool = False

    @property
    def enabled(self) -> bool:
        return self.mode != "off"


@dataclass(frozen=True)
class PublicPorts:
    """Host ports users connect to (``httpPort``, ``httpsPort``); Docker maps them to the
    container's 80/443. Redirects and X-Forwarded-Port carry these, not the container's."""

    http: int = 80
    https: int = 443


@dataclass(frozen=True)
class Runtime:
    """Where the rendered file runs. The defaults are the official nginx image; the tier-3
    tests and the benches (nginx 1.30 from Debian unstable, in a network namespace of their
    own) override listen addresses and file paths only."""

    http_listen: str = "80"
    https_listen: str = "443"
    resolver: str = "127.0.0.11"
    """Docker's embedded DNS: app aliases on the edge network, public names for ACME."""
    upstream_mode: UpstreamMode = "resolve"
    resolve_valid_seconds: int = RESOLVE_VALID_SECONDS
    connect_timeout_seconds: int = UPSTREAM_CONNECT_TIMEOUT_SECONDS
    """Both overridable so bench/upstream_stall.py can measure the values before and after."""
    user: str | None = "nginx"
    worker_processes: str = "auto"
    pid: str = "/run/nginx.pid"
    error_log: str = "/var/log/nginx/error.log"
    access_log: str | None = "/var/log/nginx/access.log"
    """None turns the access log off (bench)."""
    temp_dir: str | None = None
    """None keeps the binary's compiled-in temp paths."""
    mime_types: str = "/etc/nginx/mime.types"
    certificate_path: str = "/etc/nginx/tls/fullchain.pem"
    key_path: str = "/etc/nginx/tls/privkey.pem"
    acme_state_dir: str = "/var/cache/nginx/acme"
    """Mount point of the ACME state volume; each issuer keeps its own subdirectory."""
    microcache_dir: str = "/var/cache/nginx/microcache"
    """Each microcached app's cache lives in ``<microcache_dir>/<app>``: a tmpfs of its own in the
    proxy container (``microcache_tmpfs``); tests use a directory."""


PRODUCTION = Runtime()


@dataclass(frozen=True)
class _Server:
    """One app's server block, with every value already in nginx syntax."""

    app: str
    server_name: str
    upstream: str
    upstream_address: str
    proxy_target: str
    max_body: str
    request_buffering: bool
    spool_large_responses: bool
    read_timeout: int
    websocket: bool
    redirects: tuple[tuple[str, str], ...]
    idle_seconds: int
    login_paths: tuple[str, ...]
    fill_security_headers: bool
    static_cache_pattern: str | None
    public_host: str
    public_port: int
    public_origin: str
    microcache: _Microcache | None


@dataclass(frozen=True)
class _Microcache:
    """One app's cache, in nginx syntax."""

    zone: str
    path: str
    keys_zone: str
    max_size: str
    min_free: str
    seconds: int
    bypass_feeds: bool


def microcache_path(runtime: Runtime, app: str) -> str:
    return f"{runtime.microcache_dir}/{app}"


def microcache_tmpfs(routes: Sequence[ProxyRoute], runtime: Runtime = PRODUCTION) -> dict[str, str]:
    """The proxy container's tmpfs mounts: one per microcached app, sized ``max_size`` + headroom.
    Docker passes ``size=`` (bytes) and ``mode=`` to the kernel's tmpfs as they are."""
    return {
        microcache_path(runtime, route.app): f"size={route.microcache.tmpfs_bytes},mode={MICROCACHE_TMPFS_MODE}"
        for route in sorted(routes, key=lambda r: r.app)
        if route.microcache is not None
    }


def microcache_memory_bytes(routes: Sequence[ProxyRoute]) -> int:
    """What every microcache adds to the proxy's memory (tmpfs full plus keys zone)."""
    return sum(route.microcache.memory_bytes for route in routes if route.microcache is not None)


def _microcache(route: ProxyRoute, runtime: Runtime) -> _Microcache | None:
    cache = route.microcache
    if cache is None:
        return None
    return _Microcache(
        zone=f"microcache_{route.app}",
        path=microcache_path(runtime, route.app),
        keys_zone=nginx_size(cache.keys_zone_bytes),
        max_size=nginx_size(cache.max_bytes),
        min_free=nginx_size(cache.headroom_bytes // 2),
        seconds=cache.seconds,
        bypass_feeds=cache.bypass_feeds,
    )


def nginx_size(size: int) -> str:
    """Bytes in nginx's size syntax (``64m``); 0 stays 0 (no limit)."""
    for unit, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def _check_route(route: ProxyRoute) -> None:
    """Everything that lands in the file verbatim: no value may smuggle in ``;`` or ``{``."""
    key = f"selfhost:apps.{route.app}"
    if not APP_NAME.fullmatch(route.app):
        raise pulumi.RunError(f"selfhost:apps: app name {route.app!r} cannot name an nginx upstream")
    if not is_hostname(route.server_name):
        raise pulumi.RunError(f"{key}.hostname: {route.server_name!r} is not a lower-case DNS host name")
    if not _UPSTREAM_HOST.fullmatch(route.upstream_host) or not 0 < route.upstream_port < 65536:
        raise pulumi.RunError(
            f"{key}: upstream {route.upstream_host!r}:{route.upstream_port} is not a host name and port"
        )
    if route.max_body_bytes < 0:
        raise pulumi.RunError(f"{key}.uploadLimit: {route.max_body_bytes} must be >= 0")
    if route.read_timeout_seconds <= 0:
        raise pulumi.RunError(f"{key}: read timeout {route.read_timeout_seconds} s must be positive")
    if route.microcache is not None and not (
        1 <= route.microcache.seconds <= 60 and route.microcache.max_bytes >= 1024**2
    ):
        raise pulumi.RunError(f"{key}.microcache: {route.microcache} needs 1-60 seconds and at least 1Mi")
    if route.upstream_idle_seconds <= 0:
        raise pulumi.RunError(f"{key}: upstream idle time {route.upstream_idle_seconds} s must be positive")
    redirects = route.all_redirects
    for path in (*route.login_paths, *route.static_cache_paths, *(part for pair in redirects for part in pair)):
        if not _PATH.fullmatch(path):
            raise pulumi.RunError(f"{key}: {path!r} is not an absolute URL path of plain characters")
    exact = [*set(route.login_paths), *(source for source, _ in redirects)]
    twice = sorted({path for path in exact if exact.count(path) > 1})
    if twice:
        # Two ``location = path`` blocks in one server: nginx refuses to start ("duplicate location").
        raise pulumi.RunError(f"{key}: {', '.join(twice)}: a path may be a login path or redirect once, not twice")


def _check_inputs(routes: Sequence[ProxyRoute], tls: TlsSettings, runtime: Runtime) -> None:
    if not routes:
        raise pulumi.RunError("selfhost:apps: the proxy needs at least one app to route to")
    owners: dict[str, str] = {}
    for route in routes:
        _check_route(route)
        if route.server_name in owners:
            raise pulumi.RunError(
                f"selfhost:apps.{route.app}.hostname: {route.server_name!r} is also the host name "
                f"of app {owners[route.server_name]!r}"
            )
        owners[route.server_name] = route.app
    if len({route.app for route in routes}) != len(routes):
        raise pulumi.RunError("selfhost:apps: two routes carry the same app name")
    if tls.mode == "letsencrypt" and not is_email_address(tls.acme_email):
        raise pulumi.RunError(
            f"selfhost:acmeEmail: {tls.acme_email!r} is not an e-mail address; tls=letsencrypt needs one"
        )
    for path in (runtime.certificate_path, runtime.key_path, runtime.acme_state_dir, runtime.microcache_dir):
        if not _FILE_PATH.fullmatch(path):
            raise pulumi.RunError(f"proxy runtime: {path!r} is not a plain file path")


def _static_cache_pattern(prefixes: Sequence[str]) -> str | None:
    """Regex over ``"<upstream Cache-Control>@<uri>"``: matches only when the app sent none."""
    if not prefixes:
        return None
    alternatives = "|".join(re.escape(prefix) for prefix in sorted(prefixes))
    return f"~*^@(?:{alternatives}).*\\.(?:{_STATIC_EXTENSIONS})$"


def _server(route: ProxyRoute, tls: TlsSettings, ports: PublicPorts, runtime: Runtime) -> _Server:
    scheme, port = public_endpoint(tls.enabled, ports.http, ports.https)
    public_host = f"$host{port_suffix(scheme, port)}"
    upstream = f"app_{route.app}"
    address = f"{route.upstream_host}:{route.upstream_port}"
    target = f"http://${upstream}" if runtime.upstream_mode == "variable" else f"http://{upstream}"
    return _Server(
        app=route.app,
        server_name=route.server_name,
        upstream=upstream,
        upstream_address=address,
        proxy_target=target,
        max_body=nginx_size(route.max_body_bytes),
        request_buffering=route.request_buffering,
        spool_large_responses=route.spool_large_responses,
        read_timeout=route.read_timeout_seconds,
        websocket=route.websocket,
        redirects=route.all_redirects,
        idle_seconds=route.upstream_idle_seconds,
        login_paths=tuple(sorted(set(route.login_paths))),
        fill_security_headers=not route.app_sets_security_headers,
        static_cache_pattern=_static_cache_pattern(route.static_cache_paths),
        public_host=public_host,
        public_port=port,
        public_origin=f"{scheme}://{public_host}",
        microcache=_microcache(route, runtime),
    )


def acme_issuer_name(tls: TlsSettings) -> str:
    return "letsencrypt_staging" if tls.acme_staging else "letsencrypt"


def render_nginx_config(
    routes: Sequence[ProxyRoute],
    tls: TlsSettings = TlsSettings(),
    ports: PublicPorts = PublicPorts(),
    runtime: Runtime = PRODUCTION,
) -> str:
    """The complete nginx.conf. Raises ``pulumi.RunError`` naming the config key on bad input."""
    _check_inputs(routes, tls, runtime)
    servers = [_server(route, tls, ports, runtime) for route in sorted(routes, key=lambda r: r.server_name)]
    issuer = acme_issuer_name(tls)
    return _ENV.get_template("nginx.conf.j2").render(
        servers=servers,
        tls=tls,
        rt=runtime,
        https_suffix=port_suffix("https", ports.https),
        health_path=HEALTH_PATH,
        login_rate=LOGIN_RATE_PER_MINUTE,
        login_burst=LOGIN_BURST,
        static_cache_seconds=STATIC_CACHE_SECONDS,
        hsts_seconds=HSTS_SECONDS,
        idle_connections=UPSTREAM_IDLE_CONNECTIONS,
        next_upstream=NEXT_UPSTREAM,
        max_fails=UPSTREAM_MAX_FAILS,
        fail_timeout=UPSTREAM_FAIL_TIMEOUT_SECONDS,
        server_names_bucket=SERVER_NAMES_HASH_BUCKET_SIZE,
        acme_issuer=issuer,
        acme_directory=LETSENCRYPT_STAGING_DIRECTORY if tls.acme_staging else LETSENCRYPT_DIRECTORY,
        acme_state_path=f"{runtime.acme_state_dir}/{issuer}",
        microcached=[s for s in servers if s.microcache],
        microcache_feeds=any(s.microcache and s.microcache.bypass_feeds for s in servers),
        microcache_inactive=MICROCACHE_INACTIVE_SECONDS,
        microcache_lock=MICROCACHE_LOCK_SECONDS,
        microcache_statuses=" ".join(str(status) for status in MICROCACHE_STATUSES),
    )
