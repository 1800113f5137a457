"""How each container is replaced (issue 14): tiers 1 and 2.

Tier 2 runs the real program on every shipped stack file under mocks and checks what it sends the engine
for each container: ``delete_before_replace`` set explicitly (True: stop-first, fixed name; False:
create-first, over pulumi-docker's own ``DeleteBeforeReplace: true``) and the name that goes with it.
Mocks prove what the program asks for; the engine's and Docker's side is bench/replace_under_load.py's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import crossplane
import pulumi_docker as docker
import pytest

from components.apps.container.settings import ContainerApp
from components.apps.container.spec import replacement as container_replacement
from components.core import container as core
from components.core.container import CONTAINER_INPUTS, Healthcheck, ServiceSpec, replacement_inputs
from components.edge.nginx.config import PublicPorts, TlsSettings, render_nginx_config
from components.edge.routes import ProxyRoute
from tests.mockstack import ProgramRun, Registration, is_secret, run_stack_file, service_name, stack_file_config
from tests.stateful_urns import container_stacks

CONTAINER = "docker:index/container:Container"
RANDOM_ID = "random:index/randomId:RandomId"

CREATE_FIRST = "create-first"
STOP_FIRST = "stop-first"
EXPECTED: dict[str, str] = {
    # (kind, role) -> strategy, and why (the kinds' spec.py say it at length).
    "wordpress/app": CREATE_FIRST,  # Apache + PHP: no state of its own, the image writes no file on a bump
    "wordpress/cron": STOP_FIRST,  # wp-cli's setup script and wp-cron must not run twice; it serves nobody
    "nextcloud/app": STOP_FIRST,  # the entrypoint upgrades code and database: no old version beside it
    "nextcloud/cron": STOP_FIRST,  # no old background jobs during an upgrade
    "rocketchat/app": STOP_FIRST,  # migrates MongoDB on start
    "static/app": CREATE_FIRST,  # nginx with uploaded files, no volume
    "container/app@volumes": STOP_FIRST,  # an unknown image on data the stack does not understand
    "container/app": CREATE_FIRST,  # an unknown image without volumes: nothing shared
    "service/database": STOP_FIRST,  # MariaDB/PostgreSQL: one server per data directory
    "service/cache": STOP_FIRST,  # Redis: one server per data file
    "service/mongodb": STOP_FIRST,  # one mongod per data directory (it locks it)
    "proxy": STOP_FIRST,  # publishes host ports, which two containers cannot bind
    "backups/scheduler": STOP_FIRST,  # one restic process per repository run; a second would find it locked
    "backups/dump": STOP_FIRST,  # answers the scheduler's requests: two helpers would both answer
    "backups/quiesce": STOP_FIRST,  # turns maintenance mode on and off: never two at once
}


@pytest.fixture(scope="module", params=container_stacks())
def run(request: pytest.FixtureRequest) -> ProgramRun:
    return run_stack_file(str(request.param))


def strategy_key(run: ProgramRun, container: Registration) -> str:
    """The EXPECTED key of a container, from the component that registered it."""
    if container.name == "proxy-container":
        return "proxy"
    parent = next(r for r in run.registrations if r.urn == container.parent)
    kind = {"ContainerApp": "container", "StaticSite": "static"}.get(
        parent.type.removeprefix("selfhost:index:"), parent.type.removeprefix("selfhost:index:").lower()
    )
    if kind in {"database", "cache", "mongodb"}:
        return f"service/{kind}"
    if kind == "backups":
        return f"backups/{container.name.rsplit('-', 1)[-1]}"
    role = "app" if container.name.endswith("-container") else container.name.rsplit("-", 1)[-1]
    mounts = container.inputs.get("volumes", [])
    return f"{kind}/{role}@volumes" if kind == "container" and mounts else f"{kind}/{role}"


def test_every_container_of_every_stack_is_replaced_as_its_kind_says(run: ProgramRun) -> None:
    containers = run.of_type(CONTAINER)
    assert containers
    generations = {r.name: r for r in run.of_type(RANDOM_ID)}
    seen: set[str] = set()
    for container in containers:
        key = strategy_key(run, container)
        assert key in EXPECTED, f"{container.name}: no expected strategy for {key}"
        seen.add(key)
        name = str(container.inputs["name"])
        stable = service_name(container)
        # Set explicitly either way: pulumi-docker's own default would be delete-before-replace.
        assert container.delete_before_replace_defined, container.name
        if EXPECTED[key] == STOP_FIRST:
            assert container.delete_before_replace, container.name
            assert name == stable
            assert f"{container.name}-generation" not in generations
        else:
            assert not container.delete_before_replace, container.name
            generation = generations[f"{container.name}-generation"]
            assert generation.inputs["byteLength"] == core.GENERATION_BYTES
            # The keepers are a digest of the inputs, secret in the state whatever they hold.
            assert generation.raw_inputs["keepers"] and _secret_keepers(generation)
            suffix = name.removeprefix(f"{stable}-")
            assert len(suffix) == 2 * core.GENERATION_BYTES and int(suffix, 16) >= 0, name
            assert not container.inputs.get("ports"), "a create-first container cannot publish host ports"
            # Only one container carries a generation per service: the id belongs to this container.
            assert generation.parent == container.parent
    assert "proxy" in seen and any(EXPECTED[key] == CREATE_FIRST for key in seen)


def _secret_keepers(generation: Registration) -> bool:
    keepers = generation.raw_inputs["keepers"]
    return bool(is_secret(keepers) or all(is_secret(value) for value in keepers.values()))


def test_the_shipped_stacks_replace_their_web_apps_create_first() -> None:
    """What the operator sees in `docker ps`: which names carry a generation."""
    dev = run_stack_file("dev")
    names = {service_name(c): str(c.inputs["name"]) for c in dev.of_type(CONTAINER)}
    assert names["selfhost-dev-blog-app"].startswith("selfhost-dev-blog-app-")
    assert names["selfhost-dev-proxy"] == "selfhost-dev-proxy"
    assert names["selfhost-dev-blog-db"] == "selfhost-dev-blog-db"
    assert names["selfhost-dev-cloud-app"] == "selfhost-dev-cloud-app"


# --- tier 1: the generation follows exactly the inputs that replace -----------------------------


class _Image:
    image_id = "sha256:" + "a" * 64


def _spec(**changes: Any) -> ServiceSpec:
    base = ServiceSpec(
        container_name="pre-app",
        image=_Image(),  # type: ignore[arg-type]
        memory_bytes=64 * 1024**2,
        healthcheck=Healthcheck(test=["CMD", "true"]),
        networks=[core.Attachment("edge", aliases=["app-x"])],
        replacement="create-first",
    )
    return dataclasses.replace(base, **changes)


def _resolved(spec: ServiceSpec) -> dict[str, object]:
    return replacement_inputs(spec, {core.SERVICE_LABEL: spec.container_name})


def test_the_generation_covers_every_input_that_replaces_the_container() -> None:
    # "not-applied" inputs are in replace_on_changes: their change replaces the container too.
    replacing = {key for key, handling in CONTAINER_INPUTS.items() if handling in ("replace", "not-applied")}
    assert set(_resolved(_spec(tmpfs={"/cache": "size=1048576"}))) == replacing - {"name"}


@pytest.mark.parametrize(
    "change",
    [
        {"envs": {"A": "1"}},
        {"files": [core.FileUpload("/x", "y")]},
        {"files": [core.FileUpload("/x", "y", mode="0400")]},
        {"mounts": [core.Mount("vol", "/data")]},
        {"networks": [core.Attachment("edge", aliases=["app-y"])]},
        {"command": ["run"]},
        {"entrypoint": ["/bin/sh"]},
        {"user": "1:1"},
        {"healthcheck": Healthcheck(test=["CMD", "true"], retries=3)},
        {"stop_grace_seconds": 10},
        {"tmpfs": {"/cache": "size=1048576"}},
    ],
)
def test_a_replacing_change_gives_other_keepers(change: dict[str, Any]) -> None:
    assert core._digest(_resolved(_spec(**change))) != core._digest(_resolved(_spec()))


def test_a_bind_mount_and_a_volume_of_the_same_name_give_other_keepers() -> None:
    """``host_directory`` decides what is mounted (a host directory, not a volume): it is in the keepers,
    and only when set, so the keepers of every container without one stay as they were."""
    volume = _resolved(_spec(mounts=[core.Mount("/srv/restic", "/data")]))
    bind = _resolved(_spec(mounts=[core.Mount("/srv/restic", "/data", host_directory=True)]))
    assert core._digest(bind) != core._digest(volume)
    assert volume["volumes"] == [["/srv/restic", "/data", False]]


def test_updated_in_place_inputs_keep_the_generation() -> None:
    """Memory is updated in place by the provider: no new name, so no replacement."""
    same = _spec(memory_bytes=128 * 1024**2, memory_reservation_bytes=64 * 1024**2, wait_timeout_seconds=9)
    assert core._digest(_resolved(same)) == core._digest(_resolved(_spec()))


def test_a_container_that_publishes_ports_cannot_be_create_first() -> None:
    port = pulumi_port()
    with pytest.raises(ValueError, match=r"pre-app: publishes host ports.*stop-first only"):
        core.service_container("x", _spec(ports=[port]), parent=None)  # type: ignore[arg-type]


def pulumi_port() -> Any:
    return docker.ContainerPortArgs(internal=80, external=8080, ip="0.0.0.0", protocol="tcp")


def test_the_container_kind_is_create_first_only_without_volumes() -> None:
    common: dict[str, Any] = {
        "kind": "container",
        "hostname": "tool.example.com",
        "image": "nginx:1.30",
        "port": 80,
        "healthcheck": {"path": "/"},
    }
    bare = ContainerApp.model_validate(common)
    with_data = ContainerApp.model_validate({**common, "volumes": {"data": "/data"}})
    assert container_replacement(bare) == CREATE_FIRST
    assert container_replacement(with_data) == STOP_FIRST


# --- tier 1: the proxy's side ------------------------------------------------------------------------


def _directives(text: str, tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    payload = crossplane.parse(str(path), single=True, check_ctx=False, check_args=False, strict=False)
    assert payload["status"] == "ok", payload["errors"]
    found: list[dict[str, Any]] = []

    def walk(block: list[dict[str, Any]]) -> None:
        for directive in block:
            found.append(directive)
            walk(directive.get("block", []))

    walk(payload["config"][0]["parsed"])
    return found


def test_nginx_passes_failed_connections_to_the_other_container_but_never_resends_a_post(tmp_path: Path) -> None:
    route = ProxyRoute(
        app="blog",
        kind="wordpress",
        server_name="blog.example.com",
        upstream_host="app-blog",
        upstream_port=80,
        max_body_bytes=1024,
        read_timeout_seconds=60,
        request_buffering=True,
        dav_redirects=False,
    )
    for tls in (TlsSettings(), TlsSettings(mode="provided")):
        found = _directives(render_nginx_config([route], tls, PublicPorts()), tmp_path)
        next_upstream = [d["args"] for d in found if d["directive"] == "proxy_next_upstream"]
        # Once, at http level, so every proxy_pass inherits it; no non_idempotent, no retry on the app's 5xx.
        assert next_upstream == [["error", "timeout"]]
        http = next(d for d in found if d["directive"] == "http")
        assert any(d["directive"] == "proxy_next_upstream" for d in http["block"])
        # Each alias re-resolved every 2 s, IPv4 only (Docker's DNS on the edge network).
        assert [d["args"] for d in found if d["directive"] == "resolver"] == [["127.0.0.11", "valid=1s", "ipv6=off"]]
        servers = [d["args"] for d in found if d["directive"] == "server" and d["args"]]
        # A failed address is skipped for one re-resolution interval (UPSTREAM_FAIL_TIMEOUT_SECONDS).
        assert servers == [["app-blog:80", "resolve", "max_fails=1", "fail_timeout=2s"]]


# --- tier 2: the generation follows the inputs through the whole program ------------------------------


def _dev_with_blog(**blog: Any) -> ProgramRun:
    values, _ = stack_file_config("dev")
    apps = {**values["selfhost:apps"], "blog": {**values["selfhost:apps"]["blog"], **blog}}
    return run_stack_file("dev", {"selfhost:apps": apps})


def _names(run: ProgramRun) -> dict[str, str]:
    return {service_name(c): str(c.inputs["name"]) for c in run.of_type(CONTAINER)}


def test_a_replacing_change_renames_exactly_the_create_first_container_it_touches() -> None:
    before, after = _names(run_stack_file("dev")), _names(_dev_with_blog(uploadLimit="8Mi"))
    app, cron = "selfhost-dev-blog-app", "selfhost-dev-blog-cron"
    # The upload limit is in the app's php.ini (a new container) and in neither cron's nor anyone else's files.
    assert after[app] != before[app] and after[app].startswith(f"{app}-")
    assert {name: value for name, value in after.items() if name != app} == {
        name: value for name, value in before.items() if name != app
    }
    assert after[cron] == cron  # stop-first: the fixed name


def test_a_change_applied_in_place_keeps_the_generation() -> None:
    """Memory is updated in place by the provider: the same name, so no replacement."""
    before, after = run_stack_file("dev"), _dev_with_blog(memory={"app": "384Mi"})
    app = "selfhost-dev-blog-app"
    old = next(c for c in before.of_type(CONTAINER) if service_name(c) == app)
    new = next(c for c in after.of_type(CONTAINER) if service_name(c) == app)
    assert new.inputs["memory"] != old.inputs["memory"]
    assert new.inputs["name"] == old.inputs["name"]
