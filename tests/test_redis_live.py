"""Tier 3: the generated Redis config and healthcheck, run by a real redis-server.

Proves the config parses, the password is enforced, the memory policy applies, and the
container's healthcheck command passes only with the password file. Not proven: the
official image's entrypoint (it runs the same redis-server on this file).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.cache import healthcheck_command, redis_config

pytestmark = pytest.mark.live

REDIS_SERVER = shutil.which("redis-server")
if REDIS_SERVER is None or shutil.which("redis-cli") is None:
    pytest.skip("redis-server not installed (apt-get install redis-server)", allow_module_level=True)

PASSWORD = "Zx9kq2TESTpassword0123456789abcd"
MAX_MEMORY = 48 * 1024**2


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("redis")
    conf = work / "redis.conf"
    conf.write_text(redis_config(PASSWORD, MAX_MEMORY, "volatile-lru"))
    socket_path = work / "redis.sock"
    # Loopback-only overrides for the test; everything else comes from the generated file.
    process = subprocess.Popen(
        [
            str(REDIS_SERVER),
            str(conf),
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(socket_path),
            "--dir",
            str(work),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"redis-server did not start: {output}")
        time.sleep(0.05)
    yield socket_path
    process.terminate()
    process.wait(timeout=10)


def cli(socket_path: Path, *args: str, password: str | None = PASSWORD) -> str:
    env = (
        {**os.environ, "REDISCLI_AUTH": password}
        if password
        else {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
    )
    result = subprocess.run(
        ["redis-cli", "-s", str(socket_path), *args], capture_output=True, text=True, env=env, check=False
    )
    return (result.stdout + result.stderr).strip()


def test_password_is_required(redis: Path) -> None:
    assert "NOAUTH" in cli(redis, "ping", password=None)
    assert "WRONGPASS" in cli(redis, "ping", password="wrong")
    assert cli(redis, "ping") == "PONG"


def test_memory_policy_and_no_persistence(redis: Path) -> None:
    assert cli(redis, "config", "get", "maxmemory").split() == ["maxmemory", str(MAX_MEMORY)]
    assert cli(redis, "config", "get", "maxmemory-policy").split() == ["maxmemory-policy", "volatile-lru"]
    assert cli(redis, "config", "get", "appendonly").split() == ["appendonly", "no"]
    assert cli(redis, "config", "get", "save").split() == ["save"]


def test_healthcheck_command_passes_only_with_the_password_file(redis: Path, tmp_path: Path) -> None:
    password_file = tmp_path / "redis_password"
    local = healthcheck_command(str(password_file), cli=f"redis-cli -s {redis}")
    password_file.write_text(PASSWORD)
    assert subprocess.run(["sh", "-c", local], check=False).returncode == 0
    password_file.write_text("not-the-password")
    assert subprocess.run(["sh", "-c", local], check=False).returncode != 0
