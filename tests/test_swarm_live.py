"""Tier 3: a real two-node swarm of Docker 28 engines on this machine, running one app of the swarm stack.

Two engines from the unstable root (tests/dockerd28.py), each in its own network namespace, joined by
a veth pair: node ``manager1`` (the edge node) and node ``worker1``, labelled as the program's swarm host
labels them (components/hosts/swarm/host.py). The program's networks, secrets, configs, volumes and
services for the app ``blog`` and the proxy, taken from the graph of the real ``Pulumi.swarm.yaml`` under
mocks, are replayed onto it with the docker CLI (no image can be pulled: every service runs a static
busybox stand-in, with the program's placement, networks and aliases, secrets and configs with their
owner and mode, mounts, memory, endpoint mode, published ports and update order). This kernel has no
IPVS: the program's ``dnsrr`` endpoints and host-mode ports need none.

Checked: placement (the app's services on worker1, the proxy on manager1), secrets in the tasks with
the program's owner and mode, overlay DNS across the two nodes, the proxy's published port on
manager1 answering with the page of the app on worker1, and a start-first rolling update of a
stateless service with no failed request. Timings are printed (``pytest -s``).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import shlex
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from components.hosts.swarm.host import (
    EDGE_LABEL,
    NODE_LABEL,
    init_script,
    join_script,
    label_script,
    local_init_script,
    token_script,
)
from tests import docker_replay as replay
from tests.dockerd28 import STATE_MOUNT, Engine, running_engine, skip_reason
from tests.mockstack import ProgramRun, run_stack_file

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

APP = "blog"
PREFIX = "selfhost-swarm"
SERVICE = "docker:index/service:Service"
APPLETS = ("tail", "head", "sed", "wc", "ls", "seq", "date", "sort", "tr", "cut")
TIMINGS: dict[str, float] = {}


def kernel_has_esp() -> bool:
    """Whether this kernel can carry IPsec ESP, which encrypted overlays need for their data (the test
    machine's 6.18 kernel is built without CONFIG_INET_ESP: the engine creates the encrypted network, and
    DNS across nodes works, but no packet passes between the nodes on it)."""
    try:
        with gzip.open("/proc/config.gz", "rt") as config:
            text = config.read()
    except OSError:
        return True  # unknown: replay as the program sends
    return bool(re.search(r"^CONFIG_INET_ESP=[ym]$", text, re.M))


ESP = kernel_has_esp()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def wanted_services(run: ProgramRun) -> list[Any]:
    names = {f"{PREFIX}-proxy", *(f"{PREFIX}-{APP}-{role}" for role in ("app", "cron", "db", "redis"))}
    return [r for r in run.of_type(SERVICE) if r.inputs["name"] in names]


def network_names(run: ProgramRun) -> dict[str, Mapping[str, Any]]:
    """Mock network id -> the network's inputs (the mocks' ids are ``<resource name>-id``)."""
    return {f"{r.name}-id": r.inputs for r in run.of_type("docker:index/network:Network")}


def objects(run: ProgramRun, type_token: str) -> dict[str, Mapping[str, Any]]:
    return {f"{r.name}-id": r.inputs for r in run.of_type(type_token)}


def health_for(name: str) -> list[str]:
    test = replay.health_test(name)
    return ["--health-cmd", test[1], "--health-interval", "1s", "--health-retries", "3", "--health-start-period", "1s"]


def resolve(name: str) -> str:
    """Shell: the first address Docker's DNS gives for ``name`` (static busybox's libc resolves nothing)."""
    return (
        f"nslookup {name} 127.0.0.11 | sed -n 's/^Address[^:]*:[[:space:]]*//p' "
        "| grep -v '^127\\.0\\.0\\.11' | head -n1"
    )


PROXY_FORWARD = (
    "#!/bin/sh\n"
    "page=\n"
    "for a in $(nslookup app-blog 127.0.0.11 | sed -n 's/^Address[^:]*:[[:space:]]*//p' "
    "| grep -v '^127\\.0\\.0\\.11'); do\n"
    "  page=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 \"$a\" 80 | tr -d '\\r' | sed '1,/^$/d')\n"
    '  [ -n "$page" ] && break\n'
    "done\n"
    'printf "Content-Type: text/plain\\r\\n\\r\\n"\n'
    "printf '%s\\n' \"$page\"\n"
)
"""The proxy stand-in's CGI: resolve the app's alias on the edge overlay and fetch its page, trying the
next address when one does not answer (the generated nginx config's ``proxy_next_upstream error``)."""


def service_create_args(service: Any, run: ProgramRun) -> list[str]:
    """``docker service create`` for one of the program's services, as the provider would create it."""
    inputs = service.inputs
    name = inputs["name"]
    task = inputs["taskSpec"]
    spec = task["containerSpec"]
    networks = network_names(run)
    secrets = objects(run, "docker:index/secret:Secret")
    configs = objects(run, "docker:index/serviceConfig:ServiceConfig")
    args = ["service", "create", "--detach", "--name", name, "--endpoint-mode", inputs["endpointSpec"]["mode"]]
    for constraint in task["placement"]["constraints"]:
        args += ["--constraint", constraint]
    for attachment in task["networksAdvanceds"]:
        network = networks[attachment["id"]]["name"]
        aliases = "".join(f",alias={alias}" for alias in attachment.get("aliases", []))
        args += ["--network", f"name={network}{aliases}"]
    for secret in spec.get("secrets", []):
        source = secrets[secret["secretId"]]["name"]
        args += [
            "--secret",
            f"source={source},target={secret['fileName']},uid={secret['fileUid']},gid={secret['fileGid']},"
            f"mode={int(secret['fileMode'])}",
        ]
    for config in spec.get("configs", []):
        source = configs[config["configId"]]["name"]
        args += [
            "--config",
            f"source={source},target={config['fileName']},uid={config['fileUid']},gid={config['fileGid']},"
            f"mode={int(config['fileMode'])}",
        ]
    for mount in spec.get("mounts", []):
        if mount["type"] == "tmpfs":  # the proxy's microcache
            options = mount["tmpfsOptions"]
            size, mode = int(options["sizeBytes"]), int(options["mode"])
            args += ["--mount", f"type=tmpfs,target={mount['target']},tmpfs-size={size},tmpfs-mode={mode:o}"]
        else:
            args += ["--mount", f"type=volume,source={mount['source']},target={mount['target']}"]
    limits = task["resources"]
    args += ["--limit-memory", str(int(limits["limits"]["memoryBytes"]))]
    if "reservation" in limits:
        args += ["--reserve-memory", str(int(limits["reservation"]["memoryBytes"]))]
    for port in inputs["endpointSpec"].get("ports", []):
        if int(port["targetPort"]) == 80:  # 443 has no stand-in: it would only be published, never answered
            args += ["--publish", f"mode={port['publishMode']},target=80,published={int(port['publishedPort'])}"]
    if inputs["mode"].get("global"):
        args += ["--mode", "global"]
    update = inputs["updateConfig"]
    args += ["--update-order", update["order"], "--update-parallelism", str(int(update["parallelism"]))]
    args += ["--update-failure-action", update["failureAction"], "--restart-condition", "any"]
    args += ["--stop-grace-period", "2s"]  # the stand-in stops at once; the program's is minutes
    for label in inputs["labels"]:
        args += ["--label", f"{label['label']}={label['value']}"]
    args += health_for(name)
    command = replay.stand_in_command(name)
    if name.endswith("-proxy"):
        script = base64.b64encode(PROXY_FORWARD.encode()).decode()
        serve = (
            f"mkdir -p /tmp/www/cgi-bin && echo {shlex.quote(script)} | base64 -d > /tmp/www/cgi-bin/forward && "
            "chmod 755 /tmp/www/cgi-bin/forward && "
        )
        command = ["sh", "-c", serve + command[2]]
    return [*args, replay.STAND_IN_IMAGE, *command]


def run_script(engine: Engine, script: str, stdin: str | None = None) -> str:
    """A shell script with the engine's docker CLI, as pulumi-command runs one on a server; its stdout."""
    argv = engine.in_engine("env", f"DOCKER_HOST=unix://{STATE_MOUNT}/docker.sock", "sh", "-c", script)
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait_for(what: str, check: Any, timeout: float = 120.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.5)
    return time.monotonic() - started


def running_on(manager: Engine, service: str) -> list[str]:
    out = manager.docker(
        "service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}"
    ).stdout
    return [line.split()[0] for line in out.splitlines() if " Running " in f" {line} "]


def task_container(engine: Engine, service: str) -> str:
    ids = engine.docker("ps", "--quiet", "--filter", f"label=com.docker.swarm.service.name={service}").stdout.split()
    assert ids, f"no task container of {service} on this engine"
    return ids[0]


@pytest.fixture(scope="module")
def swarm() -> Iterator[tuple[Engine, Engine, dict[str, str]]]:
    run = run_stack_file("swarm")
    tag = uuid.uuid4().hex[:6]
    subnet = f"10.{100 + int(tag[:2], 16) % 100}.{int(tag[2:4], 16)}"
    addresses = {"manager1": f"{subnet}.1", "worker1": f"{subnet}.2"}
    with running_engine() as manager, running_engine() as worker:
        left, right = f"swm{tag}", f"sww{tag}"
        _ip("link", "add", left, "netns", manager.netns, "type", "veth", "peer", "name", right, "netns", worker.netns)
        for engine, device, address in ((manager, left, "manager1"), (worker, right, "worker1")):
            _ip("-n", engine.netns, "addr", "add", f"{addresses[address]}/24", "dev", device)
            _ip("-n", engine.netns, "link", "set", device, "up")
        busybox = manager.root / "usr/bin/busybox"
        image = replay.stand_in_image_tar(busybox, extra_applets=APPLETS)
        for engine in (manager, worker):
            engine.docker("import", "-", replay.STAND_IN_IMAGE, input=image)
        # The program's own init, token, join and label scripts (components/hosts/swarm/host.py), as its
        # SSH steps run them on the servers, here run in each engine's namespaces.
        started = time.monotonic()
        ids = {"manager1": run_script(manager, init_script(addresses["manager1"]))}
        token = run_script(manager, token_script("worker"))
        ids["worker1"] = run_script(
            worker, join_script(addresses["worker1"], addresses["manager1"]), stdin=token + "\n"
        )
        again = run_script(worker, join_script(addresses["worker1"], addresses["manager1"]), stdin=token + "\n")
        assert again == ids["worker1"]  # idempotent: a node already in the swarm is left alone
        TIMINGS["swarm init + join"] = time.monotonic() - started
        for name, node_id in ids.items():
            assert run_script(manager, label_script(node_id, name, edge=name == "manager1")) == name
        # The program's objects for the app and the proxy.
        for network in network_names(run).values():
            if network["name"] == f"{PREFIX}-cloud-backend":
                continue
            args = ["network", "create", "--driver", network["driver"]]
            options = dict(network.get("options", {}))
            assert options == {"encrypted": "true"}, network  # what the program sends
            if not ESP:
                # Created encrypted once, to show the engine takes the program's network; replayed plain.
                manager.docker("network", "create", "--driver", "overlay", "--opt=encrypted=true", f"probe-{tag}")
                manager.docker("network", "rm", f"probe-{tag}")
                options = {}
            args += [f"--opt={key}={value}" for key, value in options.items()]
            args += ["--internal"] if network.get("internal") else []
            args += [f"--subnet={c['subnet']}" for c in network.get("ipamConfigs", [])]
            manager.docker(*args, network["name"])
        services = wanted_services(run)
        used = {
            ref
            for service in services
            for kind in ("secrets", "configs")
            for ref in (
                item.get("secretId") or item.get("configId")
                for item in service.inputs["taskSpec"]["containerSpec"].get(kind, [])
            )
        }
        for kind, token_type in (
            ("secret", "docker:index/secret:Secret"),
            ("config", "docker:index/serviceConfig:ServiceConfig"),
        ):
            for ref, inputs in objects(run, token_type).items():
                if ref in used:
                    manager.docker(kind, "create", inputs["name"], "-", input=base64.b64decode(inputs["data"]))
        for volume in run.of_type("docker:index/volume:Volume"):
            name = volume.inputs["name"]
            if not name.startswith(f"{PREFIX}-{APP}-"):
                continue
            device = volume.inputs["driverOpts"]["device"]
            subprocess.run(worker.in_engine("mkdir", "-p", device), check=True)
            opts = [f"--opt={key}={value}" for key, value in sorted(volume.inputs["driverOpts"].items())]
            worker.docker("volume", "create", "--driver", "local", *opts, name)
        started = time.monotonic()
        for service in services:
            manager.docker(*service_create_args(service, run))
        for service in services:
            wait_for(service.inputs["name"], lambda s=service.inputs["name"]: bool(running_on(manager, s)), 180)
        TIMINGS["5 services running and healthy"] = time.monotonic() - started
        yield manager, worker, addresses
        for service in services:
            manager.docker("service", "rm", service.inputs["name"], check=False)
        worker.docker("swarm", "leave", "--force", check=False)
        manager.docker("swarm", "leave", "--force", check=False)
        print("\nswarm timings (s):", {key: round(value, 1) for key, value in TIMINGS.items()}, "ESP:", ESP)


def test_placement_is_honoured(swarm: tuple[Engine, Engine, dict[str, str]]) -> None:
    """Both engines share this machine's host name: a task's node is told by the engine that runs it."""
    manager, worker, _ = swarm

    def tasks(engine: Engine, service: str) -> list[str]:
        return engine.docker(
            "ps", "--quiet", "--filter", f"label=com.docker.swarm.service.name={service}"
        ).stdout.split()

    for role in ("app", "cron", "db", "redis"):
        service = f"{PREFIX}-{APP}-{role}"
        assert len(tasks(worker, service)) == 1 and not tasks(manager, service), service
    assert len(tasks(manager, f"{PREFIX}-proxy")) == 1 and not tasks(worker, f"{PREFIX}-proxy")


def test_secrets_in_the_tasks_have_the_programs_owner_and_mode(swarm: tuple[Engine, Engine, dict[str, str]]) -> None:
    _, worker, _ = swarm
    container = task_container(worker, f"{PREFIX}-{APP}-db")
    for path in ("/run/secrets/db_password", "/run/secrets/db_root_password"):
        seen = worker.docker("exec", container, "stat", "-c", "%u:%g:%a", path).stdout.strip()
        assert seen == "999:999:400", path
    env = worker.docker("inspect", "--format", "{{json .Config.Env}}", container).stdout
    assert "PASSWORD=" not in env


def test_overlay_dns_and_the_proxy_on_one_node_answers_for_the_app_on_the_other(
    swarm: tuple[Engine, Engine, dict[str, str]],
) -> None:
    manager, _, addresses = swarm
    proxy = task_container(manager, f"{PREFIX}-proxy")
    answer = manager.docker("exec", proxy, "nslookup", "app-blog", "127.0.0.11").stdout
    assert "Address" in answer.split("app-blog", 1)[-1]
    direct = manager.docker("exec", proxy, "sh", "/tmp/www/cgi-bin/forward", check=False)
    assert direct.stdout.strip().endswith(f"{PREFIX}-{APP}-app"), (answer, direct)
    page = manager.run_in_namespace(
        "curl", "--silent", "--fail", "--max-time", "10", f"http://{addresses['manager1']}/cgi-bin/forward"
    )
    assert page.returncode == 0 and page.stdout.strip() == f"{PREFIX}-{APP}-app", page


def test_a_start_first_rolling_update_fails_no_request(swarm: tuple[Engine, Engine, dict[str, str]]) -> None:
    """WordPress's Apache is replaced create-first on one host, so start-first on a swarm (the blog's app, on
    the worker). A client asks it through the proxy's host-mode port on the manager all through an update."""
    manager, _, addresses = swarm
    service = f"{PREFIX}-{APP}-app"
    url = f"http://{addresses['manager1']}/cgi-bin/forward"
    counts = {"ok": 0, "bad": 0}
    stop = threading.Event()

    def requests() -> None:
        while not stop.is_set():
            page = manager.run_in_namespace("curl", "--silent", "--fail", "--max-time", "5", url)
            counts["ok" if page.returncode == 0 and page.stdout.strip() == service else "bad"] += 1
            time.sleep(0.2)

    thread = threading.Thread(target=requests)
    thread.start()
    try:
        time.sleep(3)
        started = time.monotonic()
        manager.docker("service", "update", "--force", "--detach=false", service, timeout=120)
        TIMINGS["start-first update of the blog's app"] = time.monotonic() - started
        time.sleep(3)
    finally:
        stop.set()
        thread.join(timeout=30)
    TIMINGS["requests during update (ok)"] = counts["ok"]
    assert counts["ok"] > 20 and counts["bad"] == 0, counts


def test_local_swarm_init_makes_and_labels_a_one_node_swarm_idempotently() -> None:
    """``host: local-swarm``'s init step (components/hosts/swarm/host.py) on a fresh Docker 28, twice."""
    with running_engine() as engine:
        argv = engine.in_engine("env", f"DOCKER_HOST=unix://{STATE_MOUNT}/docker.sock", "sh", "-c", local_init_script())
        first = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        again = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        assert first.returncode == 0 and again.returncode == 0, (first.stderr, again.stderr)
        assert first.stdout.strip() == again.stdout.strip() != ""
        labels = engine.docker("node", "inspect", "--format", "{{json .Spec.Labels}}", "self").stdout
        assert json.loads(labels) == {NODE_LABEL: "local", EDGE_LABEL: "true"}
        engine.docker("swarm", "leave", "--force", check=False)
