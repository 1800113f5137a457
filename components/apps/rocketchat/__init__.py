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
)

__all__ = ["KIND"]
