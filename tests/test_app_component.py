"""Tier 2: the App component under mocks with a spec made here — what every kind gets from it."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pulumi
import pytest
from pydantic import SecretStr

from components.apps.app import App, AppArgs
from components.apps.spec import (
    AppSecret,
    AppSpec,
    Backing,
    ConfigSecret,
    File,
    GeneratedSecret,
    SecretFile,
    Service,
    ServiceSecret,
    UpgradeGuard,
    Volume,
    VolumeMount,
    edge_alias,
)
from components.core.container import http_healthcheck
from components.core.images import ImagePin
from components.core.volumes import StatePolicy
from components.edge.routes import ProxyRoute
from tests.mockstack import ProgramRun, Registration, is_secret, run_components, unwrap

MiB = 1024**2
TOOL = ImagePin("example/tool", "2.0")
WEB = ImagePin("example/web", "1.4")
LOGO = base64.b64encode(b"\x89PNG\r\n").decode()


def demo_spec(guard: UpgradeGuard | None = None) -> AppSpec:
    web = Service(
        role="app",
        image=WEB,
        memory=128 * MiB,
        healthcheck=http_healthcheck("/"),
        edge="routed",
        user="1000:1000",
        mounts=(VolumeMount("files", "/srv"),),
        env={"CACHE_HOST": "cache"},
        files=(
            SecretFile("/run/secrets/smtp", ConfigSecret(SecretStr("s3cret-smtp"), "apps.demo.secrets.SMTP"), 1000),
            SecretFile("/run/secrets/cache", ServiceSecret("cache"), 1000, render=lambda p: f"password={p}\n"),
            File("/srv/logo.png", content_base64=LOGO),
        ),
        depends_on=("cache",),
    )
    worker = Service(
        role="worker",
        image=TOOL,
        memory=64 * MiB,
        healthcheck=http_healthcheck("/health"),
        edge="outbound",
        files=(SecretFile("/run/secrets/token", AppSecret("token"), 0),),
        depends_on=("app",),
    )
    return AppSpec(
        kind="demo",
        services=(worker, web),
        route=ProxyRoute("demo", "demo", "demo.example.com", edge_alias("demo"), 8080, MiB, 60, True, False),
        backing=(Backing(role="cache", kind="redis", memory=64 * MiB),),
        volumes=(Volume("files", holds="uploads"),),
        secrets=(GeneratedSecret("token", protect=False), GeneratedSecret("admin-password")),
        admin_user="root",
        admin_password="admin-password",
        upgrade_guard=guard,
        url="https://demo.example.com",
    )


def build(spec: AppSpec, protect: bool = True) -> ProgramRun:
    def body() -> None:
        app = App(
            "demo",
            AppArgs(
                app_name="demo",
                spec=spec,
                type_token="test:index:Demo",
                name_prefix="pre",
                edge_network="edge-net",
                state=StatePolicy(protect=protect),
            ),
            pulumi.ResourceOptions(),
        )
        pulumi.export("volumes", app.volumes)
        pulumi.export("url", app.url)
        if app.recorded is not None:
            pulumi.export("recorded", app.recorded)

    return run_components(body)


def upload(container: Registration, path: str) -> tuple[dict[str, Any], bool]:
    """The upload at ``path``, and whether its content reaches the engine as a secret."""
    raw = container.raw_inputs["uploads"]
    items = raw["value"] if is_secret(raw) else raw
    for item in items:
        if unwrap(item)["file"] == path:
            return unwrap(item), is_secret(raw) or is_secret(item) or is_secret(item.get("content"))
    raise AssertionError(f"no upload {path}")


@pytest.fixture(scope="module")
def demo() -> ProgramRun:
    return build(demo_spec())


def test_names_follow_the_roles(demo: ProgramRun) -> None:
    assert demo.named("demo").type == "test:index:Demo"
    assert demo.named("demo-container").inputs["name"] == "pre-demo-app"
    assert demo.named("demo-worker").inputs["name"] == "pre-demo-worker"
    assert demo.named("demo-backend-network").inputs["name"] == "pre-demo-backend"
    assert demo.named("demo-cache").type == "selfhost:index:Cache"
    assert demo.named("demo-cache-container").inputs["name"] == "pre-demo-cache"
    # One image per pin, named by the first service that runs it (the worker comes first in the spec).
    assert demo.named("demo-worker-image").inputs["name"] == TOOL.ref
    assert demo.named("demo-image").inputs["name"] == WEB.ref


def test_networks_follow_the_edge_attachment(demo: ProgramRun) -> None:
    web = demo.named("demo-container").inputs["networksAdvanced"]
    worker = demo.named("demo-worker").inputs["networksAdvanced"]
    assert web == [{"name": "edge-net", "aliases": ["app-demo"]}, {"name": "pre-demo-backend", "aliases": []}]
    assert worker == [{"name": "edge-net", "aliases": []}, {"name": "pre-demo-backend", "aliases": []}]


def test_secret_files_are_secret_0400_and_owned_by_the_service(demo: ProgramRun) -> None:
    web = demo.named("demo-container")
    for path in ("/run/secrets/smtp", "/run/secrets/cache"):
        item, secret = upload(web, path)
        assert secret, path
        assert (item["permissions"], item["owner"], item["group"]) == ("0400", "1000", "1000")
    assert upload(web, "/run/secrets/smtp")[0]["content"] == "s3cret-smtp"
    assert str(upload(web, "/run/secrets/cache")[0]["content"]).startswith("password=")
    logo, _ = upload(web, "/srv/logo.png")
    assert logo["contentBase64"] == LOGO and "content" not in logo
    assert not any("s3cret" in entry for entry in web.inputs["envs"])


def test_dependencies_by_role_and_state_protected(demo: ProgramRun) -> None:
    # depends_on a component waits for its children: the Redis container, before the app's.
    web, worker = demo.named("demo-container"), demo.named("demo-worker")
    assert any(dep.endswith("::demo-cache-container") for dep in web.dependencies)
    assert any(dep.endswith("::demo-container") for dep in worker.dependencies)
    assert not any(dep.endswith("::demo-cache-container") for dep in worker.dependencies)
    files = demo.named("demo-files")
    assert files.inputs["name"] == "pre-demo-files" and files.protect and files.retain_on_delete
    assert demo.named("demo-admin-password").protect and not demo.named("demo-token").protect
    assert unwrap(demo.outputs["volumes"]) == ["pre-demo-files"]
    assert demo.outputs["url"] == "https://demo.example.com"


def test_a_guard_gates_its_services_image_and_records_once_it_is_up() -> None:
    checked: list[object] = []
    run = build(demo_spec(UpgradeGuard(output="demoVersions", value=7, gates="app", check=checked.append)))
    assert [r.name for r in run.reads] == ["demo-deployed"]
    assert checked == [None]
    assert run.outputs["recorded"] == 7


def test_a_defective_spec_is_refused_before_anything_below_the_component() -> None:
    spec = demo_spec()
    broken = dataclasses.replace(spec, admin_password="nope")
    with pytest.raises(ValueError, match="admin_password 'nope' is not a generated secret"):
        build(broken)
