"""The component package (components/package, provider/): its schema, its inputs and their checks.

Tier 1: the committed provider/schema.json is what the SDK's analyzer infers now (drift fails),
and it lists every exposed component with every input and output, each described; each kind's
inputs are its settings model's fields. Tier 2 (mocks): the components register the library's
own graph under the library's type tokens, through Python and through the SDK's
``ComponentProvider.construct`` (the path a TypeScript, Go or YAML program takes), and every bad
input stops the component with one error naming it before anything is registered.
"""

from __future__ import annotations

import inspect
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pulumi.provider.experimental as experimental
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.server import ComponentInitError
from pydantic.alias_generators import to_camel

from components.apps.app import App, AppArgs
from components.apps.registry import KINDS
from components.package import apps, edge, schema
from components.package.edge import Proxy, route_inputs
from components.package.index import COMPONENTS, NAME, version
from components.package.services import Cache, Database, DatabaseEngine
from tests.mockstack import PROJECT_DIR, ProgramRun, run_components, service_name

SCHEMA = schema.schema()
PROVIDER_DIR = PROJECT_DIR / "provider"
KIND_COMPONENTS = {
    "wordpress": apps.WordPress,
    "nextcloud": apps.Nextcloud,
    "rocketchat": apps.RocketChat,
    "static": apps.StaticSite,
}
KIND_ARGS = {
    "wordpress": apps.WordPressArgs,
    "nextcloud": apps.NextcloudArgs,
    "rocketchat": apps.RocketChatArgs,
    "static": apps.StaticSiteArgs,
}


def token(component: type[pulumi.ComponentResource]) -> str:
    return f"{NAME}:index:{component.__name__}"


# --- tier 1: the schema -------------------------------------------------------------------


def test_the_committed_schema_is_what_the_analyzer_infers() -> None:
    committed = (PROVIDER_DIR / "schema.json").read_text()
    assert committed == schema.render(), "run: python -m components.package.schema --write"
    assert schema.main(["--check"]) == 0


def test_the_check_fails_on_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "schema.json"
    stale.write_text(schema.render().replace("selfhost:index:Database", "selfhost:index:Db", 1))
    monkeypatch.setattr(schema, "SCHEMA_PATH", stale)
    assert schema.main(["--check"]) == 1
    assert schema.main(["--write"]) == 0
    assert stale.read_text() == schema.render()


def test_the_schema_is_the_selfhost_package_at_pyproject_s_version() -> None:
    assert SCHEMA["name"] == "selfhost"
    assert SCHEMA["version"] == version()
    assert set(SCHEMA["resources"]) == {token(c) for c in COMPONENTS}


def annotated_outputs(component: type[pulumi.ComponentResource]) -> set[str]:
    """Every annotation of the package's classes (the library's are redeclared there, described)."""
    names: set[str] = set()
    for cls in component.__mro__:
        if cls.__module__.startswith("components.package"):
            names.update(inspect.get_annotations(cls))
    return {to_camel(name) for name in names if not name.startswith("_")}


def args_type(component: type[pulumi.ComponentResource]) -> Any:
    return inspect.get_annotations(component.__init__)["args"]


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_every_input_and_output_is_in_the_schema_with_a_description(component: type[pulumi.ComponentResource]) -> None:
    resource = SCHEMA["resources"][token(component)]
    assert resource.get("description"), f"{component.__name__} needs a docstring"
    args = args_type(component)
    assert set(resource["inputProperties"]) == {to_camel(key) for key in args.__annotations__}
    assert set(resource["requiredInputs"]) == {to_camel(key) for key in args.__required_keys__}
    assert resource["properties"], f"{component.__name__} outputs nothing"
    assert set(resource["properties"]) == annotated_outputs(component)
    for kind in ("inputProperties", "properties"):
        for key, prop in resource[kind].items():
            assert prop.get("description"), f"{component.__name__}.{key} ({kind}) has no description"


