"""Tier 3: the program's networks and containers replayed on a real Docker engine.

The program runs under mocks; every docker Network and Container it registers is then
created on the local engine with the same names, internal flags, subnets, aliases,
attachments and volumes — but with a tiny busybox image (no image can be pulled here)
serving HTTP on port 80. Then we look from inside: who resolves and reaches whom.

Proves: the isolation the graph describes holds on a real engine (apps reach their own
database and cache by alias and nothing of another app's; backing services have no
route out; the edge reaches apps by alias only). Not proven: pulumi-docker's own mapping
of inputs to API calls, and the real images' behaviour. No traffic leaves this machine: the
"internet" is a network namespace this test makes, reached through the host's routing.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mockstack import ProgramRun, Registration, run_stack_file

pytestmark = pytest.mark.live

TEST_IMAGE = "selfhost-test/busybox:local"
BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "httpd", "nslookup", "wget", "nc", "printf", "sleep", "ip", "cat", "echo", "grep", "timeout")


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check, timeout=120)


def _skip_reason() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not installed (apt-get install docker.io)"
    if _docker("info", check=False).returncode != 0:
        return "no Docker engine answers `docker info` (start dockerd)"
    if (
        not BUSYBOX.exists()
        or "static" not in subprocess.run(["file", "-L", str(BUSYBOX)], capture_output=True, text=True).stdout
    ):
        return "no static busybox at /bin/busybox (apt-get install busybox-static file)"
    return None


REASON = _skip_reason() if shutil.which("file") else "`file` not installed (apt-get install file)"
if REASON is not None:
    pytest.skip(REASON, allow_module_level=True)


def _build_test_image() -> None:
    """A rootfs of one static busybox and its applets, imported as an image (no registry needed)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(BUSYBOX, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            archive.addfile(link)
        for directory in ("www", "tmp", "etc"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
    subprocess.run(["docker", "import", "-", TEST_IMAGE], input=buffer.getvalue(), capture_output=True, check=True)


def _attachments(container: Registration) -> list[tuple[str, list[str]]]:
    return [(n["name"], list(n.get("aliases", []))) for n in container.inputs["networksAdvanced"]]


def _replay(run: ProgramRun) -> list[str]:
    """Create the run's networks and containers on the engine; return the container names."""
    for network in run.of_type("docker:index/network:Network"):
        inputs = network.inputs
        args = ["network", "create", "--driver", inputs.get("driver", "bridge")]
        if inputs.get("internal"):
            args.append("--internal")
        for ipam in inputs.get("ipamConfigs") or []:
            args += ["--subnet", ipam["subnet"]]
        _docker(*args, inputs["name"])
    names = []
    for container in run.of_type("docker:index/container:Container"):
        inputs = container.inputs
        (first, first_aliases), *others = _attachments(container)
        args = [
            "run",
            "--detach",
            "--name",
            inputs["name"],
            "--network",
            first,
            "--memory",
            f"{int(inputs['memory'])}m",
        ]
        args += [arg for alias in first_aliases for arg in ("--network-alias", alias)]
        for volume in inputs.get("volumes", []):
            args += ["--volume", f"{volume['volumeName']}:{volume['containerPath']}"]
        probe_page = f"echo {inputs['name']} > /www/index.html && httpd -p 80 -h /www && sleep 600"
        _docker(*args, "--pull=never", TEST_IMAGE, "sh", "-c", probe_page)
        for network_name, aliases in others:
            alias_args = [arg for alias in aliases for arg in ("--alias", alias)]
            _docker("network", "connect", *alias_args, network_name, inputs["name"])
        names.append(inputs["name"])
    return names


@pytest.fixture(scope="module")
def replayed() -> Iterator[tuple[ProgramRun, str]]:
    _build_test_image()
    stack = f"live{uuid.uuid4().hex[:6]}"
    # A subnet of its own per run, so two runs on one engine do not collide.
    run = run_stack_file("dev", {"selfhost:edgeSubnet": f"172.29.{int(stack[4:6], 16)}.0/24"})
    # Same graph under a throwaway prefix, so a real dev stack on this engine is never touched.
    prefix = f"selfhost-{stack}"
    for registration in run.registrations:
        for key in ("name",):
            if isinstance(registration.raw_inputs.get(key), str):
                registration.raw_inputs[key] = registration.raw_inputs[key].replace("selfhost-dev", prefix)
        for attachment in registration.raw_inputs.get("networksAdvanced", []) or []:
            attachment["name"] = attachment["name"].replace("selfhost-dev", prefix)
        for volume in registration.raw_inputs.get("volumes", []) or []:
            if isinstance(volume, dict) and "volumeName" in volume:
                volume["volumeName"] = volume["volumeName"].replace("selfhost-dev", prefix)
    containers: list[str] = []
    try:
        containers = _replay(run)
        yield run, prefix
    finally:
        for name in containers:
            _docker("rm", "--force", "--volumes", name, check=False)
        for network in run.of_type("docker:index/network:Network"):
            _docker("network", "rm", network.inputs["name"], check=False)
        volumes = _docker("volume", "ls", "--quiet", "--filter", f"name={prefix}", check=False).stdout.split()
        if volumes:
            _docker("volume", "rm", *volumes, check=False)


OUTSIDE_ADDRESS = "198.18.0.2"
OUTSIDE_PORT = 8080


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A test host standing in for the internet: a network namespace of our own behind a veth,
    routed through this machine like any outside address, serving one page. Traffic stays here."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 not installed (apt-get install iproute2)")
    tag = uuid.uuid4().hex[:5]
    namespace, host_end, far_end = f"selfhost-out-{tag}", f"sho{tag}h", f"sho{tag}n"
    page = tmp_path_factory.mktemp("outside")
    (page / "index.html").write_text("outside\n")

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    server = None
    try:
        ip("netns", "add", namespace)
        ip("link", "add", host_end, "type", "veth", "peer", "name", far_end)
        ip("link", "set", far_end, "netns", namespace)
        ip("addr", "add", "198.18.0.1/30", "dev", host_end)
        ip("link", "set", host_end, "up")
        ip("netns", "exec", namespace, "ip", "addr", "add", f"{OUTSIDE_ADDRESS}/30", "dev", far_end)
        ip("netns", "exec", namespace, "ip", "link", "set", far_end, "up")
        ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                namespace,
                sys.executable,
                "-m",
                "http.server",
                str(OUTSIDE_PORT),
                "--bind",
                OUTSIDE_ADDRESS,
            ],
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
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


