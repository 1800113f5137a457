"""Tier 3: on Docker Engine 28, the program's container inputs read back as they were sent.

The program runs under mocks; its proxy and database containers are then created on a real
dockerd 28 (Debian unstable's, ``tests/sidroot.py``) whose daemon.json carries log defaults
of its own, with the same healthcheck, memory, swap, stop timeout, log options and published
ports (a busybox image stands in for the real ones: no image can be pulled here). What
``docker inspect`` reports is then turned into what the provider would store, the way
kreuzwerker/terraform-provider-docker v4.6.0 does in ``resourceDockerContainerRead``
(memory in MiB, durations through ``Duration.String()``, ``log_opts`` as the engine's map,
``ports`` from ``NetworkSettings.Ports`` sorted by port, the proxy's microcache ``tmpfs`` from
``HostConfig.Tmpfs``). Equal means a second preview shows
no change for these inputs. The two "partial" tests show what the old inputs did.

Not proven here: pulumi-docker's own translation of inputs into API calls (the Docker CLI
sends the same fields), and images' behaviour. dockerd runs in its own network and mount
namespace, pivoted into the root (``tests/dockerd28.py``), and is stopped after.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from components.core.durations import format_nanoseconds
from tests import docker_replay as replay
from tests import dockerd28
from tests.dockerd28 import Engine
from tests.mockstack import ProgramRun, Registration, run_stack_file

pytestmark = pytest.mark.live

DAEMON_LOG_DEFAULTS = {
    "log-driver": "json-file",
    "log-opts": {
        "max-size": "20m",
        "max-file": "5",
        "compress": "true",
        "mode": "non-blocking",
        "max-buffer-size": "4m",
        "labels": "com.example.team",
        "tag": "{{.Name}}",
        "cache-disabled": "false",
        "cache-max-size": "30m",
    },
}
"""Defaults an operator's engine might have; none of them may show up in a container's read-back."""
REASON = dockerd28.skip_reason()


def _inspect(engine: Engine, name: str) -> dict[str, Any]:
    document: list[dict[str, Any]] = json.loads(engine.docker("inspect", name).stdout)
    return document[0]


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """A Docker 28 of its own (tests/dockerd28.py), started with the log defaults above."""
    if REASON is not None:
        pytest.skip(REASON)
    with dockerd28.running_engine(daemon_config=DAEMON_LOG_DEFAULTS) as started:
        busybox = started.root / "usr/bin/busybox"
        started.docker("import", "-", replay.STAND_IN_IMAGE, input=replay.stand_in_image_tar(busybox))
        started.docker("network", "create", "edge-readback")
        yield started


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_stack_file("dev")


@pytest.fixture(scope="module")
def prod() -> ProgramRun:
    return run_stack_file("prod")


def _container(run: ProgramRun, suffix: str) -> Registration:
    matches = [c for c in run.of_type("docker:index/container:Container") if c.inputs["name"].endswith(suffix)]
    assert len(matches) == 1, suffix
    return matches[0]


def _run_flags(inputs: dict[str, Any]) -> list[str]:
    """``docker run`` flags for the inputs under test, as the provider's create sends them."""
    health = inputs["healthcheck"]
    flags = [
        *("--memory", f"{int(inputs['memory'])}m", "--memory-swap", f"{int(inputs['memorySwap'])}m"),
        *("--stop-timeout", str(int(inputs["stopTimeout"])), "--log-driver", inputs["logDriver"]),
        *(item for key, value in sorted(inputs["logOpts"].items()) for item in ("--log-opt", f"{key}={value}")),
        *("--health-cmd", "true", "--health-interval", health["interval"], "--health-timeout", health["timeout"]),
        *("--health-start-period", health["startPeriod"], "--health-start-interval", health["startInterval"]),
        *("--health-retries", str(int(health["retries"]))),
    ]
    for path, options in sorted((inputs.get("tmpfs") or {}).items()):
        flags += ["--tmpfs", f"{path}:{options}"]  # the CLI's HostConfig.Tmpfs, as the provider sends it
    for port in inputs.get("ports", []):
        address = f"[{port['ip']}]" if ":" in port["ip"] else port["ip"]
        flags += ["--publish", f"{address}:{int(port['external'])}:{int(port['internal'])}/{port['protocol']}"]
    return flags


