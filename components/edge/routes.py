"""What the proxy needs to know about one app, derived from the app's settings.

Apps and proxy both read these, so a host name or an upload limit is written once.
"""

from __future__ import annotations

from dataclasses import dataclass

UPLOAD_ENVELOPE_BYTES = 1024**2
"""Room for a multipart form's boundaries and fields around the largest allowed file: what a
request body may exceed an app's upload limit by (the proxy's body limit, Nextcloud's Apache)."""


@dataclass(frozen=True)
class ProxyRoute:
    """One public host name and the app container behind it on the edge network."""

    app: str
    """App name from config (``blog``)."""
    kind: str
    """App kind (``wordpress``, ``nextcloud``): selects kind-specific proxy rules."""
    server_name: str
    """Public host name (``blog.example.com``)."""
    upstream_host: str
    """DNS alias of the app container on the edge network, resolved at request time."""
    upstream_port: int
    max_body_bytes: int
    """Largest request body; 0 means unlimited (Nextcloud streams its uploads)."""
    read_timeout_seconds: int
    request_buffering: bool
    """False streams request bodies straight to the app (large uploads)."""
    dav_redirects: bool
    """Redirect /.well-known/carddav and caldav to /remote.php/dav/ (Nextcloud)."""
    login_paths: tuple[str, ...] = ()
    """Exact paths whose POSTs get a per-client rate limit (login forms, XML-RPC)."""
    app_sets_security_headers: bool = False
    """The app sends its own security headers; the proxy must not send them twice."""
    spool_large_responses: bool = True
    """False: a response too big for the proxy's memory buffers streams to the client at its
    pace instead of being spooled to a temp file inside the proxy container (multi-GB
    Nextcloud downloads)."""
    static_cache_paths: tuple[str, ...] = ()
    """Path prefixes (``/wp-content/``) under which static files (css, js, images, fonts) are
    public: the proxy adds a browser cache lifetime when the app sent no Cache-Control.
    Leave empty for apps whose private files have static-looking URLs (Nextcloud)."""
    websocket: bool = False
    """The app upgrades connections to WebSocket (Rocket.Chat, some containers): the proxy passes
    ``Upgrade``/``Connection`` through and keeps an idle connection open for the read timeout."""
