"""Tier 1: each kind's spec as plain data — no mocks, no resources — and the App component's rules for specs."""

from __future__ import annotations

import dataclasses

import pytest

from components.apps.app import image_resource_names, spec_problems, start_order
from components.apps.nextcloud.settings import NextcloudApp
from components.apps.registry import KINDS
from components.apps.spec import (
    AppSecret,
    AppSpec,
    File,
    SecretFile,
    Service,
    ServiceSecret,
    Site,
    VolumeMount,
    edge_alias,
)
from components.apps.wordpress.settings import WordPressApp
from components.core import images
from components.services.registry import connection

SITE = Site(
    app="blog",
    hostname="blog.example.com",
    public_url="https://blog.example.com",
    scheme="https",
    public_host="blog.example.com",
    trusted_proxies="172.30.0.0/24",
)
CLOUD = dataclasses.replace(SITE, app="cloud", hostname="cloud.example.com", public_url="https://cloud.example.com")
CLOUD = dataclasses.replace(CLOUD, public_host="cloud.example.com")
WWW_DATA = 33


def wordpress(**options: object) -> AppSpec:
    return KINDS["wordpress"].spec(
        "blog", WordPressApp.model_validate({"kind": "wordpress", "hostname": SITE.hostname, **options}), SITE
    )


def nextcloud(**options: object) -> AppSpec:
    settings = NextcloudApp.model_validate({"kind": "nextcloud", "hostname": CLOUD.hostname, **options})
    return KINDS["nextcloud"].spec("cloud", settings, CLOUD)


def service(spec: AppSpec, role: str) -> Service:
    return next(s for s in spec.services if s.role == role)


def secret_files(svc: Service) -> dict[str, SecretFile]:
    return {f.path: f for f in svc.files if isinstance(f, SecretFile)}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kinds_example_gives_a_spec_the_app_component_accepts(kind: str) -> None:
    entry = KINDS[kind]
    settings = entry.settings.model_validate(entry.example, by_alias=True)
    spec = entry.spec("demo", settings, dataclasses.replace(SITE, app="demo", hostname=str(entry.example["hostname"])))
    assert spec.kind == kind
    assert spec_problems(spec) == []
    assert spec.route.app == "demo" and spec.route.server_name == entry.example["hostname"]
    assert entry.component.startswith("selfhost:index:")


@pytest.mark.parametrize(
    "spec", [wordpress(), nextcloud(), nextcloud(database="mariadb")], ids=["wp", "nc-pg", "nc-maria"]
)
def test_no_secret_in_the_environment_and_every_secret_file_owned_by_the_service(spec: AppSpec) -> None:
    for svc in spec.services:
        for key, value in svc.env.items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), key
            assert not value.startswith("secret"), key
        for file in secret_files(svc).values():
            assert file.owner == WWW_DATA and file.path.startswith("/run/secrets/")


def test_wordpress_has_mariadb_and_redis_and_its_routed_app_behind_the_proxy() -> None:
    spec = wordpress(uploadLimit="128Mi")
    assert [(b.role, b.kind, b.database, b.user) for b in spec.backing] == [
        ("db", "mariadb", "wordpress", "wordpress"),
        ("redis", "redis", None, None),
    ]
    assert [(s.role, s.edge, s.image) for s in spec.services] == [
        ("app", "routed", images.WORDPRESS),
        ("cron", "outbound", images.WORDPRESS_CLI),
    ]
    assert spec.route.upstream_host == edge_alias("blog") and spec.route.upstream_port == 80
    assert spec.route.max_body_bytes == 128 * 1024**2 + 1024**2
    app, cron = service(spec, "app"), service(spec, "cron")
    assert app.env["WORDPRESS_DB_HOST"] == connection(spec.backing[0]).host == "db"
    assert secret_files(app)["/run/secrets/db_password"].source == ServiceSecret("db")
    assert secret_files(app)["/run/secrets/redis_password"].source == ServiceSecret("redis")
    install = secret_files(cron)["/run/secrets/wp_admin_install.yml"]
    assert install.source == AppSecret("admin-password") and install.render is not None
    assert "admin_password" in install.render("A" * 32)
    assert cron.user == "33:33" and cron.depends_on == ("db", "redis", "app")
    assert app.mounts == cron.mounts == (VolumeMount("html", "/var/www/html"),)
    assert (spec.admin_user, spec.admin_password, spec.url) == ("admin", "admin-password", SITE.public_url)
    assert spec.upgrade_guard is None


