"""Tier 1 and 2: the backing-services registry — connection facts as plain data, and what a build registers."""

from __future__ import annotations

import pulumi
import pytest

from components.apps.spec import Backing, ServiceSecret
from components.services import registry
from components.services.kinds import Placement
from components.services.registry import SERVICES
from tests.mockstack import ProgramRun, run_components

MiB = 1024**2


@pytest.mark.parametrize(
    ("kind", "port"),
    [("mariadb", 3306), ("postgres", 5432), ("redis", 6379)],
)
def test_connection_is_the_roles_alias_the_kinds_port_and_the_roles_password(kind: str, port: int) -> None:
    backing = Backing(role="store", kind=kind, memory=64 * MiB, database="app", user="appuser")  # type: ignore[arg-type]
    facts = registry.connection(backing)
    assert (facts.host, facts.port, facts.user, facts.database) == ("store", port, "appuser", "app")
    assert facts.password == ServiceSecret("store")


def test_an_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'couchdb'.*known: " + ", ".join(sorted(SERVICES))):
        registry.connection(Backing(role="x", kind="couchdb", memory=64 * MiB))  # type: ignore[arg-type]


def _build(backing: Backing) -> ProgramRun:
    def body() -> None:
        owner = pulumi.ComponentResource("test:index:Owner", "blog")
        built = registry.build("blog-" + backing.role, backing, Placement("pre-blog-" + backing.role, "net", owner))
        assert built.resource is not None

    return run_components(body)


def test_a_database_keeps_its_component_its_child_names_and_its_alias() -> None:
    backing = Backing(
        role="db",
        kind="mariadb",
        memory=256 * MiB,
        database="wordpress",
        user="wordpress",
        options={"server_args": ("--binlog-format=ROW",)},
    )
    run = _build(backing)
    assert run.named("blog-db").type == "selfhost:index:Database"
    container = run.named("blog-db-container")
    assert container.inputs["name"] == "pre-blog-db"
    assert container.inputs["networksAdvanced"] == [{"name": "net", "aliases": ["db"]}]
    assert container.inputs["command"] == ["mariadbd", "--binlog-format=ROW"]
    assert run.named("blog-db-data").inputs["name"] == "pre-blog-db-data"


def test_a_redis_takes_its_eviction_policy_from_the_options() -> None:
    run = _build(Backing(role="redis", kind="redis", memory=64 * MiB, options={"eviction_policy": "noeviction"}))
    assert run.named("blog-redis").type == "selfhost:index:Cache"
    config = next(u for u in run.named("blog-redis-container").inputs["uploads"] if u["file"].endswith("redis.conf"))
    assert "maxmemory-policy noeviction" in config["content"]


def test_a_redis_refuses_an_unknown_eviction_policy() -> None:
    with pytest.raises(ValueError, match="eviction_policy 'volatile-lru'"):
        _build(Backing(role="redis", kind="redis", memory=64 * MiB, options={"eviction_policy": "volatile-lru"}))


def test_a_database_needs_a_database_and_a_user() -> None:
    with pytest.raises(ValueError, match="needs a database and a user"):
        _build(Backing(role="db", kind="postgres", memory=256 * MiB))
