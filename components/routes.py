"""What the proxy needs to know about one app, derived from the app's settings.

Apps and proxy both read these, so a host name or an upload limit is written once.
"""

from __future__ import annotations

from dataclasses import dataclass


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
    """Paths worth a request-rate limit (login forms, XML-RPC)."""
    app_sets_security_headers: bool = False
    """The app sends its own security headers; the proxy must not send them twice."""
