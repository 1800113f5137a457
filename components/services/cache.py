"""A Redis for one app, password-protected, on that app's internal network only.

Which eviction policy an app needs depends on what it keeps there:

- WordPress (redis-cache plugin): a pure object cache, anything may go: ``allkeys-lru``.
- Nextcloud: its distributed cache *and* its file locks, in the one Redis its config can
  name. Every key has a TTL: ``OC\\Lock\\MemcacheLockingProvider::acquireLock`` sets one on
  each lock (``filelocking.ttl``, 3600 s), and ``OC\\Memcache\\Redis::set``/``add`` put one on
  every cache entry (24 h when none is given) — nextcloud/server, lib/private/Lock/ and
  lib/private/Memcache/Redis.php. So ``volatile-*`` protects nothing here: under memory
  pressure it evicts locks exactly like cache entries, and a lost lock lets two requests
  write the same file. Nextcloud gets ``noeviction``: when full, Redis refuses writes
  ("OOM command not allowed"), so taking a new lock fails and Nextcloud reports an error
  (a locked file, a failed request) instead of silently losing locks; releasing a held lock
  still works (its DEL is allowed when full), and PING still answers, so the container stays
  healthy rather than being restarted with every lock in it. The image's entrypoint keeps PHP
  sessions there too (redis-session.ini): a full Redis also refuses new sessions. Cache
  entries expire within a day, which bounds what fills it: size ``memory.cache`` for a
  day's working set. Measured on Redis 8 in tests/test_redis_live.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi

from components.core import images
from components.core.container import Attachment, FileUpload, Healthcheck, ServiceSpec, secret_file
from components.core.runtime import ENGINE, ServiceRuntime
from components.core.secrets import generated_password
from components.services.kinds import BuiltService, Placement, ServiceKind, standard_connection
from components.services.spec import Backing

EvictionPolicy = Literal["noeviction", "allkeys-lru"]
SERVICE_UID = 999
CONFIG_FILE = "/usr/local/etc/redis/redis.conf"
PASSWORD_FILE = "/run/secrets/redis_password"
"""Inside the Redis container; an app mounts its copy where its own client reads it."""
PORT = 6379
EVICTION_POLICIES: tuple[EvictionPolicy, ...] = ("noeviction", "allkeys-lru")


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
    """``allkeys-lru`` for a pure cache; ``noeviction`` where Redis holds locks (Nextcloud)."""
    memory_reservation_bytes: int | None = None
    """A cache fills up to its maxmemory and stays there: reserve at least that (config/memory.py)."""
    host_alias: str = "redis"
    """Its DNS name on the app's network (the ``Backing.role``)."""
    runtime: ServiceRuntime = ENGINE
    """What runs its container: one Docker engine, or a swarm (components/core/runtime.py)."""


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
        args.runtime.run(
            f"{name}-container",
            ServiceSpec(
                container_name=args.container_name,
                image=images.pull(name, images.REDIS, parent=self),
                memory_bytes=args.memory_bytes,
                memory_reservation_bytes=args.memory_reservation_bytes,
                networks=[Attachment(args.network, aliases=[args.host_alias])],
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
        self.host = pulumi.Output.from_input(args.host_alias)
        self.port = pulumi.Output.from_input(PORT)
        self.register_outputs({"host": self.host, "port": self.port, "password": self.password})


def _eviction_policy(backing: Backing) -> EvictionPolicy:
    value = backing.options.get("eviction_policy", "allkeys-lru")
    for policy in EVICTION_POLICIES:
        if value == policy:
            return policy
    raise ValueError(f"redis eviction_policy {value!r}: use one of {', '.join(EVICTION_POLICIES)}")


def _build(resource_name: str, backing: Backing, placement: Placement) -> BuiltService:
    cache = Cache(
        resource_name,
        CacheArgs(
            container_name=placement.container_name,
            network=placement.network,
            memory_bytes=backing.memory,
            memory_reservation_bytes=backing.memory_reservation,
            eviction_policy=_eviction_policy(backing),
            host_alias=backing.role,
            runtime=placement.runtime,
        ),
        pulumi.ResourceOptions(parent=placement.parent),
    )
    return BuiltService(resource=cache, password=cache.password)


REDIS = ServiceKind(
    port=PORT,
    connection=standard_connection(PORT),
    build=_build,
    stateless_reason='a cache without persistence (save "", no AOF) and no volume: a restart empties it anyway',
)
