"""Tier 2: the whole program under mocks with the real Pulumi.swarm.yaml (host=swarm), and host=local-swarm.

Proves what the program sends for a swarm: the nodes, their private network and firewall, the
order of init and joins with the tokens as secrets, the services built from the same specs as
the single host (placement by node label, secrets and configs by content hash with owner and
mode, encrypted overlays, host-mode ports for the proxy, start-first only without volumes,
health-gated convergence), each app's volumes through its node's engine, the refusal to move
an app, and determinism. It does not prove that a real swarm behaves so.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from typing import Any

import pytest

from components.apps.spec import File
from components.core.container import SERVICE_LABEL, FileUpload
from components.hosts.swarm import host as swarm_host
from components.swarm import service as swarm_service
from config.hetzner import SERVER_TYPES
from config.loading import settings_from_config
from config.memory import MemoryBudget
from config.swarm import NodeCapacity, place_apps
from stack import app_specs, swarm_file_problems
from tests.mockstack import (
    MOCK_DOCKER_VERSION,
    ProgramRun,
    as_cli_string,
    is_secret,
    run_program,
    run_stack_file,
    service_name,
    stack_file_config,
    walk,
)

SERVICE = "docker:index/service:Service"


@pytest.fixture(scope="module")
def swarm() -> ProgramRun:
    return run_stack_file("swarm")


def services(run: ProgramRun) -> dict[str, Any]:
    return {r.inputs["name"]: r for r in run.of_type(SERVICE)}


def test_nodes_private_network_and_firewall(swarm: ProgramRun) -> None:
    servers = {
        r.inputs["name"].removeprefix("selfhost-swarm-"): r.inputs for r in swarm.of_type("hcloud:index/server:Server")
    }
    assert {name: s["serverType"] for name, s in servers.items()} == {
        "manager1": "cx23",
        "worker1": "cx33",
        "worker2": "cx33",
    }
    assert len(swarm.of_type("hcloud:index/volume:Volume")) == 3
    for ip in swarm.of_type("hcloud:index/primaryIp:PrimaryIp"):
        assert ip.protect and ip.inputs["autoDelete"] is False  # kept when a server is replaced: DNS stays right
    assert len(swarm.of_type("hcloud:index/primaryIp:PrimaryIp")) == 3
    network = swarm.named("host-network").inputs
    assert network["ipRange"] == "10.20.0.0/16"
    assert swarm.named("host-subnet").inputs["ipRange"] == "10.20.0.0/24"
    assert swarm.named("host-subnet").inputs["networkZone"] == "eu-central"
    assert len(swarm.of_type("hcloud:index/serverNetwork:ServerNetwork")) == 3
    rules = {
        (r["protocol"], r.get("port", ""), tuple(r["sourceIps"])) for r in swarm.named("host-firewall").inputs["rules"]
    }
    private = ("10.20.0.0/16",)
    anywhere = ("0.0.0.0/0", "::/0")
    assert rules == {
        ("tcp", "80", anywhere),
        ("tcp", "443", anywhere),
        ("tcp", "22", ("203.0.113.0/24",)),
        ("icmp", "", anywhere),
        ("tcp", "2377", private),
        ("tcp", "7946", private),
        ("udp", "7946", private),
        ("udp", "4789", private),
        ("esp", "", private),
    }


def test_init_then_joins_in_order_with_secret_tokens(swarm: ProgramRun) -> None:
    init = swarm.named("host-init")
    assert "docker swarm init --advertise-addr" in init.inputs["create"]
    join1, join2 = swarm.named("host-join-worker1"), swarm.named("host-join-worker2")
    assert init.urn in join1.dependencies and join1.urn in join2.dependencies
    for join in (join1, join2):
        assert is_secret(join.raw_inputs["stdin"])
        assert '--token "$token"' in join.inputs["create"] and "SWMTKN" not in join.inputs["create"]
    for role in ("manager", "worker"):
        token = swarm.named(f"host-{role}-token")
        assert "stdout" in token.additional_secret_outputs and token.inputs["logging"] == "none"
    labels = {r.name: r.inputs["create"] for r in swarm.of_type("command:remote:Command") if "-label-" in r.name}
    assert "selfhost.node=manager1" in labels["host-label-manager1"]
    assert "selfhost.edge=true" in labels["host-label-manager1"]
    assert "selfhost.edge=false" in labels["host-label-worker1"]
    assert MOCK_DOCKER_VERSION in labels["host-label-worker2"]  # the id the join printed


def test_every_service_of_every_app_is_placed_on_its_node(swarm: ProgramRun) -> None:
    found = services(swarm)
    placement = {"blog": "worker1", "cloud": "worker2"}
    assert set(found) == {
        "selfhost-swarm-proxy",
        *(f"selfhost-swarm-{app}-{role}" for app in placement for role in ("app", "cron", "db", "redis")),
    }
    for name, service in found.items():
        constraints = service.inputs["taskSpec"]["placement"]["constraints"]
        if name == "selfhost-swarm-proxy":
            assert constraints == ["node.labels.selfhost.edge==true"]
            assert service.inputs["mode"] == {"global": True}
            ports = service.inputs["endpointSpec"]["ports"]
            assert {(p["targetPort"], p["publishedPort"], p["publishMode"]) for p in ports} == {
                (80, 80, "host"),
                (443, 443, "host"),
            }
            continue
        app = name.split("-")[2]
        assert constraints == [f"node.labels.selfhost.node=={placement[app]}"], name
        assert service.inputs["mode"] == {"replicated": {"replicas": 1}}
        assert service.inputs["endpointSpec"]["mode"] == "dnsrr"
        assert service.inputs["convergeConfig"]["timeout"].endswith("s")
        order = service.inputs["updateConfig"]["order"]
        # Only WordPress's Apache is replaced create-first among the dev apps (tests/test_replacement.py).
        assert order == ("start-first" if name == "selfhost-swarm-blog-app" else "stop-first"), name
        assert "delay" not in service.inputs["taskSpec"]["restartPolicy"]  # pulumi-docker#1285


def test_secrets_by_content_hash_with_owner_and_mode(swarm: ProgramRun) -> None:
    db = services(swarm)["selfhost-swarm-blog-db"]
    references = db.inputs["taskSpec"]["containerSpec"]["secrets"]
    assert {(s["fileName"], s["fileUid"], s["fileGid"], s["fileMode"]) for s in references} == {
        ("/run/secrets/db_password", "999", "999", 0o400),
        ("/run/secrets/db_root_password", "999", "999", 0o400),
    }
    assert not any(key.endswith("PASSWORD") for key in db.inputs["taskSpec"]["containerSpec"]["env"])
    for secret in swarm.of_type("docker:index/secret:Secret"):
        assert is_secret(secret.raw_inputs["data"]), secret.name
        assert secret.inputs["name"].rsplit("-", 1)[-1].isalnum()
        assert len(secret.inputs["name"].rsplit("-", 1)[-1]) == swarm_service.HASH_LENGTH
    configs = {c.inputs["name"] for c in swarm.of_type("docker:index/serviceConfig:ServiceConfig")}
    assert any(name.startswith("selfhost-swarm-proxy-nginx-conf-") for name in configs)


def test_networks_are_encrypted_overlays(swarm: ProgramRun) -> None:
    networks = {r.inputs["name"]: r.inputs for r in swarm.of_type("docker:index/network:Network")}
    assert set(networks) == {"selfhost-swarm-edge", "selfhost-swarm-blog-backend", "selfhost-swarm-cloud-backend"}
    for name, network in networks.items():
        assert network["driver"] == "overlay" and network["options"] == {"encrypted": "true"}, name
    assert networks["selfhost-swarm-blog-backend"]["internal"] is True
    app = services(swarm)["selfhost-swarm-blog-app"].inputs["taskSpec"]["networksAdvanceds"]
    # By id, never by name (the provider would replace the service on every run).
    assert {n["id"]: n.get("aliases", []) for n in app} == {
        "edge-network-id": ["app-blog"],
        "blog-backend-network-id": [],
    }
    assert not any("name" in n for n in app)


def test_volumes_through_their_nodes_engine_retained_and_protected(swarm: ProgramRun) -> None:
    engines = {r.urn: r.name for r in swarm.of_type("pulumi:providers:docker")}
    volumes = {r.inputs["name"]: r for r in swarm.of_type("docker:index/volume:Volume")}
    expected = {
        "selfhost-swarm-blog-html": "worker1",
        "selfhost-swarm-blog-db-data": "worker1",
        "selfhost-swarm-cloud-html": "worker2",
        "selfhost-swarm-cloud-data": "worker2",
        "selfhost-swarm-cloud-db-data": "worker2",
        "selfhost-swarm-proxy-acme": "manager1",
    }
    assert set(volumes) == set(expected)
    for name, node in expected.items():
        volume = volumes[name]
        assert engines[volume.provider.rsplit("::", 1)[0]] == f"host-{node}-docker", name
        assert volume.retain_on_delete and volume.protect
        assert volume.inputs["driverOpts"]["device"] == f"/srv/selfhost/volumes/{name}"
    for service in swarm.of_type(SERVICE):
        assert engines[service.provider.rsplit("::", 1)[0]] == "host-docker"


def test_the_node_labels_agree_with_the_constraints() -> None:
    assert (swarm_host.NODE_LABEL, swarm_host.EDGE_LABEL) == (swarm_service.NODE_LABEL, swarm_service.EDGE_LABEL)


def test_moving_an_app_is_refused_at_preview() -> None:
    config, secrets = stack_file_config("swarm")
    with pytest.raises(Exception, match=r"swarm\.placement\.blog: app 'blog' ran on node 'worker2'"):
        run_program(
            config, stack="swarm", secret_keys=secrets, previous_outputs={"swarmPlacement": {"blog": "worker2"}}
        )
    run = run_program(
        config, stack="swarm", secret_keys=secrets, previous_outputs={"swarmPlacement": {"blog": "worker1"}}
    )
    assert run.outputs["swarmPlacement"] == {"blog": "worker1", "cloud": "worker2"}
    # After the operator copied the data (docs/swarm.md), swarm.moved lets that one deploy through.
    moved = {**config, "selfhost:swarm": {**config["selfhost:swarm"], "moved": ["blog"]}}
    run = run_program(
        moved, stack="swarm", secret_keys=secrets, previous_outputs={"swarmPlacement": {"blog": "worker2"}}
    )
    assert run.outputs["swarmPlacement"]["blog"] == "worker1"


def test_two_runs_send_the_same_graph() -> None:
    def graph(run: ProgramRun) -> str:
        return json.dumps(
            sorted((r.urn, r.inputs, sorted(r.dependencies)) for r in run.registrations), sort_keys=True, default=str
        )

    assert graph(run_stack_file("swarm")) == graph(run_stack_file("swarm"))


def test_local_swarm_runs_the_dev_apps_as_services_on_one_node() -> None:
    config, secrets = stack_file_config("dev")
    config["selfhost:host"] = "local-swarm"
    config.pop("selfhost:backups")  # not on a swarm yet (config/settings.py, _backups_on_one_host)
    run = run_program(config, stack="dev", secret_keys=secrets)
    assert run.named("host").type == "selfhost:index:LocalSwarmHost"
    assert "docker swarm init --advertise-addr 127.0.0.1" in run.named("host-init").inputs["create"]
    found = services(run)
    assert len(found) == 9 and not run.of_type("docker:index/container:Container")
    assert all(
        s.inputs["taskSpec"]["placement"]["constraints"]
        in (["node.labels.selfhost.node==local"], [swarm_service.EDGE_CONSTRAINT])
        for s in found.values()
    )
    assert {s.inputs["labels"][0]["label"] for s in found.values()} == {SERVICE_LABEL}


def _budget(app: str, reservation_mib: int) -> MemoryBudget:
    size = reservation_mib * 1024**2
    return MemoryBudget(f"apps.{app}.memory.app", f"apps.{app}.memoryReservation.app", size, size, f"apps.{app}")


def test_spreading_fills_the_node_with_most_room_and_keeps_pins() -> None:
    nodes = [
        NodeCapacity("a", SERVER_TYPES["cx23"], 768 * 1024**2),
        NodeCapacity("b", SERVER_TYPES["cx33"], 768 * 1024**2),
    ]
    budgets = [_budget("one", 1024), _budget("two", 1024), _budget("three", 512)]
    assert place_apps(["one", "two", "three"], {}, nodes, budgets, ["a"]) == {"one": "b", "three": "b", "two": "b"}
    assert place_apps(["one", "two", "three"], {"two": "a"}, nodes, budgets, ["a"])["two"] == "a"


def test_secrets_reach_services_only_as_swarm_secrets(swarm: ProgramRun) -> None:
    """Swarm secrets carry their data base64-encoded: every password, in either form, sits only in a
    secret-marked ``docker.Secret`` (or the password's own resource), never unmarked anywhere."""
    passwords = swarm.generated_passwords()
    assert passwords
    encoded = {base64.b64encode(p.encode()).decode(): p for p in passwords}
    carried: set[str] = set()
    for secret in swarm.of_type("docker:index/secret:Secret"):
        assert is_secret(secret.raw_inputs["data"])
        text = base64.b64decode(secret.inputs["data"]).decode()
        carried |= {p for p in passwords if p in text}
    assert carried == passwords, "a generated password reaches no Swarm secret"
    forms = passwords | set(encoded)
    for registration in swarm.registrations:
        for path, value, marked in walk(registration.raw_inputs):
            if isinstance(value, str) and any(form in value for form in forms):
                assert marked, f"{registration.name}.{path} holds a password unmarked"
                assert registration.type in (
                    "docker:index/secret:Secret",
                    "random:index/randomPassword:RandomPassword",
                ), f"{registration.name}.{path}"
    for path, value, marked in walk(swarm.outputs):
        if isinstance(value, str) and any(form in value for form in forms):
            assert marked, f"stack output {path}"


def test_secret_and_config_names_fit_swarms_limit(swarm: ProgramRun) -> None:
    names = [
        r.inputs["name"]
        for r in swarm.of_type("docker:index/secret:Secret") + swarm.of_type("docker:index/serviceConfig:ServiceConfig")
    ]
    assert len(set(names)) == len(names)
    for name in names:
        assert len(name) <= swarm_service.NAME_LIMIT and re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*[a-zA-Z0-9]", name)
    long = swarm_service.object_name("selfhost-production-cloud-app", "/etc/apache2/conf-enabled/" + "x" * 80, "a" * 12)
    assert len(long) == swarm_service.NAME_LIMIT and long.endswith("-" + "a" * 12)


def test_every_kind_runs_on_the_swarm_as_the_same_processes() -> None:
    """The lab stack (one app of every kind) on local-swarm: a service for each container of the single
    host, same names, same networks and mounts, secrets as Swarm secrets where the host uploads secret files."""
    config, secrets = stack_file_config("lab")
    without_backups = {key: value for key, value in config.items() if key != "selfhost:backups"}  # not on a swarm yet
    single = run_program(without_backups, stack="lab", secret_keys=secrets)
    swarmed = run_program({**without_backups, "selfhost:host": "local-swarm"}, stack="lab", secret_keys=secrets)
    # Keyed by the stable service name: a create-first container's name carries a generation suffix.
    containers = {service_name(r): r.inputs for r in single.of_type("docker:index/container:Container")}
    found = {r.inputs["name"]: r.inputs for r in swarmed.of_type(SERVICE)}
    assert set(found) == set(containers)
    kinds = {r.type for r in swarmed.registrations if r.type.startswith("selfhost:index:")}
    assert {"selfhost:index:WordPress", "selfhost:index:Nextcloud", "selfhost:index:RocketChat"} <= kinds
    for name, container in containers.items():
        spec = found[name]["taskSpec"]["containerSpec"]
        mounts = spec.get("mounts", [])
        assert sorted(m["target"] for m in mounts if m["type"] == "volume") == sorted(
            v["containerPath"] for v in container.get("volumes", [])
        ), name
        # The proxy's microcache tmpfs: the same paths, size and mode as the single host's tmpfs map.
        tmpfs = {
            m["target"]: f"size={int(m['tmpfsOptions']['sizeBytes'])},mode={int(m['tmpfsOptions']['mode']):04o}"
            for m in mounts
            if m["type"] == "tmpfs"
        }
        assert tmpfs == (container.get("tmpfs") or {}), name
        uploads = {u["file"]: u for u in container.get("uploads", [])}
        files = {s["fileName"]: s for s in spec.get("secrets", []) + spec.get("configs", [])}
        assert set(files) == set(uploads), name
        for path, upload in uploads.items():
            assert int(files[path]["fileMode"]) == int(upload.get("permissions", "0644"), 8), (name, path)
            assert files[path]["fileUid"] == upload.get("owner", "0"), (name, path)
        assert sorted(spec.get("env", {})) == sorted(e.split("=", 1)[0] for e in container.get("envs", [])), name


def test_a_file_larger_than_swarm_takes_is_found() -> None:
    big = FileUpload("/srv/site/video.bin", "", content_base64=base64.b64encode(b"x" * (500 * 1024 + 1)).decode())
    assert swarm_service.too_large(big) == 500 * 1024 + 1
    assert swarm_service.too_large(FileUpload("/etc/small.conf", "ok")) is None


def test_service_durations_are_written_as_the_provider_reads_them_back(swarm: ProgramRun) -> None:
    assert [swarm_service.service_duration(v) for v in ("60s", "2m", 90, "1h", "30s")] == [
        "1m",
        "2m",
        "1m30s",
        "1h",
        "30s",
    ]
    db = services(swarm)["selfhost-swarm-blog-db"].inputs
    health = db["taskSpec"]["containerSpec"]["healthcheck"]
    assert (health["interval"], health["timeout"], health["startPeriod"]) == ("30s", "10s", "1m")
    assert db["taskSpec"]["containerSpec"]["stopGracePeriod"] == "1m"


def test_a_file_too_large_for_swarm_is_refused_naming_the_app_before_any_resource() -> None:
    """A static site's big asset fits an upload on one host, not a Swarm config: refused by config key."""
    values, secret_keys = stack_file_config("lab")
    settings = settings_from_config({k: as_cli_string(v) for k, v in values.items()}, frozenset(secret_keys))
    specs = app_specs(settings)
    www = specs["www"]
    big = File("/usr/share/nginx/html/video.bin", content_base64=base64.b64encode(b"x" * (500 * 1024 + 1)).decode())
    app = www.services[0]
    specs["www"] = dataclasses.replace(
        www, services=(dataclasses.replace(app, files=(*app.files, big)), *www.services[1:])
    )
    [problem] = swarm_file_problems(specs)
    assert problem.startswith("selfhost:apps.www: /usr/share/nginx/html/video.bin (app) is 512001 bytes;")
    assert swarm_file_problems(app_specs(settings)) == []
