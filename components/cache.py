"""A Redis cache for one app, password-protected, on that app's internal network only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi

from components import images
from components.container import Attachment, FileUpload, Healthcheck, ServiceSpec, secret_file, service_container
from components.secrets import generated_password

EvictionPolicy = Literal["noeviction", "volatile-lru", "allkeys-lru"]
SERVICE_UID = 999
CONFIG_FILE = "/usr/local/etc/redis/redis.conf"
PASSWORD_FILE = "/run/secrets/redis_password"
HOST_ALIAS = "redis"
PORT = 6379


def redis_config(password: str, max_memory_bytes: int, policy: EvictionPolicy) -> str:
    """Redis has no password variable: the password goes in its config file, never in argv."""
    return "\n".join(
        [
            "bind 0.0.0.0",
            "protected-mode yes",
            f"port {PORT}",
            f"requirepass {password}",
            f"maxmemory {max_memory_bytes}",
            f"maxmemory-policy {policy}",
            'save ""',
            "appendonly no",
            "",
        ]
    )


def healthcheck_command(password_file: str = PASSWORD_FILE, cli: str = "redis-cli") -> str:
    """Ping with the password read from its file, so it never appears in the container's config."""
    return f'REDISCLI_AUTH="$(cat {password_file})" {cli} ping | grep -q PONG'


@dataclass(frozen=True)
class CacheArgs:
    container_name: str
    network: pulumi.Input[str]
    memory_bytes: int
    eviction_policy: EvictionPolicy = "allkeys-lru"
    """Nextcloud keeps file locks in Redis: give it volatile-lru so locks are never evicted."""
    memory_reservation_bytes: int | None = None
    """A cache fills up to its maxmemory and stays there: reserve at least that (config/memory.py)."""


class Cache(pulumi.ComponentResource):
    """Redis as a pure cache: no persistence, so no volume; a restart empties it."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    password: pulumi.Output[str]

    def __init__(self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:Cache", name, None, opts)
        self.password = generated_password(f"{name}-password", parent=self)
        # maxmemory follows the container's limit: a quarter of it stays for Redis itself and its buffers.
        max_memory = args.memory_bytes * 3 // 4
        config = self.password.apply(lambda password: redis_config(password, max_memory, args.eviction_policy))
        service_container(
            f"{name}-container",
            ServiceSpec(
                container_name=args.container_name,
                image=images.pull(name, images.REDIS, parent=self),
                memory_bytes=args.memory_bytes,
                memory_reservation_bytes=args.memory_reservation_bytes,
                networks=[Attachment(args.network, aliases=[HOST_ALIAS])],
                files=[
                    FileUpload(
                        CONFIG_FILE, config, owner=str(SERVICE_UID), group=str(SERVICE_UID), mode="0400", secret=True
                    ),
                    secret_file(PASSWORD_FILE, self.password, SERVICE_UID),
                ],
                command=["redis-server", CONFIG_FILE],
                healthcheck=Healthcheck(
                    test=["CMD-SHELL", healthcheck_command()],
                    start_period="10s",
                ),
            ),
            parent=self,
        )
        self.host = pulumi.Output.from_input(HOST_ALIAS)
        self.port = pulumi.Output.from_input(PORT)
        self.register_outputs({"host": self.host, "port": self.port, "password": self.password})
