"""The registry of app kinds: config's ``kind`` -> its settings model, spec and component token.

Adding a kind is one folder, ``components/apps/<kind>/`` exporting ``KIND``, and one line here.
The stack's settings union (config/settings.py), the loader (config/loading.py), the README's
config reference (config/reference.py), Pulumi.yaml's ``apps`` description and the tests'
kind lists all derive from ``KINDS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from components.apps import container, nextcloud, rocketchat, static, wordpress
from components.apps.kind import Kind
from components.apps.spec import AppSpec
from components.edge.routes import ProxyRoute


def registry(kinds: Iterable[Kind]) -> dict[str, Kind]:
    """Kinds by name; a name twice is a programming error."""
    found: dict[str, Kind] = {}
    for kind in kinds:
        if kind.name in found:
            raise ValueError(f"app kind {kind.name!r} is registered twice")
        found[kind.name] = kind
    return found


KINDS: dict[str, Kind] = registry(
    [
        wordpress.KIND,
        nextcloud.KIND,
        static.KIND,
        rocketchat.KIND,
        container.KIND,
    ]
)


def proxy_routes(specs: Mapping[str, AppSpec]) -> list[ProxyRoute]:
    """Every app's route, as its spec says, in a stable order: proxy and apps cannot drift apart."""
    return [spec.route for _, spec in sorted(specs.items())]