def _read_back(inspected: dict[str, Any]) -> dict[str, Any]:
    """What resourceDockerContainerRead (v4.6.0) stores for these inputs."""
    host, config = inspected["HostConfig"], inspected["Config"]
    health = config["Healthcheck"]
    swap = host["MemorySwap"]
    ports = []
    for key in sorted(inspected["NetworkSettings"]["Ports"] or {}, key=lambda k: int(k.split("/")[0])):
        for binding in inspected["NetworkSettings"]["Ports"][key] or []:
            internal, protocol = key.split("/")
            ports.append(
                {
                    "internal": int(internal),
                    "external": int(binding["HostPort"]),
                    "ip": binding["HostIp"],
                    "protocol": protocol,
                }
            )
    return {
        "memory": host["Memory"] // 1024 // 1024,
        "memorySwap": swap // 1024 // 1024 if swap > 0 else swap,
        "stopTimeout": config.get("StopTimeout"),
        "logDriver": host["LogConfig"]["Type"],
        "logOpts": host["LogConfig"]["Config"],
        "healthcheck": {
            "interval": format_nanoseconds(health.get("Interval", 0)),
            "timeout": format_nanoseconds(health.get("Timeout", 0)),
            "startPeriod": format_nanoseconds(health.get("StartPeriod", 0)),
            "startInterval": format_nanoseconds(health.get("StartInterval", 0)),
            "retries": health.get("Retries", 0),
        },
        "ports": ports,
        # d.Set("tmpfs", container.HostConfig.Tmpfs): the map as the engine keeps it.
        "tmpfs": host.get("Tmpfs") or {},
    }


def _sent(inputs: dict[str, Any]) -> dict[str, Any]:
    health = inputs["healthcheck"]
    return {
        "memory": int(inputs["memory"]),
        "memorySwap": int(inputs["memorySwap"]),
        "stopTimeout": int(inputs["stopTimeout"]),
        "logDriver": inputs["logDriver"],
        "logOpts": inputs["logOpts"],
        "healthcheck": {
            **{key: health[key] for key in ("interval", "timeout", "startPeriod", "startInterval")},
            "retries": int(health["retries"]),
        },
        "ports": [
            {"internal": int(p["internal"]), "external": int(p["external"]), "ip": p["ip"], "protocol": p["protocol"]}
            for p in inputs.get("ports", [])
        ],
        "tmpfs": inputs.get("tmpfs") or {},
    }


def _create(engine: Engine, flags: list[str], command: list[str]) -> str:
    name = f"readback-{uuid.uuid4().hex[:8]}"
    engine.docker(
        "run", "--detach", "--name", name, "--network", "edge-readback", *flags, replay.STAND_IN_IMAGE, *command
    )
    return name


@pytest.mark.parametrize(
    ("stack", "suffix"),
    [("dev", "-proxy"), ("dev", "-cloud-db"), ("dev", "-blog-db"), ("dev", "-cloud-app"), ("prod", "-proxy")],
)
def test_container_inputs_read_back_as_sent(
    engine: Engine, stack: str, suffix: str, request: pytest.FixtureRequest
) -> None:
    run: ProgramRun = request.getfixturevalue(stack)
    inputs = _container(run, suffix).inputs
    serve = ["sh", "-c", "echo ok > /tmp/index.html && exec httpd -f -p 80 -h /tmp"]
    name = _create(engine, _run_flags(inputs), serve)
    try:
        assert _read_back(_inspect(engine, name)) == _sent(inputs)
    finally:
        engine.docker("rm", "--force", name, check=False)


def test_proxy_answers_on_ipv4_and_ipv6(engine: Engine, dev: ProgramRun) -> None:
    inputs = _container(dev, "-proxy").inputs
    name = _create(engine, _run_flags(inputs), ["sh", "-c", "echo ok > /tmp/index.html && exec httpd -f -p 80 -h /tmp"])
    try:
        port = int(inputs["ports"][0]["external"])
        for url in (f"http://127.0.0.1:{port}/", f"http://[::1]:{port}/"):
            answer = ""
            for _ in range(50):
                result = engine.run_in_namespace("curl", "-s", "--max-time", "2", url)
                answer = result.stdout.strip()
                if answer == "ok":
                    break
                time.sleep(0.1)
            assert answer == "ok", url
    finally:
        engine.docker("rm", "--force", name, check=False)


