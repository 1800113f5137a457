"""The ``rocketchat`` kind: Rocket.Chat with its MongoDB (settings, spec, templates)."""

from __future__ import annotations

from components.apps.kind import Kind
from components.apps.rocketchat.settings import RocketChatApp
from components.apps.rocketchat.spec import spec as rocketchat_spec

KIND = Kind(
    name="rocketchat",
    settings=RocketChatApp,
    spec=rocketchat_spec,
    component="selfhost:index:RocketChat",
    summary="Rocket.Chat with its own MongoDB replica set; first admin unattended, websockets through the proxy",
    example={"kind": "rocketchat", "hostname": "chat.example.com"},
    # rocket.chat:8.5 is built for amd64 only: RocketChat/Docker.Official.Image 8.5/Dockerfile
    # downloads the x86_64 Deno by its sha256, and docker-library/official-images library/rocket.chat
    # lists no other architecture (mongo:8.0 is multi-arch, but the app is not).
    architectures=frozenset({"amd64"}),
)

__all__ = ["KIND"]
