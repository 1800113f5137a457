"""Tier 2: the lab stack (one app of every kind, Pulumi.lab.yaml) under mocks — each kind's graph,
wiring, secrets, volumes and routes as the program sends them to the engine.

Mocks prove the graph, not what Docker does with it; the Docker 28 replay of this stack is in
tests/test_docker_live.py, and each kind's own server config runs on the real nginx in
tests/test_nginx_live.py and tests/test_static_nginx_live.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.apps.registry import KINDS
from tests.mockstack import ProgramRun, run_stack_file, stack_file_config
from tests.test_graph_dev import CONTAINER, NETWORK, VOLUME, attached, containers, content, env, upload, uploads

PREFIX = "selfhost-lab"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lab() -> ProgramRun:
    return run_stack_file("lab")


def lab_apps() -> dict[str, dict[str, object]]:
    values, _ = stack_file_config("lab")
    apps = values["selfhost:apps"]
    assert isinstance(apps, dict)
    return apps


def server_block(config: str, hostname: str) -> str:
    """The ``server { ... }`` of ``hostname`` in the rendered proxy config (braces balanced)."""
    start = config.index(f"server_name {hostname};")
    start = config.rindex("server {", 0, start)
    depth, index = 0, start
    while True:
        char = config[index]
        depth += char == "{"
        depth -= char == "}"
        index += 1
        if depth == 0 and char == "}":
            return config[start:index]


def proxy_config(lab: ProgramRun) -> str:
    config = content(upload(containers(lab)[f"{PREFIX}-proxy"], "/etc/nginx/nginx.conf"))
    assert isinstance(config, str)
    return config


def test_the_lab_stack_holds_one_app_of_every_kind(lab: ProgramRun) -> None:
    apps = lab_apps()
    assert sorted(str(app["kind"]) for app in apps.values()) == sorted(KINDS)
    for name, app in apps.items():
        component = lab.named(name)
        assert component.type == KINDS[str(app["kind"])].component, name


def test_every_app_is_routed_by_its_host_name_to_its_alias_and_port(lab: ProgramRun) -> None:
    config = proxy_config(lab)
    ports = {"blog": 80, "cloud": 80, "www": 80, "tool": 80, "chat": 3000}
    for name, app in lab_apps().items():
        block = server_block(config, str(app["hostname"]))
        assert f"proxy_pass http://app_{name};" in block, name
        assert re.search(rf"upstream app_{name} {{[^}}]*server app-{name}:{ports[name]} ", config), name
        routed = containers(lab)[f"{PREFIX}-{name}-app"]
        assert attached(routed)[f"{PREFIX}-edge"] == [f"app-{name}"], name
    for container in lab.of_type(CONTAINER):
        if container.inputs["name"] != f"{PREFIX}-proxy":
            assert not container.inputs.get("ports"), f"{container.inputs['name']} publishes ports"


def test_only_rocket_chat_passes_websocket_upgrades(lab: ProgramRun) -> None:
    config = proxy_config(lab)
    for name, app in lab_apps().items():
        block = server_block(config, str(app["hostname"]))
        upgrades = "proxy_set_header Upgrade $http_upgrade;" in block
        assert upgrades == (name == "chat"), name


def test_kinds_without_backing_services_get_no_internal_network(lab: ProgramRun) -> None:
    nets = {n.inputs["name"] for n in lab.of_type(NETWORK)}
    backends = {f"{PREFIX}-{app}-backend" for app in ("blog", "cloud", "chat")}
    # ...and the backup scheduler's own network (components/backups/component.py).
    assert nets == {f"{PREFIX}-edge", f"{PREFIX}-backup", *backends}
    for app in ("www", "tool"):
        assert list(attached(containers(lab)[f"{PREFIX}-{app}-app"])) == [f"{PREFIX}-edge"]


def test_the_static_site_is_uploaded_file_by_file_into_its_nginx(lab: ProgramRun) -> None:
    site = containers(lab)[f"{PREFIX}-www-app"]
    files = {item["file"] for item, _ in uploads(site)}
    on_disk = {
        f"/srv/site/{p.relative_to(ROOT / 'sites/hello')}" for p in (ROOT / "sites/hello").rglob("*") if p.is_file()
    }
    assert on_disk and on_disk <= files
    assert "/etc/nginx/nginx.conf" in files
    site_config = content(upload(site, "/etc/nginx/nginx.conf"))
    assert "fastcgi_pass" not in site_config and "gzip on;" in site_config
    assert not env(site), "the static site needs no environment"


def test_rocket_chat_reaches_its_mongodb_with_secrets_in_files_only(lab: ProgramRun) -> None:
    chat = lab.named("chat")
    mongo = lab.named("chat-mongo")
    assert mongo.type == "selfhost:index:MongoDB"
    assert mongo.parent == chat.urn
    app, database = containers(lab)[f"{PREFIX}-chat-app"], containers(lab)[f"{PREFIX}-chat-mongo"]
    assert list(attached(database)) == [f"{PREFIX}-chat-backend"]
    for container in (app, database):
        for name, value in env(container).items():
            assert "mongodb://" not in value and not name.endswith("PASS"), f"{container.name}: {name}"
    secret_files = [(item, secret) for item, secret in uploads(database) + uploads(app) if "/secrets/" in item["file"]]
    assert len(secret_files) == 5, "admin and app passwords (app); key file, root and app passwords (MongoDB)"
    assert all(secret and item["permissions"] == "0400" for item, secret in secret_files)
    assert env(app)["ROOT_URL"] == "http://chat.lab.localhost:8081"


def test_the_container_apps_volume_is_retained_protected_with_the_stack_and_mounted(lab: ProgramRun) -> None:
    volume = next(v for v in lab.of_type(VOLUME) if v.inputs["name"] == f"{PREFIX}-tool-html")
    assert volume.retain_on_delete
    tool = containers(lab)[f"{PREFIX}-tool-app"]
    mounts = {m["containerPath"]: m["volumeName"] for m in tool.inputs["volumes"]}
    assert mounts == {"/usr/share/nginx/html": f"{PREFIX}-tool-html"}
    protected = run_stack_file("lab", {"selfhost:protect": True})
    assert all(v.protect for v in protected.of_type(VOLUME))


def test_every_volume_of_the_lab_stack_is_listed_in_the_volumes_output(lab: ProgramRun) -> None:
    made = sorted(v.inputs["name"] for v in lab.of_type(VOLUME))
    listed = sorted([n for names in lab.outputs["volumes"].values() for n in names] + lab.outputs["backupVolumes"])
    assert made == listed
    assert re.fullmatch(r"selfhost-lab-chat-mongo-data", next(n for n in made if "mongo" in n))


def test_only_the_container_kind_keeps_its_images_anonymous_volumes(lab: ProgramRun) -> None:
    """An unknown image's unlisted VOLUME paths outlive a replacement; the stack's own images have none."""
    keeping = {str(c.inputs["name"]) for c in lab.of_type(CONTAINER) if c.inputs.get("removeVolumes") is False}
    assert keeping == {f"{PREFIX}-tool-app"}