CGROUP_SHMEM = "cat /sys/fs/cgroup/memory.stat 2>/dev/null || cat /sys/fs/cgroup/memory/memory.stat"
"""The container's memory statistics (cgroup v2's file, else v1's, this kernel's): ``shmem`` is its tmpfs pages."""


def _shmem(engine: Engine, name: str) -> int:
    stat = engine.docker("exec", name, "sh", "-c", CGROUP_SHMEM).stdout
    return int(next(line.split()[1] for line in stat.splitlines() if line.startswith("shmem ")))


def test_the_proxys_microcache_tmpfs_is_bounded_and_charged_to_its_memory(engine: Engine, dev: ProgramRun) -> None:
    """Why the proxy's memory grows by each cache's tmpfs: what nginx writes there is the container's memory."""
    inputs = _container(dev, "-proxy").inputs
    ((path, options),) = inputs["tmpfs"].items()
    size = int(options.split(",")[0].removeprefix("size="))
    name = _create(engine, _run_flags(inputs), ["sh", "-c", "exec sleep 600"])
    try:
        df = engine.docker("exec", name, "/bin/busybox", "df", "-k", path).stdout.splitlines()[1].split()
        assert int(df[1]) * 1024 == size
        before = _shmem(engine, name)
        engine.docker("exec", name, "/bin/busybox", "dd", "if=/dev/zero", f"of={path}/fill", "bs=1M", "count=30")
        assert _shmem(engine, name) - before == 30 * 1024**2  # charged to the container, byte for byte
        overfill = engine.docker(
            "exec", name, "/bin/busybox", "dd", "if=/dev/zero", f"of={path}/more", "bs=1M", "count=64", check=False
        )
        assert overfill.returncode != 0 and "No space left" in overfill.stderr
    finally:
        engine.docker("rm", "--force", name, check=False)


def test_partial_log_opts_read_back_merged_with_the_daemon_defaults(engine: Engine) -> None:
    """The old inputs: the provider would see keys it never sent, and replace the container."""
    name = _create(
        engine,
        ["--log-driver", "json-file", "--log-opt", "max-file=3", "--log-opt", "max-size=10m"],
        ["sh", "-c", "true"],
    )
    try:
        read = _inspect(engine, name)["HostConfig"]["LogConfig"]["Config"]
        assert read != {"max-file": "3", "max-size": "10m"}
        assert read["compress"] == "true" and read["mode"] == "non-blocking" and read["cache-max-size"] == "30m"
    finally:
        engine.docker("rm", "--force", name, check=False)


def test_memory_without_swap_reads_back_twice_the_memory(engine: Engine) -> None:
    name = _create(engine, ["--memory", "64m"], ["sh", "-c", "true"])
    try:
        assert _inspect(engine, name)["HostConfig"]["MemorySwap"] == 2 * 64 * 1024**2
    finally:
        engine.docker("rm", "--force", name, check=False)


def test_docker_stop_waits_the_stop_timeout(engine: Engine) -> None:
    """``stop_timeout`` is the container's own: plain ``docker stop`` (no ``-t``) waits that long, not 10 s."""
    ignores_term = ["sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"]
    name = _create(engine, ["--stop-timeout", "3"], ignores_term)
    try:
        started = time.monotonic()
        engine.docker("stop", name)
        waited = time.monotonic() - started
        assert 3 <= waited < 8, waited
        assert _inspect(engine, name)["State"]["ExitCode"] == 137, "killed after the timeout"
    finally:
        engine.docker("rm", "--force", name, check=False)


def test_log_lines_carry_no_environment(engine: Engine, dev: ProgramRun) -> None:
    """With the program's log options, ``docker logs --details`` shows the tag and service label, never an env value."""
    inputs = _container(dev, "-cloud-db").inputs
    flags = [
        *_run_flags(inputs),
        "--env",
        "SOME_PASSWORD=do-not-log-me",
        "--label",
        "io.selfhost.service=db-under-test",
    ]
    name = _create(engine, flags, ["sh", "-c", "echo hello; sleep 1000"])
    try:
        details = ""
        for _ in range(50):
            details = engine.docker("logs", "--details", name).stdout
            if "hello" in details:
                break
            time.sleep(0.1)
        assert "hello" in details
        assert "do-not-log-me" not in details and "SOME_PASSWORD" not in details
        assert f"tag={name}" in details and "io.selfhost.service=db-under-test" in details
    finally:
        engine.docker("rm", "--force", name, check=False)
