"""What the proxy needs to know about one app, derived from the app's settings.

Apps and proxy both read these, so a host name or an upload limit is written once. Every
behaviour of the edge that differs between apps is a field here: the nginx renderer
(components/edge/nginx/) never looks at ``kind``, so a new kind sets fields and needs no
edge change. How the kinds fill them in (docs/apps.md has the table):

- WordPress: upload limit, buffered bodies, login rate limits, static cache lifetimes, the microcache;
- Nextcloud: unlimited streamed bodies both ways, DAV redirects, its own security headers;
- a static site (its own nginx behind the edge): plain proxying; the edge passes the site's
  gzip and cache headers through untouched (``static_cache_paths`` stays empty);
- any container: plain proxying, ``websocket`` when the image needs it;
- Rocket.Chat: ``websocket`` with a long ``read_timeout_seconds`` (idle sockets stay open).
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024**2
MICROCACHE_PAGE_BYTES = 4096
"""tmpfs allocates whole pages: every cached file holds at least one 4 KiB page."""
MICROCACHE_KEYS_PER_MIB = 8000
"""nginx's proxy_cache_path docs: "one megabyte zone can store about 8 thousand keys"."""
MICROCACHE_MIN_HEADROOM = 4 * MiB

UPLOAD_ENVELOPE_BYTES = 1024**2
"""Room for a multipart form's boundaries and fields around the largest allowed file: what a
request body may exceed an app's upload limit by (the proxy's body limit, Nextcloud's Apache)."""

UPSTREAM_IDLE_SECONDS = 4
"""Default ``upstream_idle_seconds``: below Apache's KeepAliveTimeout (5 s) in the WordPress
and Nextcloud images and Node's ``server.keepAliveTimeout`` (5 s; Meteor 3.0's webapp, under
Rocket.Chat, keeps it: meteor/meteor packages/webapp/webapp_server.js), so nginx never reuses
a connection the app is closing: a POST on such a connection would fail with 502. nginx's
own default keepalive_timeout (a static site's nginx) is 75 s."""

NEXTCLOUD_DAV_REDIRECTS: tuple[tuple[str, str], ...] = (
    ("/.well-known/carddav", "/remote.php/dav/"),
    ("/.well-known/caldav", "/remote.php/dav/"),
)
"""What ``dav_redirects`` stands for (Nextcloud's documented reverse-proxy rules)."""