def test_every_type_and_enum_value_is_described() -> None:
    assert SCHEMA["types"], "the nested inputs (routes, memory sizes) and enums are types"
    for name, definition in SCHEMA["types"].items():
        assert definition.get("description"), name
        for key, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{key}"
        for value in definition.get("enum", []):
            assert value.get("description"), f"{name}: {value}"


def test_the_analyzer_refuses_unions() -> None:
    """Why the inputs have no ``str | int``: the schema has no union type (DESIGN §8)."""
    from typing import TypedDict

    from pulumi.provider.experimental.analyzer import Analyzer

    UnionArgs = TypedDict("UnionArgs", {"size": str | int})  # noqa: UP013 - evaluated annotations, unlike the class form here

    class Sized(pulumi.ComponentResource):
        def __init__(self, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> None:
            super().__init__("selfhost:index:Sized", name, None, opts)

    # Evaluated annotations, as in components/package (this module postpones its own).
    Sized.__init__.__annotations__["args"] = UnionArgs
    with pytest.raises(Exception, match="Union types are not supported"):
        Analyzer(NAME).analyze([Sized])


@pytest.mark.parametrize("kind", sorted(KIND_COMPONENTS))
def test_a_kind_s_inputs_are_its_settings_model_s_fields_described_alike(kind: str) -> None:
    """One source of what a kind accepts: the model. The component adds only where it runs (SITE_INPUTS)."""
    model = KINDS[kind].settings
    args = KIND_ARGS[kind]
    fields = {name: field for name, field in model.model_fields.items() if name != "kind"}
    assert set(args.__annotations__) - set(apps.SITE_INPUTS) == set(fields)
    inputs = SCHEMA["resources"][token(KIND_COMPONENTS[kind])]["inputProperties"]
    for name, field in fields.items():
        assert inputs[to_camel(name)]["description"] == field.description, name
    memory = model.model_fields["memory"].annotation
    assert memory is not None
    memory_type = SCHEMA["types"][inputs["memory"]["$ref"].removeprefix("#/types/")]["properties"]
    assert set(memory_type) == set(memory.model_fields)
    for role, field in memory.model_fields.items():
        assert memory_type[role]["description"] == field.description, role


def test_the_classes_are_the_kinds_tokens() -> None:
    for kind, component in KIND_COMPONENTS.items():
        assert token(component) == KINDS[kind].component
    exposed = {token(c) for c in COMPONENTS}
    assert {token(c) for c in KIND_COMPONENTS.values()} <= exposed
    # Its secrets would be plain inputs, kept in the state in plain text (components/package/index.py).
    assert "selfhost:index:ContainerApp" not in exposed


def test_the_plugin_directory_is_a_python_source_plugin() -> None:
    assert yaml.safe_load((PROVIDER_DIR / "PulumiPlugin.yaml").read_text()) == {"runtime": "python"}
    requirements = (PROVIDER_DIR / "requirements.txt").read_text().split()
    assert "-r" in requirements and "../requirements.txt" in requirements


def test_the_entry_point_hosts_the_components(monkeypatch: pytest.MonkeyPatch) -> None:
    hosted: dict[str, Any] = {}

    def host(components: list[type[pulumi.ComponentResource]], name: str, **kwargs: Any) -> None:
        hosted.update(components=components, name=name, **kwargs)

    monkeypatch.setattr(experimental, "component_provider_host", host)
    runpy.run_path(str(PROVIDER_DIR / "__main__.py"), run_name="__main__")
    assert hosted == {"components": COMPONENTS, "name": "selfhost", "version": version()}


# --- tier 2: what the components register ----------------------------------------------------

WORDPRESS_INPUTS: dict[str, Any] = {
    "hostname": "blog.example.com",
    "edge_network": "edge",
    "admin_email": "me@example.com",
    "scheme": "http",
    "public_port": 8080,
}


def graph(run: ProgramRun) -> list[tuple[str, str, str]]:
    """(type, name, parent's name) of every registration, in order."""
    names = {r.urn: r.name for r in run.registrations}
    return [(r.type, r.name, names.get(r.parent, "")) for r in run.registrations]


def test_a_package_wordpress_registers_what_the_library_s_app_registers() -> None:
    package = run_components(lambda: apps.WordPress("blog", apps.WordPressArgs(**WORDPRESS_INPUTS)))  # type: ignore[typeddict-item]

    def library() -> None:
        spec = apps.app_spec("wordpress", "blog", WORDPRESS_INPUTS)
        App("blog", AppArgs("blog", spec, KINDS["wordpress"].component, "selfhost", "edge"))

    assert sorted(graph(package)) == sorted(graph(run_components(library)))
    assert package.named("blog").type == "selfhost:index:WordPress"
    container = package.named("blog-container")
    assert service_name(container) == "selfhost-blog-app"
    envs = container.inputs["envs"]
    assert any("http://blog.example.com:8080" in env for env in envs), envs


def test_a_database_on_the_caller_s_network() -> None:
    run = run_components(
        lambda: Database(
            "tools-db",
            {
                "engine": DatabaseEngine.POSTGRES,
                "network": "tools",
                "database_name": "tools",
                "user": "tools",
                "memory": "256Mi",
                "protect": True,
            },
        )
    )
    assert run.named("tools-db").type == "selfhost:index:Database"
    container = run.named("tools-db-container")
    assert [n["name"] for n in container.inputs["networksAdvanced"]] == ["tools"]
    assert container.inputs["memory"] == 256
    volume = run.named("tools-db-data")
    assert volume.inputs["name"] == "tools-db-data"
    assert volume.protect and volume.retain_on_delete


def test_the_proxy_routes_to_a_package_app_from_its_spec() -> None:
    def body() -> None:
        blog = apps.WordPress("blog", apps.WordPressArgs(**WORDPRESS_INPUTS))  # type: ignore[typeddict-item]
        assert blog.route == apps.app_spec("wordpress", "blog", WORDPRESS_INPUTS).route
        Proxy("proxy", {"routes": [route_inputs(blog.route)], "edge_network": "edge"})

    run = run_components(body)
    config = run.named("proxy-container").inputs["uploads"]
    assert any("server_name blog.example.com" in (u.get("content") or "") for u in config)
    # The WordPress route's microcache reaches the proxy through the package's route input.
    assert any("proxy_cache_path" in (u.get("content") or "") for u in config)
    assert run.named("proxy-container").inputs.get("tmpfs")


def test_a_route_with_a_microcache_goes_through_the_package_unchanged() -> None:
    route = apps.app_spec("wordpress", "blog", WORDPRESS_INPUTS).route
    assert route.microcache is not None
    assert edge._route("proxy", 0, route_inputs(route)) == route


def construct(run_inputs: dict[str, Any], resource_type: str, name: str) -> dict[str, Any]:
    """Construct through the SDK's ComponentProvider, as the engine does for another language."""
    state: dict[str, Any] = {}

    def body() -> None:
        provider = ComponentProvider(COMPONENTS, NAME, version=version())
        result = provider.construct(name, resource_type, run_inputs, pulumi.ResourceOptions())
        state.update(result.state)

    state["run"] = run_components(body)
    return state


def test_another_language_constructs_a_database_with_camel_case_inputs() -> None:
    inputs = {"engine": "mariadb", "network": "backend", "databaseName": "app", "user": "app", "memory": "128Mi"}
    state = construct(inputs, "selfhost:index:Database", "appdb")
    run: ProgramRun = state.pop("run")
    assert run.named("appdb").type == "selfhost:index:Database"
    assert run.named("appdb-container").inputs["envs"] and set(state) == {
        "host",
        "port",
        "databaseName",
        "user",
        "password",
        "volumeName",
    }


def test_another_language_constructs_a_wordpress_with_nested_memory() -> None:
    inputs = {
        "hostname": "blog.example.com",
        "edgeNetwork": "edge",
        "memory": {"app": "384Mi"},
        "uploadLimit": "32Mi",
    }
    state = construct(inputs, "selfhost:index:WordPress", "blog")
    run: ProgramRun = state.pop("run")
    assert run.named("blog-container").inputs["memory"] == 384
    assert {"url", "adminUser", "adminPassword", "volumes"} <= set(state)


def test_a_missing_required_input_from_another_language_is_named() -> None:
    from pulumi.errors import InputPropertyError

    with pytest.raises(InputPropertyError, match="Missing required input 'user' on 'Database'"):
        construct({"engine": "mariadb", "network": "n", "databaseName": "app"}, "selfhost:index:Database", "db")


def _cached_route(**cache: int) -> dict[str, Any]:
    """The blog's route as the package's input, with its microcache changed."""
    inputs: dict[str, Any] = dict(route_inputs(apps.app_spec("wordpress", "blog", WORDPRESS_INPUTS).route))
    inputs["microcache"] = {**inputs["microcache"], **cache}
    return inputs


BAD_INPUTS: list[tuple[Any, dict[str, Any], str]] = [
    (Database, {"engine": "mysql", "network": "n", "database_name": "a", "user": "a"}, "engine: Input should be"),
    (
        Database,
        {"engine": "mariadb", "network": "n", "database_name": "a", "user": "a", "memory": "16Mi"},
        "memory: '16Mi' is below the 32Mi minimum",
    ),
    (Database, {"engine": "postgres", "network": "n", "user": "a"}, "databaseName: is required"),
    (
        Database,
        {"engine": "mariadb", "network": "n", "database_name": "a`b", "user": "a"},
        "databaseName: String should",
    ),
    (Database, {"engine": "mariadb", "network": "n", "database_name": "a", "user": "x'y"}, "user: String should match"),
    (
        Database,
        {"engine": "mariadb", "network": "n", "database_name": "a", "user": "a", "container_name": "-db"},
        "containerName: String should match",
    ),
    (apps.WordPress, {**WORDPRESS_INPUTS, "name_prefix": "my site"}, "namePrefix: String should match"),
    (Cache, {"network": "n", "eviction_policy": "volatile-lru"}, "evictionPolicy: Input should be"),
    (Cache, {"network": "n", "memory": 64}, "memory: 64 is not a memory size"),
    (Cache, {"network": "n", "host_alias": "Redis_1"}, "hostAlias: String should match"),
    (apps.WordPress, {**WORDPRESS_INPUTS, "admin_email": "root"}, "adminEmail: 'root' is not an e-mail address"),
    (apps.WordPress, {**WORDPRESS_INPUTS, "hostname": "Blog"}, "hostname: 'Blog' is not a host name"),
    (apps.WordPress, {**WORDPRESS_INPUTS, "memory": {"app": "1Gb"}}, "memory.app: "),
    (apps.WordPress, {**WORDPRESS_INPUTS, "memory": {"ap": "1Gi"}}, "memory.ap: Extra inputs are not permitted"),
    (apps.WordPress, {**WORDPRESS_INPUTS, "scheme": "ftp"}, "scheme: Input should be 'http' or 'https'"),
    (apps.WordPress, {**WORDPRESS_INPUTS, "public_port": 0}, "publicPort: Input should be greater than or equal to 1"),
    (
        apps.WordPress,
        {**WORDPRESS_INPUTS, "trusted_proxies": "10.0.0.1/8"},
        "trustedProxies: '10.0.0.1/8' is not a CIDR",
    ),
    (
        apps.WordPress,
        {"hostname": "blog.x", "edge_network": "e"},
        "adminEmail: the default, 'admin@blog.x', is not an address WordPress accepts",
    ),
    (apps.Nextcloud, {**WORDPRESS_INPUTS, "database": "sqlite"}, "database: Input should be 'postgres' or 'mariadb'"),
    (apps.RocketChat, {**WORDPRESS_INPUTS, "upload_limit": "2Gi"}, "uploadLimit: '2Gi' is above the 1Gi maximum"),
    (
        Proxy,
        {"routes": [], "edge_network": "e", "tls": "self"},
        "tls: Input should be 'off', 'letsencrypt' or 'provided'",
    ),
    (Proxy, {"routes": [{"app": "blog"}], "edge_network": "e"}, r"routes\[0\].kind: is required"),
    (
        Proxy,
        {"routes": [_cached_route(seconds=90)], "edge_network": "e"},
        r"routes\[0\]\.microcache\.seconds: Input should be less than or equal to 60",
    ),
    (
        Proxy,
        {"routes": [{**_cached_route(), "kind": "nextcloud"}], "edge_network": "e"},
        r"routes\[0\]\.microcache: only a wordpress route can have one, not a 'nextcloud' route",
    ),
    (
        Proxy,
        {"routes": [_cached_route(max_bytes=1000)], "edge_network": "e"},
        r"routes\[0\]\.microcache\.maxBytes: 1000 is not whole MiB",
    ),
    (
        Proxy,
        {"routes": [], "edge_network": "e", "http_port": 70000},
        "httpPort: Input should be less than or equal to 65535",
    ),
]


@pytest.mark.parametrize(("component", "inputs", "message"), BAD_INPUTS, ids=lambda v: v if isinstance(v, str) else "")
def test_a_bad_input_stops_the_component_naming_it(component: Any, inputs: dict[str, Any], message: str) -> None:
    registered: list[ProgramRun] = []

    with pytest.raises(pulumi.RunError, match=message) as raised:
        registered.append(run_components(lambda: component("blog", inputs)))
    assert str(raised.value).startswith(f"selfhost:index:{component.__name__} 'blog': ")
    assert not registered


def test_a_static_site_reads_its_directory_from_the_working_directory() -> None:
    inputs = apps.StaticSiteArgs(hostname="hello.example.com", edge_network="edge", path="sites/hello")
    run = run_components(lambda: apps.StaticSite("hello", inputs))
    assert run.named("hello").type == "selfhost:index:StaticSite"
    uploads = [u["file"] for r in run.of_type("docker:index/container:Container") for u in r.inputs.get("uploads", [])]
    assert any(path.endswith("/index.html") for path in uploads), uploads
    with pytest.raises(pulumi.RunError, match="selfhost:index:StaticSite 'hello': path: "):
        run_components(lambda: apps.StaticSite("hello", {**inputs, "path": "sites/missing"}))


def test_a_bad_resource_name_for_an_app_is_named() -> None:
    with pytest.raises(pulumi.RunError, match="selfhost:index:WordPress 'My-Blog': name: the resource name names"):
        run_components(lambda: apps.WordPress("My-Blog", apps.WordPressArgs(**WORDPRESS_INPUTS)))  # type: ignore[typeddict-item]


def test_a_bad_input_from_another_language_reaches_the_caller_as_the_component_s_error() -> None:
    with pytest.raises(ComponentInitError, match="uploadLimit: '3Gi' is above the 2Gi maximum"):
        construct(
            {"hostname": "blog.example.com", "edgeNetwork": "e", "uploadLimit": "3Gi"},
            "selfhost:index:WordPress",
            "blog",
        )


def test_nothing_is_registered_before_a_bad_input_is_refused() -> None:
    seen: list[ProgramRun] = []
    with pytest.raises(pulumi.RunError):
        seen.append(
            run_components(
                lambda: apps.WordPress("blog", apps.WordPressArgs(**{**WORDPRESS_INPUTS, "title": "--exec=x"}))  # type: ignore[typeddict-item]
            )
        )
    assert not seen
