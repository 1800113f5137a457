"""Tier 3: the rendered redis.conf and the container's healthcheck, on Redis 8 (the image's major).

Redis 8.0 from the Debian unstable root (tests/sidroot.py) runs the program's config file
unchanged (``bind 0.0.0.0``, port 6379) in a network namespace of its own
(tests/rootservers.py). Proves: the config parses on Redis 8, the password is enforced, the
memory policy and no-persistence settings apply, the healthcheck command passes only with
the right password file, and — with Nextcloud's own lock and cache commands — that the
policy the program gives Nextcloud never evicts a lock when Redis is full, while the
``volatile-lru`` it had before does. Not proven: the official image's entrypoint (it runs
the same redis-server on this file, as uid 999).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from components.apps.nextcloud import spec as nextcloud
from components.services.cache import EvictionPolicy, healthcheck_command, redis_config
from tests.rootservers import RootServer, ensure

pytestmark = pytest.mark.live

PASSWORD = "Zx9kq2TESTpassword0123456789abcd"
MAX_MEMORY = 4 * 1024**2
CONF = "/run/selfhost-test/redis.conf"
"""Where the rendered file goes in the root's private /run
(the container's is components.services.cache.CONFIG_FILE)."""
PASSWORD_FILE = "/run/selfhost-test/redis_password"
"""The healthcheck's password file (the container's is /run/secrets/redis_password)."""

# Nextcloud's lock and cache operations (nextcloud/server lib/private/Memcache/Redis.php and
# lib/private/Lock/MemcacheLockingProvider.php): a shared lock is INCRBY then EXPIRE
# (filelocking.ttl, 3600 s); a cache entry is SETEX with 24 h when no TTL is given; a lock is
# released by its compare-and-delete script.
RELEASE_SCRIPT = 'if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end'
LOCK_TTL = 3600
CACHE_TTL = 24 * 3600


class Redis:
    def __init__(self, policy: EvictionPolicy) -> None:
        root = ensure(["redis-server"])
        self.server = RootServer(
            root,
            ["redis-server", CONF],
            user="redis",
            # Owner and mode as the program uploads them (there 999:999, the image's redis user).
            files={CONF: redis_config(PASSWORD, MAX_MEMORY, policy), PASSWORD_FILE: PASSWORD},
            setup=f"chown redis:redis {CONF} {PASSWORD_FILE} && chmod 0400 {CONF} {PASSWORD_FILE}",
        )
        self.server.wait_until(lambda: self.cli("ping") == "PONG", "redis-server")

    def cli(self, *args: str, password: str | None = PASSWORD) -> str:
        env = {"REDISCLI_AUTH": password} if password else {}
        result = self.server.run("redis-cli", *args, env=env)
        return (result.stdout + result.stderr).strip()

    def healthcheck(self) -> int:
        """As Docker runs it: the command string under ``sh -c``, as the image's user (root)."""
        return self.server.run("sh", "-c", healthcheck_command(PASSWORD_FILE)).returncode


@pytest.fixture(scope="module")
def redis() -> Iterator[Redis]:
    server = Redis("allkeys-lru")
    yield server
    server.server.stop()


def test_redis_is_version_8(redis: Redis) -> None:
    assert redis.cli("info", "server").split("redis_version:")[1].startswith("8.")


def test_password_is_required(redis: Redis) -> None:
    assert "NOAUTH" in redis.cli("ping", password=None)
    assert "WRONGPASS" in redis.cli("ping", password="wrong")
    assert redis.cli("ping") == "PONG"


def test_rendered_settings_apply(redis: Redis) -> None:
    def get(name: str) -> list[str]:
        return redis.cli("config", "get", name).splitlines()[1:]

    assert get("bind") == ["0.0.0.0"]
    assert get("port") == ["6379"]
    assert get("maxmemory") == [str(MAX_MEMORY)]
    assert get("maxmemory-policy") == ["allkeys-lru"]
    assert get("appendonly") == ["no"]
    assert get("save") in ([], [""])  # empty: no snapshots


def test_healthcheck_command_passes_only_with_the_password_file(redis: Redis) -> None:
    assert redis.healthcheck() == 0
    redis.server.run("sh", "-c", f"printf wrong >{PASSWORD_FILE}")
    try:
        assert redis.healthcheck() != 0
    finally:
        redis.server.run("sh", "-c", f"printf %s {PASSWORD} >{PASSWORD_FILE}")


def fill_with_cache_entries(redis: Redis) -> str:
    """Nextcloud-style cache entries (1 KiB, 24 h TTL) well past maxmemory; the last reply."""
    script = (
        f"for i in $(seq 1 {3 * MAX_MEMORY // 1024}); do "
        f"printf 'SETEX cache:%s {CACHE_TTL} %01024d\\n' $i 0; done | redis-cli 2>&1 | grep -v '^$' | tail -n 1"
    )
    return redis.server.run("sh", "-c", script, env={"REDISCLI_AUTH": PASSWORD}, timeout=120).stdout.strip()


def take_shared_lock(redis: Redis, key: str) -> str:
    reply = redis.cli("incrby", key, "1")
    redis.cli("expire", key, str(LOCK_TTL))
    return reply


def test_nextcloud_gets_noeviction() -> None:
    assert nextcloud.REDIS_EVICTION_POLICY == "noeviction"


def test_nextclouds_policy_keeps_every_lock_and_refuses_new_ones_when_full() -> None:
    server = Redis(nextcloud.REDIS_EVICTION_POLICY)
    try:
        assert take_shared_lock(server, "lock:held") == "1"
        assert "OOM command not allowed" in fill_with_cache_entries(server)
        assert server.cli("exists", "lock:held") == "1"
        assert int(server.cli("ttl", "lock:held")) > 0
        assert "evicted_keys:0" in server.cli("info", "stats")
        # Still healthy when full (PING is allowed): Docker does not restart it and drop every lock.
        assert server.healthcheck() == 0
        # A new lock is refused: Nextcloud sees the error, no request proceeds unlocked.
        assert "OOM command not allowed" in server.cli("incrby", "lock:new", "1")
        # Releasing a held lock still works (its DEL is allowed when full).
        assert server.cli("eval", RELEASE_SCRIPT, "1", "lock:held", "1") == "1"
        assert server.cli("exists", "lock:held") == "0"
    finally:
        server.server.stop()


def test_the_former_volatile_lru_evicts_locks_under_pressure() -> None:
    """Why the policy changed: every Nextcloud key has a TTL, so volatile-lru may evict any lock."""
    server = Redis("allkeys-lru")
    try:
        server.cli("config", "set", "maxmemory-policy", "volatile-lru")
        assert take_shared_lock(server, "lock:held") == "1"
        assert "OOM" not in fill_with_cache_entries(server)
        stats = server.cli("info", "stats")
        assert "evicted_keys:0" not in stats
        assert server.cli("exists", "lock:held") == "0", "the oldest lock survived the eviction"
    finally:
        server.server.stop()
