"""Tier 1 and 2: a new kind is one folder and one registry entry; everything else derives from the registry.

The kind below lives only in this test (its "folder" is this module): registered into a copy of
the registry, it is picked up by the settings union, the loader (values and error messages), the
README's config reference and kinds table, Pulumi.yaml's ``apps`` description, and the App
component, with no other edit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pulumi
import pytest
from pydantic import Field

from components.apps import registry
from components.apps.app import App, AppArgs
from components.apps.kind import Kind
from components.apps.registry import KINDS
from components.apps.spec import AppSpec, Service, Site, Volume, VolumeMount, edge_alias
from components.core.container import http_healthcheck
from components.core.fields import ConfigModel, HostName, MemorySize
from components.core.images import ImagePin
from components.core.memory import MiB, Reservation, effective_reservation
from components.edge.routes import ProxyRoute
from config.loading import ConfigError, Schema, settings_from_config
from config.reference import apps_description, reference
from config.settings import stack_settings_model
from tests.mockstack import run_components

ROOT = Path(__file__).resolve().parent.parent
ECHO_IMAGE = ImagePin("hashicorp/http-echo", "1.0")


class EchoMemory(ConfigModel):
    app: MemorySize = Field(default=64 * MiB, description="the echo server")


class EchoReservation(Reservation):
    app: MemorySize = Field(default=32 * MiB, description="the echo server")


class EchoApp(ConfigModel):
    """An echo server (the test's throwaway kind)."""

    kind: Literal["echo"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name")
    text: str = Field(default="hello", description="what it answers")
    memory: EchoMemory = Field(default_factory=EchoMemory, description="memory limits")
    memory_reservation: EchoReservation = Field(default_factory=EchoReservation, description="reservations")

    @property
    def reserved(self) -> EchoReservation:
        return effective_reservation(self.memory_reservation, self.memory)


def echo_spec(app_name: str, app: EchoApp, site: Site) -> AppSpec:
    return AppSpec(
        kind="echo",
        services=(
            Service(
                role="app",
                image=ECHO_IMAGE,
                memory=app.memory.app,
                memory_reservation=app.reserved.app,
                healthcheck=http_healthcheck("/"),
                edge="routed",
                command=("-listen=:5678", f"-text={app.text}"),
                mounts=(VolumeMount("data", "/data"),),
            ),
        ),
        route=ProxyRoute(
            app=app_name,
            kind="echo",
            server_name=app.hostname,
            upstream_host=edge_alias(app_name),
            upstream_port=5678,
            max_body_bytes=1024**2,
            read_timeout_seconds=60,
            request_buffering=True,
            dav_redirects=False,
        ),
        volumes=(Volume("data", holds="nothing much"),),
        url=site.public_url,
    )


ECHO = Kind(
    name="echo",
    settings=EchoApp,
    spec=echo_spec,
    component="test:index:Echo",
    summary="an echo server",
    example={"kind": "echo", "hostname": "echo.example.com"},
)
WITH_ECHO = registry.registry([*KINDS.values(), ECHO])
"""The one registry line a new kind adds, on a copy."""
APPS = {"e": {"kind": "echo", "hostname": "e.localhost", "text": "hi"}}


def test_the_settings_union_takes_the_new_kind_and_only_with_it() -> None:
    settings = stack_settings_model(WITH_ECHO).model_validate({"apps": APPS}, by_alias=True)
    assert isinstance(settings.apps["e"], EchoApp) and settings.apps["e"].text == "hi"
    with pytest.raises(ValueError, match="echo"):
        stack_settings_model(KINDS).model_validate({"apps": APPS}, by_alias=True)


def test_the_loader_validates_the_new_kind_and_names_its_keys_in_errors() -> None:
    schema = Schema.of(WITH_ECHO)
    settings = settings_from_config({"selfhost:apps": json.dumps(APPS)}, schema=schema)
    assert settings.apps["e"].kind == "echo"
    bad = {"e": {"kind": "echo", "hostname": "e.localhost", "txt": "typo"}}
    with pytest.raises(ConfigError, match=r"selfhost:apps\.e\.txt: unknown key 'txt'; allowed here: .*text"):
        settings_from_config({"selfhost:apps": json.dumps(bad)}, schema=schema)
    unknown = {"e": {"kind": "nope", "hostname": "e.localhost"}}
    with pytest.raises(ConfigError, match="allowed kinds: " + ", ".join([*KINDS, "echo"])):
        settings_from_config({"selfhost:apps": json.dumps(unknown)}, schema=schema)
    # The stack's own loader does not know the kind: nothing leaks from the copy.
    with pytest.raises(ConfigError, match=r"unknown app kind 'echo'"):
        settings_from_config({"selfhost:apps": json.dumps(APPS)})


def test_the_reference_lists_the_new_kind_and_the_project_file_needs_no_edit() -> None:
    text = reference(WITH_ECHO)
    assert "Each `apps.<name>` with `kind: echo`:" in text
    assert "| `apps.<name>.text` | string | `hello` | what it answers |" in text
    assert '| `echo` | an echo server | `{"kind": "echo", "hostname": "echo.example.com"}` |' in text
    # Pulumi.yaml names no kind: a new kind leaves it as it is.
    assert apps_description(WITH_ECHO) == apps_description()
    assert "kind: echo" not in reference()


def test_the_app_component_registers_the_new_kind_under_its_token() -> None:
    settings = EchoApp.model_validate(APPS["e"], by_alias=True)
    site = Site("e", "e.localhost", "http://e.localhost:8080", "http", "e.localhost:8080", "172.30.0.0/24")

    def body() -> None:
        App(
            "e",
            AppArgs(
                app_name="e",
                spec=ECHO.spec("e", settings, site),
                type_token=ECHO.component,
                name_prefix="p",
                edge_network="edge",
            ),
            pulumi.ResourceOptions(),
        )

    run = run_components(body)
    assert run.named("e").type == "test:index:Echo"
    container = run.named("e-container")
    assert container.inputs["name"] == "p-e-app"
    assert container.inputs["networksAdvanced"] == [{"name": "edge", "aliases": ["app-e"]}]
    assert container.inputs["command"] == ["-listen=:5678", "-text=hi"]
    volume = run.named("e-data")
    assert volume.inputs["name"] == "p-e-data" and volume.retain_on_delete
    assert [r.name for r in run.of_type("docker:index/network:Network")] == []  # no backing services, no backend


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_registered_kind_is_one_folder(name: str) -> None:
    folder = ROOT / "components" / "apps" / name
    assert {"__init__.py", "settings.py", "spec.py"} <= {p.name for p in folder.iterdir()}
    # Scripts handed to containers are template files (templates/), never shell inside Python strings.
    scripts_in_code = [p.name for p in folder.glob("*.py") if "#!/" in p.read_text()]
    assert not scripts_in_code, f"{name}: scripts in Python strings in {scripts_in_code}; move them to templates/"
    module = __import__(f"components.apps.{name}", fromlist=["KIND"])
    assert module.KIND is KINDS[name] and KINDS[name].name == name


def test_nothing_outside_the_kind_folders_and_the_registry_names_a_kind() -> None:
    """The composition (stack.py) and config/ derive every kind from the registry."""
    for path in [ROOT / "stack.py", *sorted((ROOT / "config").glob("*.py"))]:
        code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith(("#", '"')))
        for name in KINDS:
            assert f'"{name}"' not in code, f"{path.name} names the kind {name!r}"
