"""How a public address is written: one rule for the apps' URLs and the proxy's redirects."""

from __future__ import annotations

from typing import Literal

DEFAULT_PORTS = {"http": 80, "https": 443}


def port_suffix(scheme: str, port: int) -> str:
    """``:8080``, or nothing for the scheme's default port: how a port appears in a URL or Host header."""
    return "" if port == DEFAULT_PORTS[scheme] else f":{port}"


def public_endpoint(tls: bool, http_port: int, https_port: int) -> tuple[Literal["http", "https"], int]:
    """The scheme and port users reach the apps on: HTTPS on ``https_port`` with TLS, else HTTP on
    ``http_port``. The stack's URLs (config/settings.py) and the proxy's headers and redirects
    (components/edge/nginx/config.py) both take them from here."""
    return ("https", https_port) if tls else ("http", http_port)
