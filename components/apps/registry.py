"""The registry of app kinds: config's ``kind`` -> proxy route and component.

Adding a kind means one new module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pulumi

from components.apps.context import AppContext
from components.apps.nextcloud import component as nextcloud
from components.apps.wordpress import component as wordpress
from components.edge.routes import ProxyRoute
from config.settings import AppSettings, NextcloudApp, WordPressApp


class App(Protocol):
    """What the stack exports of every app."""

    url: pulumi.Output[str]
    admin_user: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    volumes: pulumi.Output[list[str]]


@dataclass(frozen=True)
class AppKind:
    route: Callable[[str, Any], ProxyRoute]
    build: Callable[[str, Any, AppContext, pulumi.ResourceOptions], App]


def _build_wordpress(name: str, app: WordPressApp, context: AppContext, opts: pulumi.ResourceOptions) -> App:
    return wordpress.WordPress(name, wordpress.WordPressArgs(app_name=name, settings=app, context=context), opts)


def _build_nextcloud(name: str, app: NextcloudApp, context: AppContext, opts: pulumi.ResourceOptions) -> App:
    return nextcloud.Nextcloud(name, nextcloud.NextcloudArgs(app_name=name, settings=app, context=context), opts)


KINDS: dict[str, AppKind] = {
    "wordpress": AppKind(route=wordpress.route, build=_build_wordpress),
    "nextcloud": AppKind(route=nextcloud.route, build=_build_nextcloud),
}


def proxy_routes(apps: dict[str, AppSettings]) -> list[ProxyRoute]:
    """Every app's route, in a stable order."""
    return [KINDS[app.kind].route(name, app) for name, app in sorted(apps.items())]


def build_app(name: str, app: AppSettings, context: AppContext, opts: pulumi.ResourceOptions) -> App:
    return KINDS[app.kind].build(name, app, context, opts)
