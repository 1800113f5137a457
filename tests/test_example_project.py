"""Tier 2: examples/wordpress, a second Pulumi project on the components, run under Pulumi's mocks.

It imports just a Database and a WordPress (and the local host's Docker provider) and puts them
on a network that already exists: the program registers no network of its own there, and every
container joins the configured network or the WordPress's own internal one.
"""

from __future__ import annotations

import re

import yaml

from tests.mockstack import PROJECT_DIR, ProgramRun, is_secret, run_program, service_name
from tests.test_version import package_version

EXAMPLE = PROJECT_DIR / "examples" / "wordpress"
NAMESPACE = "selfhost-example"


def run_example(**config: object) -> ProgramRun:
    values = {f"{NAMESPACE}:{key}": value for key, value in {"network": "shared", **config}.items()}
    return run_program(values, program=EXAMPLE / "__main__.py", with_project_defaults=False)


def test_it_is_a_pulumi_python_project_of_its_own() -> None:
    project = yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())
    assert project["name"] == NAMESPACE
    assert project["runtime"]["name"] == "python"
    read = set(re.findall(r"config\.(?:get|require|get_int)\(\"(\w+)\"\)", (EXAMPLE / "__main__.py").read_text()))
    assert read == set(project["config"]), "Pulumi.yaml declares exactly the keys the program reads"
    assert all(declaration.get("description") for declaration in project["config"].values())


def test_it_pins_the_library_at_the_current_release_tag() -> None:
    requirements = (EXAMPLE / "requirements.txt").read_text()
    assert f"selfhost @ git+https://github.com/<owner>/selfhost@v{package_version()}" in requirements


def test_a_database_and_a_wordpress_on_the_existing_network() -> None:
    run = run_example()
    top = sorted((r.type, r.name) for r in run.registrations if r.parent.endswith("pulumi:pulumi:Stack::selfhost-dev"))
    assert top == [
        ("selfhost:index:Database", "tools-db"),
        ("selfhost:index:LocalDockerHost", "host"),
        ("selfhost:index:WordPress", "blog"),
    ]
    networks = [r.inputs["name"] for r in run.of_type("docker:index/network:Network")]
    assert networks == ["example-blog-backend"], "the shared network exists already: the example makes none"
    joined = {
        service_name(r): {n["name"]: n["aliases"] for n in r.inputs["networksAdvanced"]}
        for r in run.of_type("docker:index/container:Container")
    }
    assert joined == {
        "tools-db": {"shared": ["db"]},
        "example-blog-app": {"shared": ["app-blog"], "example-blog-backend": []},
        "example-blog-cron": {"shared": [], "example-blog-backend": []},
        "example-blog-db": {"example-blog-backend": ["db"]},
        "example-blog-redis": {"example-blog-backend": ["redis"]},
    }
    volumes = run.of_type("docker:index/volume:Volume")
    assert sorted(r.inputs["name"] for r in volumes) == ["example-blog-db-data", "example-blog-html", "tools-db-data"]
    assert all(r.retain_on_delete and r.protect for r in volumes)


def test_every_resource_goes_to_the_configured_engine() -> None:
    run = run_example(dockerHost="tcp://127.0.0.1:2375")
    [provider] = run.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "tcp://127.0.0.1:2375"
    on_docker = [r for r in run.registrations if r.custom and r.type.startswith("docker:index/")]
    assert on_docker and all(r.provider.startswith(provider.urn) for r in on_docker)


def test_its_outputs() -> None:
    run = run_example(hostname="blog.example.org", publicPort=8081)
    outputs = run.outputs
    assert outputs["url"] == "http://blog.example.org:8081"
    assert outputs["databaseHost"] == "db"
    assert outputs["volumes"] == ["example-blog-db-data", "example-blog-html", "tools-db-data"]
    assert is_secret(outputs["adminPassword"]) and is_secret(outputs["databasePassword"])
