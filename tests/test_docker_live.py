"""Tier 3: the program's networks and containers replayed on Docker Engine 28.

The program runs under mocks with the real stack file (``Pulumi.dev.yaml``); every docker
Network and Container it registers is then created on a Docker 28 daemon of this test run
(``tests/dockerd28.py``: its own network and mount namespaces, so the graph's names and
subnets are used exactly as sent) the way the provider would send them
(``tests/docker_replay.py``): networks, aliases, volumes, memory limits, swap, reservation,
stop timeout, restart policy, log options, labels, user, published ports, the healthcheck's
timings and every upload (a tar with the program's path, owner, group and mode, copied in
before the container starts). Only the image (one static busybox serving its container's
name on port 80), the command and the healthcheck's test are stand-ins.

Proves on a real engine: the isolation the graph describes (apps reach their own database
and cache by alias and nothing of another app's; backing services have no route out; the
edge reaches apps by alias only); that ``docker inspect`` reads back exactly what was sent;
that ``start_interval`` is honoured (healthy seconds after start although ``interval`` is
30 s); that uploads land with the owner, group and mode the program chose, seen from inside;
and that no secret appears in ``docker inspect``. Not proven: pulumi-docker's own mapping of
inputs to API calls (read in its source instead, see ``docker_replay``) and the real images.
No traffic leaves this machine: the "internet" is a network namespace this test makes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from pulumi.runtime import rpc

from components.hosts.hetzner.cloud_init import DATA_MOUNT
from tests import docker_replay as replay
from tests.dockerd28 import Engine
from tests.mockstack import SECRET_PLACEHOLDER, ProgramRun, Registration, run_stack_file, service_name
from tests.stateful_urns import container_stacks

pytestmark = pytest.mark.live

STACKS = tuple(container_stacks())
"""Replayed one after the other on the same engine (the engine is this run's alone, so the
graph's names and subnets are used unchanged)."""
CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
REMOTE_COMMAND = "command:remote:Command"
STRANGER = "4242:4242"
"""A uid:gid no upload names: what any other process in the container is."""


class Redacted(str):
    """A string whose repr hides it: pytest prints function arguments and assertion operands,
    and the graph's upload contents and secret inputs must not reach the test output."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<redacted>"


def _redact(value: Any, inside_secret: bool = False, key: str = "") -> Any:
    """Every secret leaf and every upload's content of an input tree, as ``Redacted``."""
    if rpc.is_rpc_secret(value):
        return {**value, "value": _redact(rpc.unwrap_rpc_secret(value), True)}
    if isinstance(value, dict):
        return {k: _redact(v, inside_secret, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item, inside_secret, key) for item in value]
    if isinstance(value, str) and (inside_secret or key == "content"):
        return Redacted(value)
    return value


def _redacted_run(run: ProgramRun) -> ProgramRun:
    for registration in run.registrations:
        registration.raw_inputs = _redact(registration.raw_inputs)
    run.outputs = _redact(run.outputs)
    return run


@dataclass(repr=False)
class Replayed:
    stack: str
    run: ProgramRun
    engine: Engine
    containers: dict[str, Registration]
    inspect: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.engine.docker(*args, check=check)

    @property
    def prefix(self) -> str:
        return f"selfhost-{self.stack}"

    def real_name(self, name: str) -> str:
        """The engine's name of the container whose service is ``name`` (a create-first one's has a generation)."""
        return {service_name(c): str(c.inputs["name"]) for c in self.containers.values()}.get(name, name)

    def service_name(self, name: str) -> str:
        """The inverse of ``real_name``."""
        return {str(c.inputs["name"]): service_name(c) for c in self.containers.values()}.get(name, name)

    def __repr__(self) -> str:
        return f"<replay of {self.stack}: {len(self.containers)} containers>"


def _when(stamp: str) -> float:
    """A Docker timestamp (RFC 3339 with nanoseconds) as POSIX seconds."""
    base, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(base + "+00:00").timestamp() + (float("0." + fraction) if fraction else 0.0)


def _healthy_after(state: dict[str, Any]) -> float:
    """Seconds from the container's start to the end of its first passing probe (inf if none)."""
    passed = [_when(entry["End"]) for entry in (state.get("Health") or {}).get("Log") or [] if entry["ExitCode"] == 0]
    return min(passed) - _when(state["StartedAt"]) if passed else float("inf")


def _wait_healthy(engine: Engine, names: list[str], deadline: float) -> dict[str, str]:
    """Poll until every container is healthy or ``deadline`` (monotonic); return the last states."""
    states: dict[str, str] = {}
    while True:
        listing = engine.docker("inspect", "--format", "{{.Name}} {{.State.Health.Status}}", *names).stdout
        states = dict(line.lstrip("/").split(" ", 1) for line in listing.splitlines() if line)
        if all(state == "healthy" for state in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(0.25)


def _bind_devices(run: ProgramRun) -> dict[str, str]:
    """Volume name -> the host directory a ``local`` volume with ``o=bind`` mounts."""
    return {
        str(v.inputs["name"]): str(v.inputs["driverOpts"]["device"])
        for v in run.of_type(VOLUME)
        if (v.inputs.get("driverOpts") or {}).get("o") == "bind"
    }


def _prepare_bind_volumes(engine: Engine, run: ProgramRun) -> None:
    """Make the directories behind bind volumes the way a server gets them.

    A tmpfs stands in for the server's data volume at ``DATA_MOUNT`` with its ``volumes``
    directory (``mount_data_script``, part of the readiness step that also needs cloud-init
    and a block device); then the program's own remote commands that make each volume's
    directory are run as they are, on the engine's side.
    """
    devices = _bind_devices(run)
    if not devices:
        return
    made = engine.run_in_namespace(
        "sh", "-ec", f"mkdir -p {DATA_MOUNT} && mount -t tmpfs tmpfs {DATA_MOUNT} && mkdir -m 0711 {DATA_MOUNT}/volumes"
    )
    assert made.returncode == 0, made.stderr
    for name, device in devices.items():
        commands = run.of_type(REMOTE_COMMAND)
        scripts = [str(c.inputs["create"]) for c in commands if device in str(c.inputs.get("create"))]
        assert scripts, f"no remote command makes {device}, the directory behind volume {name}"
        for script in scripts:
            ran = engine.run_in_namespace("sh", "-c", script)
            assert ran.returncode == 0, f"{name}: {ran.stderr}"


def _create_and_start(engine: Engine, container: Registration) -> None:
    name = str(container.inputs["name"])
    engine.docker(*replay.container_create_args(container.inputs))
    for upload in container.inputs.get("uploads") or []:
        # Like the provider: one tar per upload, copied to / before the container starts.
        archive = ["--archive"] if replay.upload_copies_uid_gid(upload) else []
        engine.docker("cp", *archive, "-", f"{name}:/", input=replay.upload_tar(upload))
    for network_name, aliases in replay.attachments(container.inputs)[1:]:
        alias_args = [arg for alias in aliases for arg in ("--alias", alias)]
        engine.docker("network", "connect", *alias_args, network_name, name)
    engine.docker("start", name)


@pytest.fixture(scope="module")
def stand_in_image(docker28: Engine) -> str:
    busybox = docker28.root / "usr/bin/busybox"
    docker28.docker("import", "-", replay.STAND_IN_IMAGE, input=replay.stand_in_image_tar(busybox))
    return replay.STAND_IN_IMAGE


@pytest.fixture(scope="module", params=STACKS)
def replayed(request: pytest.FixtureRequest, docker28: Engine, stand_in_image: str) -> Iterator[Replayed]:
    stack = str(request.param)
    run = _redacted_run(run_stack_file(stack))
    containers = {str(c.inputs["name"]): c for c in run.of_type(CONTAINER)}
    result = Replayed(stack, run, docker28, containers)
    started = time.monotonic()
    try:
        for network in run.of_type(NETWORK):
            docker28.docker(*replay.network_create_args(network.inputs))
        _prepare_bind_volumes(docker28, run)
        for volume in run.of_type(VOLUME):
            docker28.docker(*replay.volume_create_args(volume.inputs))
        with ThreadPoolExecutor(max_workers=len(containers) or 1) as pool:
            # Containers are independent of each other here (stand-ins): create them side by side.
            for done in [pool.submit(_create_and_start, docker28, c) for c in containers.values()]:
                done.result()
        intervals = [
            replay.go_duration_ns(str(c.inputs["healthcheck"]["interval"])) / 1e9
            for c in containers.values()
            if (c.inputs.get("healthcheck") or {}).get("interval")
        ]
        # Not healthy before the first regular interval: start_interval was not honoured.
        states = _wait_healthy(docker28, list(containers), started + min(intervals, default=30.0))
        result.seconds = time.monotonic() - started
        result.inspect = {
            str(item["Name"]).lstrip("/"): item for item in json.loads(docker28.docker("inspect", *containers).stdout)
        }
        healthy_after = {name: _healthy_after(seen["State"]) for name, seen in result.inspect.items()}
        print(  # the figures, with `pytest -s`
            f"\ndockerd 28 answered {docker28.started_in:.2f} s after launch; {stack}: {len(containers)} containers "
            f"replayed until all healthy in {result.seconds:.2f} s; healthy after start (s): "
            + ", ".join(f"{name.removeprefix(result.prefix)[1:]} {after:.1f}" for name, after in healthy_after.items())
            + f"; states {sorted(set(states.values()))}"
        )
        yield result
    finally:
        ids = docker28.docker("ps", "--all", "--quiet", check=False).stdout.split()
        if ids:
            docker28.docker("rm", "--force", "--volumes", *ids, check=False)
        for network in run.of_type(NETWORK):
            docker28.docker("network", "rm", str(network.inputs["name"]), check=False)
        volumes = docker28.docker("volume", "ls", "--quiet", "--filter", f"name={result.prefix}", check=False)
        if volumes.stdout.split():
            docker28.docker("volume", "rm", *volumes.stdout.split(), check=False)
        docker28.run_in_namespace("sh", "-c", f"! mountpoint -q {DATA_MOUNT} || umount {DATA_MOUNT}")


def test_the_engine_is_docker_28_with_the_api_the_program_requires(docker28: Engine) -> None:
    version = json.loads(docker28.docker("version", "--format", "{{json .Server}}").stdout)
    assert int(version["Version"].split(".")[0]) >= 28
    major, minor = (int(part) for part in version["ApiVersion"].split("."))
    assert (major, minor) >= (1, 44), "start_interval needs API 1.44 (Docker 25)"


def test_networks_read_back_as_sent(replayed: Replayed) -> None:
    for network in replayed.run.of_type(NETWORK):
        inputs = network.inputs
        seen = json.loads(replayed.docker("network", "inspect", str(inputs["name"])).stdout)[0]
        assert seen["Driver"] == inputs.get("driver", "bridge")
        assert seen["Internal"] == bool(inputs.get("internal"))
        assert seen["Labels"] == {label["label"]: label["value"] for label in inputs.get("labels") or []}
        wanted = [ipam["subnet"] for ipam in inputs.get("ipamConfigs") or []]
        if wanted:
            assert [config["Subnet"] for config in seen["IPAM"]["Config"]] == wanted


def _in(replayed: Replayed, container: str, command: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    as_user = ["--user", user] if user else []
    return replayed.docker("exec", *as_user, replayed.real_name(container), "sh", "-c", command, check=False)


def _resolve(replayed: Replayed, source: str, name: str) -> str | None:
    """Ask Docker's DNS from inside ``source`` (static busybox's wget cannot resolve names itself)."""
    answer = _in(replayed, source, f"nslookup {name} 127.0.0.11")
    if answer.returncode != 0:
        return None
    addresses = [
        line.split()[-1] for line in answer.stdout.splitlines() if line.startswith("Address") and "#" not in line
    ]
    addresses = [address for address in addresses if not address.startswith("127.0.0.11")]
    return addresses[0] if addresses else None


def _get(replayed: Replayed, source: str, address: str, port: int = 80) -> str | None:
    """HTTP GET / from inside ``source`` (busybox nc: the static busybox's wget crashes on lookups)."""
    result = _in(replayed, source, f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address} {port}")
    if result.returncode != 0 or "\n\n" not in result.stdout.replace("\r", ""):
        return None
    # The stand-in serves its container's name: compared as the service's.
    return replayed.service_name(result.stdout.replace("\r", "").split("\n\n", 1)[1].strip())


def _fetch(replayed: Replayed, source: str, target: str) -> str | None:
    """The page ``target`` serves, fetched from inside ``source``; None if unresolvable or unreachable."""
    address = _resolve(replayed, source, target)
    return None if address is None else _get(replayed, source, address)


OUTSIDE_ADDRESS = "198.18.0.2"
OUTSIDE_PORT = 8080


@pytest.fixture(scope="module")
def outside(docker28: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A test host standing in for the internet: a network namespace behind a veth from the
    engine's namespace, which routes to it like any outside address, serving one page."""
    tag = uuid.uuid4().hex[:6]
    namespace, engine_end, far_end = f"selfhost-out-{tag}", f"sho{tag}e", f"sho{tag}o"
    page = tmp_path_factory.mktemp("outside")
    (page / "index.html").write_text("outside\n")

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    server = None
    try:
        ip("netns", "add", namespace)
        ip("-n", docker28.netns, "link", "add", engine_end, "type", "veth", "peer", "name", far_end)
        ip("-n", docker28.netns, "link", "set", far_end, "netns", namespace)
        ip("-n", docker28.netns, "addr", "add", "198.18.0.1/30", "dev", engine_end)
        ip("-n", docker28.netns, "link", "set", engine_end, "up")
        ip("-n", namespace, "addr", "add", f"{OUTSIDE_ADDRESS}/30", "dev", far_end)
        ip("-n", namespace, "link", "set", far_end, "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        serve = (sys.executable, "-m", "http.server", str(OUTSIDE_PORT), "--bind", OUTSIDE_ADDRESS)
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *serve],
            cwd=page,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        yield OUTSIDE_ADDRESS
    except subprocess.CalledProcessError as error:
        pytest.skip(f"cannot make a test network namespace here: {error.stderr.decode().strip()}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


def test_apps_reach_their_own_database_and_cache_by_alias(replayed: Replayed) -> None:
    prefix = replayed.prefix
    for app in ("blog", "cloud"):
        assert _fetch(replayed, f"{prefix}-{app}-app", "db") == f"{prefix}-{app}-db"
        assert _fetch(replayed, f"{prefix}-{app}-app", "redis") == f"{prefix}-{app}-redis"
    assert _fetch(replayed, f"{prefix}-cloud-cron", "db") == f"{prefix}-cloud-db"


def test_no_app_reaches_another_apps_backing_services(replayed: Replayed) -> None:
    prefix = replayed.prefix
    for app, other in (("blog", "cloud"), ("cloud", "blog")):
        for role in ("db", "redis"):
            assert _fetch(replayed, f"{prefix}-{app}-app", f"{prefix}-{other}-{role}") is None


def test_proxy_reaches_apps_by_alias_but_no_backing_service(replayed: Replayed) -> None:
    prefix = replayed.prefix
    proxy = f"{prefix}-proxy"
    assert _fetch(replayed, proxy, "app-blog") == f"{prefix}-blog-app"
    assert _fetch(replayed, proxy, "app-cloud") == f"{prefix}-cloud-app"
    for target in ("db", "redis", f"{prefix}-blog-db", f"{prefix}-cloud-redis"):
        assert _fetch(replayed, proxy, target) is None, target


def test_backing_services_have_no_way_out(replayed: Replayed, outside: str) -> None:
    prefix = replayed.prefix
    for app in ("blog", "cloud"):
        # The control: an app on the edge network reaches the stand-in for the internet.
        assert _get(replayed, f"{prefix}-{app}-app", outside, OUTSIDE_PORT) == "outside"
        for role in ("db", "redis"):
            assert _get(replayed, f"{prefix}-{app}-{role}", outside, OUTSIDE_PORT) is None, f"{app}-{role} got out"


def test_state_lives_on_the_named_volumes(replayed: Replayed) -> None:
    prefix = replayed.prefix
    registered = {str(v.inputs["name"]): v.inputs for v in replayed.run.of_type(VOLUME)}
    volumes = set(replayed.docker("volume", "ls", "--quiet", "--filter", f"name={prefix}").stdout.split())
    assert volumes == set(registered), "a container mounts a volume the program does not register"
    for name, inputs in registered.items():
        seen = json.loads(replayed.docker("volume", "inspect", name).stdout)[0]
        assert seen["Labels"] == {label["label"]: label["value"] for label in inputs.get("labels") or []}, name
        assert (seen["Options"] or {}) == dict(inputs.get("driverOpts") or {}), name
    _in(replayed, f"{prefix}-cloud-app", "echo kept > /var/www/html/data/marker")
    assert _in(replayed, f"{prefix}-cloud-cron", "cat /var/www/html/data/marker").stdout.strip() == "kept"
    devices = _bind_devices(replayed.run)
    if devices:
        # A bind volume's data is in the directory the program made for it, on the data mount.
        marker = f"marker-{uuid.uuid4().hex[:6]}"
        mounts = [arg for index, name in enumerate(devices) for arg in ("--volume", f"{name}:/v{index}")]
        touch = ["touch", *(f"/v{index}/{marker}" for index in range(len(devices)))]
        replayed.docker("run", "--rm", *mounts, "--pull=never", replay.STAND_IN_IMAGE, *touch)
        found = replayed.engine.run_in_namespace("stat", "-c", "%n", *(f"{d}/{marker}" for d in devices.values()))
        assert found.returncode == 0, f"written data not in the volumes' directories: {found.stderr}"


def test_wp_cli_container_reaches_its_site_and_the_internet(replayed: Replayed, outside: str) -> None:
    """It installs the site (database, cache, the html volume) and downloads the cache plugin."""
    prefix = replayed.prefix
    cron = f"{prefix}-blog-cron"
    assert _fetch(replayed, cron, "db") == f"{prefix}-blog-db"
    assert _fetch(replayed, cron, "redis") == f"{prefix}-blog-redis"
    assert _fetch(replayed, cron, f"{prefix}-cloud-db") is None
    assert _get(replayed, cron, outside, OUTSIDE_PORT) == "outside"
    _in(replayed, f"{prefix}-blog-app", "echo shared > /var/www/html/marker")
    assert _in(replayed, cron, "cat /var/www/html/marker").stdout.strip() == "shared"


def _per_container(replayed: Replayed, check: Callable[[str, Registration], None]) -> None:
    """``check(name, container)`` for every container, side by side (each is a few docker execs)."""
    with ThreadPoolExecutor(max_workers=len(replayed.containers) or 1) as pool:
        for done in [pool.submit(check, name, c) for name, c in replayed.containers.items()]:
            done.result()


def _with_health(replayed: Replayed) -> dict[str, Registration]:
    return {name: c for name, c in replayed.containers.items() if c.inputs.get("healthcheck")}


def test_every_container_has_a_healthcheck_and_became_healthy(replayed: Replayed) -> None:
    assert set(_with_health(replayed)) == set(replayed.containers), "wait=True needs a healthcheck"
    states = {name: seen["State"]["Health"]["Status"] for name, seen in replayed.inspect.items()}
    assert states == dict.fromkeys(replayed.containers, "healthy")


def test_healthchecks_read_back_the_programs_timings(replayed: Replayed) -> None:
    for name, container in _with_health(replayed).items():
        assert replayed.inspect[name]["Config"]["Healthcheck"] == replay.expected_health(container.inputs), name


def test_start_interval_is_honoured(replayed: Replayed) -> None:
    """Probes come every ``start_interval`` during the start period, not every ``interval``.

    The engine (moby v28.5.2 daemon/health.go, ``monitor``) waits ``start_interval`` (default
    5 s) after each probe ends while the container is starting and in its start period. The
    stand-in fails its probe for ``READY_AFTER_SECONDS``, so the health log holds the probes
    before the first success: each began ``start_interval`` after the one before ended.
    """
    slack = 1.5  # the engine's own bookkeeping between a probe's end and the timer's reset, under load
    checked = 0
    for name, container in _with_health(replayed).items():
        health = container.inputs["healthcheck"]
        if not health.get("startInterval"):
            continue
        start_interval = replay.go_duration_ns(str(health["startInterval"])) / 1e9
        interval = replay.go_duration_ns(str(health["interval"])) / 1e9
        state = replayed.inspect[name]["State"]
        log = state["Health"]["Log"]
        # From one probe's end to the next one's start; the first probe's own delay is not
        # measurable as cleanly (the monitor starts a moment after State.StartedAt).
        waits = [_when(later["Start"]) - _when(earlier["End"]) for earlier, later in itertools.pairwise(log)]
        healthy_after = _healthy_after(state)
        assert len(log) >= 2, f"{name}: {len(log)} probes"
        assert all(0.9 * start_interval <= wait <= start_interval + slack for wait in waits), f"{name}: waits {waits}"
        assert healthy_after < interval / 2, f"{name}: healthy after {healthy_after:.1f} s (interval {interval} s)"
        checked += 1
    assert checked, "no container sets start_interval"


def test_healthcheck_durations_read_back_as_written(replayed: Replayed) -> None:
    """The provider reads durations back as Go's ``Duration.String()`` of what the engine holds."""
    differing = []
    for name, container in _with_health(replayed).items():
        held = replayed.inspect[name]["Config"]["Healthcheck"]
        for key, engine_field in (
            ("interval", "Interval"),
            ("timeout", "Timeout"),
            ("startPeriod", "StartPeriod"),
            ("startInterval", "StartInterval"),
        ):
            written = container.inputs["healthcheck"].get(key)
            if written and replay.go_duration_string(held[engine_field]) != written:
                differing.append(f"{name}.{key}: {written} -> {replay.go_duration_string(held[engine_field])}")
    assert differing == [], "perpetual diff (issue 9 point 1)"


def test_resources_read_back_exactly_as_sent(replayed: Replayed) -> None:
    """memory, reservation, stop timeout, restart, user, log options, labels, ports, volumes."""
    for name, container in replayed.containers.items():
        expected = replay.expected_resources(container.inputs)
        observed = replay.observed_resources(replayed.inspect[name])
        assert observed == expected, name


def test_memory_swap_is_set_and_reads_back(replayed: Replayed) -> None:
    """Without ``memory_swap`` the engine picks twice the memory, which the provider reads back
    (tests/test_provider_readback_live.py shows it): every container sets it."""
    for name, container in replayed.containers.items():
        expected = replay.expected_resources(container.inputs)
        assert expected["MemorySwap"] is not None, f"{name}: no memory_swap (issue 9 point 2)"
        assert replayed.inspect[name]["HostConfig"]["MemorySwap"] == expected["MemorySwap"], name


_CGROUP_FILES = {
    "memory": ("memory.max", "memory/memory.limit_in_bytes"),
    "swap": ("memory.swap.max", "memory/memory.memsw.limit_in_bytes"),
    "reservation": ("memory.low", "memory/memory.soft_limit_in_bytes"),
}
"""cgroup v2 file, v1 file (v2 counts swap alone, v1 memory plus swap)."""


def _cgroup_values(replayed: Replayed, name: str) -> dict[str, int | None]:
    script = " ; ".join(
        f"echo {key}=$(cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1})"
        for key, (v2, v1) in _CGROUP_FILES.items()
    )
    values = dict(line.split("=", 1) for line in _in(replayed, name, script).stdout.split())
    return {key: int(value) if value.isdigit() else None for key, value in values.items()}


def test_memory_limits_are_enforced_by_the_kernel(replayed: Replayed) -> None:
    def check(name: str, container: Registration) -> None:
        memory = int(container.inputs["memory"]) * replay.MIB
        limits = _cgroup_values(replayed, name)
        assert limits["memory"] == memory, name
        swap = replayed.inspect[name]["HostConfig"]["MemorySwap"]
        if swap > 0:
            assert limits["swap"] in (swap, swap - memory), name
        reservation = replayed.inspect[name]["HostConfig"]["MemoryReservation"]
        if reservation > 0:
            assert limits["reservation"] == reservation, name

    _per_container(replayed, check)


def _listening_page(replayed: Replayed, host: str, port: str) -> str | None:
    answer = replayed.engine.run_in_namespace("curl", "--silent", "--max-time", "3", f"http://{host}:{port}/")
    return answer.stdout.strip() if answer.returncode == 0 else None


def test_published_ports_answer_on_the_addresses_they_bind(replayed: Replayed) -> None:
    """Reached from the engine's host side: 0.0.0.0 over IPv4 only, :: over IPv6 too."""
    ipv4_only = []
    for name, container in replayed.containers.items():
        for bindings in replay.port_bindings(container.inputs.get("ports") or []).values():
            addresses = {binding["HostIp"] for binding in bindings}
            for binding in bindings:
                port = binding["HostPort"]
                assert _listening_page(replayed, "127.0.0.1", port) == name
                ipv6 = "::" in addresses
                assert (_listening_page(replayed, "[::1]", port) == name) is ipv6, f"{name}:{port} over IPv6"
                if not ipv6:
                    ipv4_only.append(f"{name}:{port}")
    assert ipv4_only == [], "published on IPv4 only (issue 9 point 7)"


def _uploads(replayed: Replayed) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, container in replayed.containers.items():
        for upload in container.inputs.get("uploads") or []:
            yield name, upload


def test_upload_owners_are_numeric(replayed: Replayed) -> None:
    """A name would be looked up in the deploying machine's user database, not the image's
    (terraform-provider-docker v4.6.0 ``resolveUploadID``: ``os/user`` on the provider's host)."""
    for name, upload in _uploads(replayed):
        for key in ("owner", "group"):
            assert str(upload.get(key, "0")).isdigit(), f"{name}:{upload['file']} {key}={upload.get(key)!r}"


def _landed(replayed: Replayed, name: str) -> dict[str, list[str]]:
    """Each upload's path in container ``name`` -> [uid, gid, octal mode, sha256] as found there."""
    paths = " ".join(shlex.quote(str(u["file"])) for u in replayed.containers[name].inputs.get("uploads") or [])
    found = _in(replayed, name, f"stat -c 'stat %n %u %g %a' {paths} && sha256sum {paths}", user="0:0")
    assert found.returncode == 0, found.stderr
    lines = [line.split() for line in found.stdout.splitlines()]
    digests = {line[1]: line[0] for line in lines if line[0] != "stat"}
    return {line[1]: [*line[2:], digests[line[1]]] for line in lines if line[0] == "stat"}


def test_uploads_land_with_the_owner_group_mode_and_content_the_provider_sends(replayed: Replayed) -> None:
    """The provider's tar (header uid/gid/mode) through ``CopyUIDGID``, seen from inside."""
    assert any(c.inputs.get("uploads") for c in replayed.containers.values()), "the program uploads nothing"

    def check(name: str, container: Registration) -> None:
        uploads = container.inputs.get("uploads") or []
        if not uploads:
            return
        landed = _landed(replayed, name)
        for upload in uploads:
            path = str(upload["file"])
            owner = replay.landed_owner(upload, container.inputs.get("user"))
            assert owner is not None, f"{name}: user {container.inputs.get('user')!r} is not numeric uid:gid"
            # Compared by digest: an upload's content may be a secret and must not reach the test output.
            digest = hashlib.sha256(replay.upload_content(upload)).hexdigest()
            assert landed[path] == [*owner, f"{replay.upload_mode(upload):o}", digest], f"{name}:{path}"

    _per_container(replayed, check)


def test_uploads_are_owned_as_the_program_says(replayed: Replayed) -> None:
    """Where the container runs as a ``user``, the engine chowns every upload to it (see
    ``docker_replay.landed_owner``): the program must name that user as the owner, or what
    lands differs from what it says (a root-owned script would become the service user's own)."""
    differing: list[str] = []

    def check(name: str, container: Registration) -> None:
        uploads = container.inputs.get("uploads") or []
        landed = _landed(replayed, name) if uploads else {}
        for upload in uploads:
            path, wanted = str(upload["file"]), [str(upload.get("owner") or "0"), str(upload.get("group") or "0")]
            if landed[path][:2] != wanted:
                differing.append(f"{name}:{path} {':'.join(wanted)} -> {':'.join(landed[path][:2])}")

    _per_container(replayed, check)
    assert sorted(differing) == [], "uploads chowned to the container's user by the engine"


def _readable(
    replayed: Replayed, name: str, paths: list[str], user: str, extra: str = "true"
) -> tuple[dict[str, bool], str]:
    """Which of ``paths`` ``user`` can read in container ``name``; and the output of ``extra``, run as ``user`` too."""
    script = " ; ".join(f"cat {shlex.quote(p)} >/dev/null 2>&1 && echo yes || echo no" for p in paths)
    result = _in(replayed, name, f"{script} ; echo --- ; {extra}", user=user)
    answers, _, rest = result.stdout.partition("---\n")
    return dict(zip(paths, (line == "yes" for line in answers.split()), strict=True)), rest


def test_uploads_are_readable_exactly_by_whom_their_mode_allows(replayed: Replayed) -> None:
    """The service's uid reads its secrets; any other uid reads nothing the mode does not grant.

    The parent directories the engine creates for an upload (``/run/secrets``) are root's,
    0755: traversable, so the file's own mode decides.
    """

    def check(name: str, container: Registration) -> None:
        uploads = container.inputs.get("uploads") or []
        if not uploads:
            return
        paths = [str(u["file"]) for u in uploads]
        by_owner: dict[str, list[dict[str, Any]]] = {}
        for upload in uploads:
            landed = replay.landed_owner(upload, container.inputs.get("user")) or ("0", "0")
            by_owner.setdefault(":".join(landed), []).append(upload)
        for owner, owned in by_owner.items():
            if owner == "0:0":
                continue  # root reads anything: nothing to learn
            readable, _ = _readable(replayed, name, [str(u["file"]) for u in owned], owner)
            for upload in owned:
                wanted = bool(replay.upload_mode(upload) & 0o400)
                assert readable[str(upload["file"])] is wanted, f"{name}:{upload['file']} as {owner}"
        parents = sorted({path.rsplit("/", 1)[0] for path in paths} - {""})
        readable, listing = _readable(
            replayed, name, paths, STRANGER, extra="stat -c '%n %a' " + " ".join(map(shlex.quote, parents))
        )
        for upload in uploads:
            wanted = bool(replay.upload_mode(upload) & 0o004)
            assert readable[str(upload["file"])] is wanted, f"{name}:{upload['file']} as {STRANGER}"
        modes = dict(line.rsplit(" ", 1) for line in listing.splitlines())
        assert set(modes) == set(parents), f"{name}: {STRANGER} cannot stat {set(parents) - set(modes)}"
        for directory, mode_text in modes.items():
            assert int(mode_text, 8) & 0o001, f"{name}:{directory} not traversable ({mode_text})"

    _per_container(replayed, check)


def test_no_secret_appears_in_docker_inspect(replayed: Replayed) -> None:
    secrets = {*replayed.run.generated_passwords(), SECRET_PLACEHOLDER}
    for name, seen in replayed.inspect.items():
        text = json.dumps(seen)
        leaked = sorted(index for index, secret in enumerate(sorted(secrets)) if secret in text)
        assert not leaked, f"{name}: {len(leaked)} secret value(s) in docker inspect"
