"""What the stack hands every app: names, the edge network, state policy, public address."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.core.volumes import StatePolicy

EDGE_PORT = 80
"""Apps listen on port 80 inside the edge network; only the proxy publishes ports."""


def edge_alias(app_name: str) -> str:
    """The app container's DNS name on the edge network, which the proxy resolves per request."""
    return f"app-{app_name}"


@dataclass(frozen=True)
class AppContext:
    name_prefix: str
    """Prefix of container, volume and network names on the host, e.g. ``selfhost-dev``."""
    edge_network: pulumi.Input[str]
    public_url: str
    """What users type, e.g. ``https://blog.example.com`` or ``http://blog.localhost:8080``."""
    trusted_proxies: str
    """The edge network's subnet: requests from it carry trustworthy X-Forwarded-* headers."""
    state: StatePolicy = field(default_factory=StatePolicy)

    def resource_name(self, app_name: str, role: str) -> str:
        """Name on the Docker host: ``selfhost-dev-blog-db``."""
        return f"{self.name_prefix}-{app_name}-{role}"

    @property
    def scheme(self) -> str:
        return self.public_url.split("://", 1)[0]

    @property
    def public_host(self) -> str:
        """Host name with the port when it is not the scheme's default (``cloud.localhost:8080``)."""
        return self.public_url.split("://", 1)[1]
