"""The ``container`` kind: any image, routed by host name on its internal port (``docker run``)."""

from __future__ import annotations

from components.apps.container.settings import KIND as NAME
from components.apps.container.settings import ContainerApp
from components.apps.container.spec import spec
from components.apps.kind import Kind

KIND = Kind(
    name=NAME,
    settings=ContainerApp,
    spec=spec,
    component="selfhost:index:ContainerApp",
    summary="any image (version tag or digest) on its internal port: env, secrets as *_FILE files, volumes",
    example={
        "kind": NAME,
        "hostname": "tool.localhost",
        "image": "nginx:1.30",
        "port": 80,
        "healthcheck": {"path": "/"},
        "volumes": {"html": "/usr/share/nginx/html"},
    },
)
"""``nginx:1.30`` (Debian-based, so curl is in the image: DESIGN.md §3) stands for any image."""
