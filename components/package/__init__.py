"""The library as a Pulumi component package (``selfhost``, module ``index``), for any language.

Each class here is the library's own component (same type token, same children), constructed from
a TypedDict of inputs instead of the library's dataclass, and validated with the library's rules
so that a caller in TypeScript, Go or YAML, who bypasses Python's type checks, gets the same one
clear error.

What the SDK's analyzer (pulumi/provider/experimental/analyzer.py, pulumi 3.272) asks of these
modules: evaluated annotations (no ``from __future__ import annotations``: it reads
``inspect.get_annotations`` without evaluating strings), an ``args`` parameter typed with a
TypedDict, no unions but ``X | None``, no ``object`` (``Any`` instead), and each description as a
docstring in the source of the very class it analyzes (so the outputs the library declares are
redeclared here). ``provider/__main__.py`` hosts them; ``provider/schema.json`` is what the SDK
infers. In Python: ``from components.package import Database, WordPress``.
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