@dataclass(frozen=True)
class Microcache:
    """A short-lived cache of an app's anonymous pages at the edge (WordPress), and what it costs.

    The cache lives on a tmpfs of its own in the proxy container, so it costs memory, not disk,
    and ``tmpfs_bytes + keys_zone_bytes`` are added to the proxy's memory limit and reservation
    (tmpfs pages are charged to the container's cgroup, and without swap they cannot be reclaimed).
    """

    seconds: int
    """How long a stored response is fresh (``proxy_cache_valid``); after that it is served stale
    to all but one request, which refreshes it in the background."""
    max_bytes: int
    """``max_size``: the cache manager evicts least recently used entries above it."""
    bypass_feeds: bool = False
    """RSS/Atom feeds (``/feed/``, ``/comments/feed/``, ``/category/x/feed/atom/``) go to the app every time."""

    @property
    def headroom_bytes(self) -> int:
        """tmpfs space above ``max_size``. nginx's cache manager checks the size at least every
        10 s (nginx 1.30.4 src/http/ngx_http_file_cache.c, ngx_http_file_cache_expire caps its wait
        at 10), and entries written meanwhile (and temp files of responses in flight) go over the
        bound; a full tmpfs would fail the request that writes (ENOSPC aborts the response).
        A quarter of ``max_size`` (rounded up to whole MiB), at least 4 MiB; half of it is ``min_free``,
        so the manager also evicts when the tmpfs itself runs short."""
        quarter_mib = -(-self.max_bytes // (4 * MiB)) * MiB  # whole MiB: Docker limits memory in MiB
        return max(quarter_mib, MICROCACHE_MIN_HEADROOM)

    @property
    def tmpfs_bytes(self) -> int:
        return self.max_bytes + self.headroom_bytes

    @property
    def keys_zone_bytes(self) -> int:
        """Room for one key per tmpfs page (every file takes at least one), at nginx's ~8000 keys
        per MiB: 1 MiB up to a 31 MiB tmpfs, one more per 31.25 MiB. When the zone still fills,
        nginx evicts the least recently used entry (ngx_http_file_cache_forced_expire)."""
        keys = -(-self.tmpfs_bytes // MICROCACHE_PAGE_BYTES)
        return max(1, -(-keys // MICROCACHE_KEYS_PER_MIB)) * MiB

    @property
    def memory_bytes(self) -> int:
        """What the cache adds to the proxy's memory: its tmpfs, full, plus its keys zone."""
        return self.tmpfs_bytes + self.keys_zone_bytes


@dataclass(frozen=True)
class ProxyRoute:
    """One public host name and the app container behind it on the edge network."""

    app: str
    """App name from config (``blog``): names the server's upstream, maps and rate-limit zone."""
    kind: str
    """App kind (``wordpress``, ``static``): a label for readers of the route. Nothing in the edge
    branches on it; every per-kind rule is one of the fields below."""
    server_name: str
    """Public host name (``blog.example.com``)."""
    upstream_host: str
    """DNS alias of the app container on the edge network, resolved at request time."""
    upstream_port: int
    """The port the app's container listens on (80 for the PHP images, 3000 for Rocket.Chat)."""
    max_body_bytes: int
    """Largest request body (``client_max_body_size``); 0 means unlimited (Nextcloud streams
    its uploads). Larger bodies get 413 from the proxy and never reach the app."""
    read_timeout_seconds: int
    """``proxy_read_timeout`` and ``proxy_send_timeout``: how long the proxy waits for the app
    between two reads (or, for a blocked write, two writes) before it gives up with 504. On an
    upgraded (WebSocket) connection it is the idle limit: nginx closes the tunnel after this
    long without a byte in either direction."""
    request_buffering: bool
    """False streams request bodies straight to the app (large uploads)."""
    dav_redirects: bool = False
    """Nextcloud's ``/.well-known/carddav`` and ``caldav`` -> ``/remote.php/dav/``: shorthand for
    those two ``redirects`` (``NEXTCLOUD_DAV_REDIRECTS``)."""
    login_paths: tuple[str, ...] = ()
    """Exact paths whose POSTs get a per-client rate limit (login forms, XML-RPC)."""
    app_sets_security_headers: bool = False
    """The app sends its own security headers; the proxy must not send them twice. False: the
    proxy fills in X-Content-Type-Options, X-Frame-Options and Referrer-Policy wherever the app
    sent none (HSTS is added with TLS either way, also only where the app sent none)."""
    spool_large_responses: bool = True
    """False: a response too big for the proxy's memory buffers streams to the client at its
    pace instead of being spooled to a temp file inside the proxy container (multi-GB
    Nextcloud downloads)."""
    static_cache_paths: tuple[str, ...] = ()
    """Path prefixes (``/wp-content/``) under which static files (css, js, images, fonts) are
    public: the proxy adds a browser cache lifetime when the app sent no Cache-Control.
    Leave empty for apps whose private files have static-looking URLs (Nextcloud) and for
    apps that set their own cache headers (a static site's nginx): the app's headers, gzip
    included, always pass through untouched."""
    websocket: bool = False
    """The app upgrades connections to WebSocket (Rocket.Chat, some containers): the proxy speaks
    HTTP/1.1 to it, passes the client's ``Upgrade`` on with ``Connection: upgrade`` (and no
    ``Connection`` header at all on ordinary requests, so upstream keep-alive still works), and
    keeps an idle upgraded connection open for ``read_timeout_seconds``. False: the client's
    ``Upgrade`` never reaches the app, so no 101 can turn the server into a tunnel that bypasses
    its body limit, rate limits and headers (h2c or WebSocket smuggling)."""
    redirects: tuple[tuple[str, str], ...] = ()
    """``(path, target)`` pairs: a request for exactly ``path`` gets a 301 to ``target`` (a path)
    on the app's public origin, answered by the proxy (well-known URLs)."""
    upstream_idle_seconds: int = UPSTREAM_IDLE_SECONDS
    """How long an idle kept-alive connection to the app stays in the proxy's pool. Must be
    below the app server's own keep-alive timeout (see ``UPSTREAM_IDLE_SECONDS``)."""
    microcache: Microcache | None = None
    """Anonymous GET/HEAD responses cached at the edge for a few seconds (WordPress; None: off).
    What is never cached is the edge's WordPress rule set (components/edge/nginx/config.py,
    docs/edge.md): only a kind whose login, comment and cart cookies are WordPress's may set it.
    Added after the contract's first version."""

    @property
    def all_redirects(self) -> tuple[tuple[str, str], ...]:
        """``redirects``, then ``dav_redirects``' two, in that order."""
        return self.redirects + (NEXTCLOUD_DAV_REDIRECTS if self.dav_redirects else ())