def test_the_wordpress_admin_file_refuses_anything_but_a_generated_password() -> None:
    install = secret_files(service(wordpress(), "cron"))["/run/secrets/wp_admin_install.yml"]
    assert install.render is not None
    with pytest.raises(ValueError, match="16 or more letters and digits"):
        install.render('bad"value')


@pytest.mark.parametrize(("database", "variable"), [("postgres", "POSTGRES_HOST"), ("mariadb", "MYSQL_HOST")])
def test_nextcloud_on_either_database(database: str, variable: str) -> None:
    spec = nextcloud(database=database)
    db, redis = spec.backing
    assert (db.kind, db.database, db.user) == (database, "nextcloud", "nextcloud")
    server_args = db.options.get("server_args", ())
    assert bool(server_args) == (database == "mariadb")
    assert redis.options == {"eviction_policy": "noeviction"}
    app, cron = service(spec, "app"), service(spec, "cron")
    assert app.env[variable] == "db" and app.env == cron.env
    assert app.image == cron.image == images.NEXTCLOUD
    # Hooks go to the app container only, executable by www-data.
    hooks = [f for f in app.files if isinstance(f, File)]
    assert hooks and all((f.owner, f.group, f.mode) == (WWW_DATA, WWW_DATA, "0755") for f in hooks)
    assert not [f for f in cron.files if isinstance(f, File)]
    assert {v.role for v in spec.volumes} == {"html", "data"}
    assert spec.route.dav_redirects and spec.route.max_body_bytes == 0


def test_nextclouds_guard_gates_its_app_and_refuses_a_skipped_major() -> None:
    guard = nextcloud().upgrade_guard
    assert guard is not None
    assert (guard.output, guard.value, guard.gates) == ("nextcloudVersions", images.NEXTCLOUD.major, "app")
    guard.check(None)
    guard.check({"cloud": float(images.NEXTCLOUD.major - 1)})
    with pytest.raises(Exception, match="one major version at a time"):
        guard.check({"cloud": float(images.NEXTCLOUD.major - 2)})


def test_images_are_one_per_pin_named_as_the_stack_always_named_them() -> None:
    assert image_resource_names("blog", wordpress().services) == {
        images.WORDPRESS: "blog",
        images.WORDPRESS_CLI: "blog-cli",
    }
    assert image_resource_names("cloud", nextcloud().services) == {images.NEXTCLOUD: "cloud"}


def test_a_service_is_started_after_what_it_depends_on() -> None:
    app, cron = wordpress().services
    assert [s.role for s in start_order([cron, app])] == ["app", "cron"]
    with pytest.raises(ValueError, match="cycle"):
        start_order([dataclasses.replace(app, depends_on=("cron",)), cron])


def test_spec_defects_are_named() -> None:
    spec = wordpress()
    app, cron = spec.services
    broken = dataclasses.replace(
        spec,
        services=(
            app,
            dataclasses.replace(
                cron,
                edge="routed",
                depends_on=("nope",),
                mounts=(VolumeMount("elsewhere", "/x"),),
                files=(SecretFile("/run/secrets/x", AppSecret("missing"), WWW_DATA),),
            ),
        ),
    )
    problems = spec_problems(broken)
    assert any("only one service may be routed" in p for p in problems)
    assert any("'nope'" in p for p in problems)
    assert any("'elsewhere'" in p for p in problems)
    assert any("'missing'" in p for p in problems)


def test_a_volume_may_not_take_a_name_the_app_already_uses_on_the_host() -> None:
    spec = wordpress()
    clash = dataclasses.replace(spec, volumes=(*spec.volumes, dataclasses.replace(spec.volumes[0], role="db-data")))
    assert any("'db-data' would share its Docker name" in p for p in spec_problems(clash))


def test_every_guard_records_into_an_output_its_kind_declares() -> None:
    """Declared outputs are exported by every stack, so the record's key never comes and goes with an app."""
    for name, kind in KINDS.items():
        example = kind.settings.model_validate(kind.example, by_alias=True)
        guard = kind.spec("demo", example, dataclasses.replace(SITE, app="demo")).upgrade_guard
        assert (guard.output,) == kind.records if guard else kind.records == (), name
