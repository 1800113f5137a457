"""How a public address is written: one rule for the apps' URLs and the proxy's redirects."""

from __future__ import annotations

DEFAULT_PORTS = {"http": 80, "https": 443}


def port_suffix(scheme: str, port: int) -> str:
    """``:8080``, or nothing for the scheme's default port: how a port appears in a URL or Host header."""
    return "" if port == DEFAULT_PORTS[scheme] else f":{port}"