def _in(container: str, command: str) -> subprocess.CompletedProcess[str]:
    return _docker("exec", container, "sh", "-c", command, check=False)


def _resolve(source: str, name: str) -> str | None:
    """Ask Docker's DNS from inside ``source`` (static busybox's wget cannot resolve names itself)."""
    answer = _in(source, f"nslookup {name} 127.0.0.11")
    if answer.returncode != 0:
        return None
    addresses = [
        line.split()[-1] for line in answer.stdout.splitlines() if line.startswith("Address") and "#" not in line
    ]
    addresses = [address for address in addresses if not address.startswith("127.0.0.11")]
    return addresses[0] if addresses else None


def _get(source: str, address: str, port: int = 80) -> str | None:
    """HTTP GET / from inside ``source`` (busybox nc: the static busybox's wget crashes on lookups)."""
    result = _in(source, f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address} {port}")
    if result.returncode != 0 or "\n\n" not in result.stdout.replace("\r", ""):
        return None
    return result.stdout.replace("\r", "").split("\n\n", 1)[1].strip()


def _fetch(source: str, target: str) -> str | None:
    """The page ``target`` serves, fetched from inside ``source``; None if unresolvable or unreachable."""
    address = _resolve(source, target)
    return None if address is None else _get(source, address)


def test_apps_reach_their_own_database_and_cache_by_alias(replayed: tuple[ProgramRun, str]) -> None:
    _, prefix = replayed
    for app in ("blog", "cloud"):
        assert _fetch(f"{prefix}-{app}-app", "db") == f"{prefix}-{app}-db"
        assert _fetch(f"{prefix}-{app}-app", "redis") == f"{prefix}-{app}-redis"
    assert _fetch(f"{prefix}-cloud-cron", "db") == f"{prefix}-cloud-db"


def test_no_app_reaches_another_apps_backing_services(replayed: tuple[ProgramRun, str]) -> None:
    _, prefix = replayed
    for app, other in (("blog", "cloud"), ("cloud", "blog")):
        for role in ("db", "redis"):
            assert _fetch(f"{prefix}-{app}-app", f"{prefix}-{other}-{role}") is None


def test_proxy_reaches_apps_by_alias_but_no_backing_service(replayed: tuple[ProgramRun, str]) -> None:
    _, prefix = replayed
    probe = f"{prefix}-edge-probe"
    _docker(
        "run", "--detach", "--name", probe, "--network", f"{prefix}-edge", "--pull=never", TEST_IMAGE, "sleep", "600"
    )
    try:
        assert _fetch(probe, "app-blog") == f"{prefix}-blog-app"
        assert _fetch(probe, "app-cloud") == f"{prefix}-cloud-app"
        for target in ("db", "redis", f"{prefix}-blog-db", f"{prefix}-cloud-redis"):
            assert _fetch(probe, target) is None, target
    finally:
        _docker("rm", "--force", probe, check=False)


def test_backing_services_have_no_way_out(replayed: tuple[ProgramRun, str], outside: str) -> None:
    _, prefix = replayed
    for app in ("blog", "cloud"):
        # The control: an app on the edge network reaches the stand-in for the internet.
        assert _get(f"{prefix}-{app}-app", outside, OUTSIDE_PORT) == "outside"
        for role in ("db", "redis"):
            assert _get(f"{prefix}-{app}-{role}", outside, OUTSIDE_PORT) is None, f"{app}-{role} got out"


def test_state_lives_on_the_named_volumes(replayed: tuple[ProgramRun, str]) -> None:
    _, prefix = replayed
    volumes = set(_docker("volume", "ls", "--quiet", "--filter", f"name={prefix}").stdout.split())
    expected = {
        f"{prefix}-{name}" for name in ("blog-html", "blog-db-data", "cloud-html", "cloud-data", "cloud-db-data")
    }
    assert volumes == expected
    _in(f"{prefix}-cloud-app", "echo kept > /var/www/html/data/marker")
    assert _in(f"{prefix}-cloud-cron", "cat /var/www/html/data/marker").stdout.strip() == "kept"


def test_wp_cli_container_reaches_its_site_and_the_internet(replayed: tuple[ProgramRun, str], outside: str) -> None:
    """It installs the site (database, cache, the html volume) and downloads the cache plugin."""
    _, prefix = replayed
    cron = f"{prefix}-blog-cron"
    assert _fetch(cron, "db") == f"{prefix}-blog-db"
    assert _fetch(cron, "redis") == f"{prefix}-blog-redis"
    assert _fetch(cron, f"{prefix}-cloud-db") is None
    assert _get(cron, outside, OUTSIDE_PORT) == "outside"
    _in(f"{prefix}-blog-app", "echo shared > /var/www/html/marker")
    assert _in(cron, "cat /var/www/html/marker").stdout.strip() == "shared"
