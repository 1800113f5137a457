"""Tier 3: on Docker Engine 28, the program's container inputs read back as they were sent.

The program runs under mocks; its proxy and database containers are then created on a real
dockerd 28 (Debian unstable's, ``tests/sidroot.py``) whose daemon.json carries log defaults
of its own, with the same healthcheck, memory, swap, stop timeout, log options and published
ports (a busybox image stands in for the real ones: no image can be pulled here). What
``docker inspect`` reports is then turned into what the provider would store, the way
kreuzwerker/terraform-provider-docker v4.6.0 does in ``resourceDockerContainerRead``
(memory in MiB, durations through ``Duration.String()``, ``log_opts`` as the engine's map,
``ports`` from ``NetworkSettings.Ports`` sorted by port). Equal means a second preview shows
no change for these inputs. The two "partial" tests show what the old inputs did.

Not proven here: pulumi-docker's own translation of inputs into API calls (the Docker CLI
sends the same fields), and images' behaviour. dockerd runs in its own network and mount
namespace, pivoted into the root (``--bridge=none --iptables=false``), and is stopped after.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.durations import format_nanoseconds
from tests import sidroot
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
IMAGE = "selfhost-readback/busybox:local"
APPLETS = ("sh", "sleep", "httpd", "true", "mkdir", "echo")

REASON = sidroot.skip_reason()
if REASON is None and shutil.which("ip") is None:
    REASON = "iproute2 not installed"
if REASON is None and shutil.which("nsenter") is None:
    REASON = "nsenter not installed (util-linux)"


@dataclass
class Engine:
    root: Path
    run_dir: str
    """Inside the root: socket, data, exec root, pidfile."""
    netns: str
    process: subprocess.Popen[bytes]
    """nsenter, which execs unshare, which execs sh, which execs dockerd: the same process."""

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["chroot", str(self.root), "docker", "-H", f"unix://{self.run_dir}/docker.sock", *args]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def inspect(self, name: str) -> dict[str, Any]:
        document: list[dict[str, Any]] = json.loads(self.docker("inspect", name).stdout)
        return document[0]


def _start_engine(root: Path) -> Engine:
    token = uuid.uuid4().hex[:10]
    netns = f"shrb{token}"
    run_dir = f"/tmp/selfhost-readback-{token}"
    host_dir = root / run_dir.lstrip("/")
    (host_dir / "old").mkdir(parents=True)
    (host_dir / "daemon.json").write_text(json.dumps(DAEMON_LOG_DEFAULTS))
    subprocess.run(["ip", "netns", "add", netns], check=True)
    subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
    # nsenter, not `ip netns exec`: that remounts /sys, hiding the host's cgroup hierarchies.
    script = (
        f"mount --bind {root} {root} && mount -t proc proc {root}/proc && mount -t sysfs sysfs {root}/sys && "
        f"mount --rbind /sys/fs/cgroup {root}/sys/fs/cgroup && mount --rbind /dev {root}/dev && "
        f"mount -t tmpfs tmpfs {root}/run && cd {root} && pivot_root . {run_dir.lstrip('/')}/old && "
        f"umount -l {run_dir}/old && exec dockerd -H unix://{run_dir}/docker.sock --data-root {run_dir}/data "
        f"--exec-root {run_dir}/exec --pidfile {run_dir}/docker.pid --config-file {run_dir}/daemon.json "
        f"--cgroup-parent /{netns} --bridge=none --iptables=false --ip6tables=false >{run_dir}/dockerd.log 2>&1"
    )
    process = subprocess.Popen(
        [
            "nsenter",
            f"--net=/var/run/netns/{netns}",
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-ec",
            script,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    engine = Engine(root=root, run_dir=run_dir, netns=netns, process=process)
    deadline = time.monotonic() + 30
    while engine.docker("version", check=False).returncode != 0:
        if time.monotonic() > deadline:
            log = (host_dir / "dockerd.log").read_text() if (host_dir / "dockerd.log").exists() else ""
            _stop_engine(engine)
            raise RuntimeError(f"dockerd 28 did not start: {log[-1500:]}")
        time.sleep(0.2)
    return engine


def _stop_engine(engine: Engine) -> None:
    host_dir = engine.root / engine.run_dir.lstrip("/")
    engine.process.terminate()
    try:
        engine.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        engine.process.kill()
        engine.process.wait(timeout=30)
    subprocess.run(["ip", "netns", "del", engine.netns], check=False)
    if not any(engine.run_dir in line for line in Path("/proc/mounts").read_text().splitlines()):
        shutil.rmtree(host_dir, ignore_errors=True)


def _import_busybox(engine: Engine) -> None:
    busybox = engine.root / "bin/busybox"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(busybox, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(link)
        for directory in ("tmp", "www"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
    image_tar = engine.root / engine.run_dir.lstrip("/") / "image.tar"
    image_tar.write_bytes(buffer.getvalue())
    engine.docker("import", f"{engine.run_dir}/image.tar", IMAGE)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    if REASON is not None:
        pytest.skip(REASON)
    root = sidroot.ensure_root(["docker.io", "docker-cli", "busybox-static"])
    started = _start_engine(root)
    try:
        _import_busybox(started)
        started.docker("network", "create", "edge-readback")
        yield started
    finally:
        _stop_engine(started)


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
    }


def _create(engine: Engine, flags: list[str], command: list[str]) -> str:
    name = f"readback-{uuid.uuid4().hex[:8]}"
    engine.docker("run", "--detach", "--name", name, "--network", "edge-readback", *flags, IMAGE, *command)
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
    serve = ["sh", "-c", "echo ok > /www/index.html && exec httpd -f -p 80 -h /www"]
    name = _create(engine, _run_flags(inputs), serve)
    try:
        assert _read_back(engine.inspect(name)) == _sent(inputs)
    finally:
        engine.docker("rm", "--force", name, check=False)


def test_proxy_answers_on_ipv4_and_ipv6(engine: Engine, dev: ProgramRun) -> None:
    inputs = _container(dev, "-proxy").inputs
    name = _create(engine, _run_flags(inputs), ["sh", "-c", "echo ok > /www/index.html && exec httpd -f -p 80 -h /www"])
    try:
        port = int(inputs["ports"][0]["external"])
        for url in (f"http://127.0.0.1:{port}/", f"http://[::1]:{port}/"):
            answer = ""
            for _ in range(50):
                result = subprocess.run(
                    ["nsenter", f"--net=/var/run/netns/{engine.netns}", "curl", "-s", "--max-time", "2", url],
                    capture_output=True,
                    text=True,
                )
                answer = result.stdout.strip()
                if answer == "ok":
                    break
                time.sleep(0.1)
            assert answer == "ok", url
    finally:
        engine.docker("rm", "--force", name, check=False)


def test_partial_log_opts_read_back_merged_with_the_daemon_defaults(engine: Engine) -> None:
    """The old inputs: the provider would see keys it never sent, and replace the container."""
    name = _create(
        engine, ["--log-driver", "json-file", "--log-opt", "max-file=3", "--log-opt", "max-size=10m"], ["true"]
    )
    try:
        read = engine.inspect(name)["HostConfig"]["LogConfig"]["Config"]
        assert read != {"max-file": "3", "max-size": "10m"}
        assert read["compress"] == "true" and read["mode"] == "non-blocking" and read["cache-max-size"] == "30m"
    finally:
        engine.docker("rm", "--force", name, check=False)


def test_memory_without_swap_reads_back_twice_the_memory(engine: Engine) -> None:
    name = _create(engine, ["--memory", "64m"], ["true"])
    try:
        assert engine.inspect(name)["HostConfig"]["MemorySwap"] == 2 * 64 * 1024**2
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
        assert engine.inspect(name)["State"]["ExitCode"] == 137, "killed after the timeout"
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
