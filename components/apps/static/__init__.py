"""The ``static`` kind: a directory of the repository served by its own nginx behind the edge."""

from __future__ import annotations

from components.apps.kind import Kind
from components.apps.static.settings import StaticApp
from components.apps.static.spec import spec

KIND = Kind(
    name="static",
    settings=StaticApp,
    spec=spec,
    component="selfhost:index:StaticSite",
    summary="a site from a directory of the repository (HTML, CSS, images), served by its own nginx; no PHP",
    example={"kind": "static", "hostname": "www.example.com", "path": "sites/hello"},
)

__all__ = ["KIND"]
