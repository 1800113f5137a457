"""The library as a Pulumi component package (``selfhost``, module ``index``), for any language.

Each class here is the library's own component (same type token, same children), constructed from
a TypedDict of inputs instead of the library's dataclass, and validated with the library's rules
so that a caller in TypeScript, Go or YAML, who bypasses Python's type checks, gets the same one
clear error. ``provider/__main__.py`` hosts them; ``provider/schema.json`` is what the SDK infers. In Python:
``from components.package import Database, WordPress``.
"""

from components.package.apps import (
    Nextcloud,
    NextcloudArgs,
    RocketChat,
    RocketChatArgs,
    StaticSite,
    StaticSiteArgs,
    WordPress,
    WordPressArgs,
)
from components.package.edge import Proxy, ProxyArgs, Route, route_inputs
from components.package.hosts import LocalDockerHost, LocalDockerHostArgs
from components.package.services import Cache, CacheArgs, Database, DatabaseArgs, DatabaseEngine, EvictionPolicy

__all__ = [
    "Cache",
    "CacheArgs",
    "Database",
    "DatabaseArgs",
    "DatabaseEngine",
    "EvictionPolicy",
    "LocalDockerHost",
    "LocalDockerHostArgs",
    "Nextcloud",
    "NextcloudArgs",
    "Proxy",
    "ProxyArgs",
    "RocketChat",
    "RocketChatArgs",
    "Route",
    "StaticSite",
    "StaticSiteArgs",
    "WordPress",
    "WordPressArgs",
    "route_inputs",
]
