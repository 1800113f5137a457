"""The registry of app kinds: config's ``kind`` -> its settings model, spec and component token.

Adding a kind is one folder, ``components/apps/<kind>/`` exporting ``KIND``, and one line here.
The stack's settings union (config/settings.py), the loader (config/loading.py), the README's
config reference and kinds table (config/reference.py: regenerate the README's generated section
with ``python -m config.reference``; tests/test_readme.py says when), the proxy routes and the
tests' kind lists all derive from ``KINDS``; Pulumi.yaml names no kind. A kind that runs an image
the stack does not pin yet adds its pin to components/core/images.py, on purpose: every pin the
stack runs is in that one file, so a review of image bumps sees them all.
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
