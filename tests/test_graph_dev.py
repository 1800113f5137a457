"""Tier 2: the whole program under mocks with the real Pulumi.dev.yaml — graph, inputs, options.

Mocks prove what the program sends to the engine, not what Docker does with it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.core import images
from components.core.container import LOG_OPTIONS
from config.loading import ConfigError
from tests.mockstack import (
    ProgramRun,
    RecordingMonitor,
    Registration,
    is_secret,
    run_program,
    run_stack_file,
    service_name,
    unwrap,
    walk,
)

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/remoteImage:RemoteImage"
PASSWORD = "random:index/randomPassword:RandomPassword"
PREFIX = "selfhost-dev"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_stack_file("dev")


def containers(run: ProgramRun) -> dict[str, Registration]:
    return {service_name(c): c for c in run.of_type(CONTAINER)}


def networks(run: ProgramRun) -> dict[str, Registration]:
    return {n.inputs["name"]: n for n in run.of_type(NETWORK)}


def attached(container: Registration) -> dict[str, list[str]]:
    return {n["name"]: n.get("aliases", []) for n in container.inputs["networksAdvanced"]}


def env(container: Registration) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.inputs.get("envs", []))


def uploads(container: Registration) -> list[tuple[dict[str, Any], bool]]:
    """Each uploaded file with whether its content reaches the engine as a secret."""
    raw = container.raw_inputs.get("uploads", [])
    whole_list_secret = is_secret(raw)
    return [
        (unwrap(item), whole_list_secret or is_secret(item) or is_secret(item.get("content")))
        for item in unwrap_once(raw)
    ]


def unwrap_once(value: Any) -> Any:
    return value["value"] if is_secret(value) else value


def upload(container: Registration, path: str) -> dict[str, Any]:
    matches = [item for item, _ in uploads(container) if item["file"] == path]
    assert len(matches) == 1, f"{container.name} has no upload {path}"
    return matches[0]


def content(item: dict[str, Any]) -> Any:
    return item["content"]


def test_dev_stack_has_the_expected_containers(dev: ProgramRun) -> None:
    assert sorted(containers(dev)) == sorted(
        f"{PREFIX}-{name}"
        for name in [
            "blog-app",
            "blog-cron",
            "blog-db",
            "blog-redis",
            "cloud-app",
            "cloud-cron",
            "cloud-db",
            "cloud-redis",
            "proxy",
            # The backups (components/backups): the scheduler, a dumper per database, Nextcloud's quiesce.
            "backup",
            "blog-db-dump",
            "cloud-db-dump",
            "cloud-quiesce",
        ]
    )


def test_only_the_proxy_publishes_ports(dev: ProgramRun) -> None:
    publishing = {name: c.inputs["ports"] for name, c in containers(dev).items() if c.inputs.get("ports")}
    assert publishing == {
        f"{PREFIX}-proxy": [
            {"internal": 80, "external": 8080, "ip": "0.0.0.0", "protocol": "tcp"},
            {"internal": 80, "external": 8080, "ip": "::", "protocol": "tcp"},
        ]
    }


def test_proxy_sits_on_the_edge_only_and_routes_every_app(dev: ProgramRun) -> None:
    proxy = containers(dev)[f"{PREFIX}-proxy"]
    assert attached(proxy) == {f"{PREFIX}-edge": []}
    config = content(upload(proxy, "/etc/nginx/nginx.conf"))
    for app in ("blog", "cloud"):
        assert f"server_name {app}.localhost;" in config
        assert f"app-{app}:80" in config


def test_databases_and_caches_sit_only_on_their_apps_internal_network(dev: ProgramRun) -> None:
    nets = networks(dev)
    for app in ("blog", "cloud"):
        for role in ("db", "redis"):
            container = containers(dev)[f"{PREFIX}-{app}-{role}"]
            assert list(attached(container)) == [f"{PREFIX}-{app}-backend"]
            assert nets[f"{PREFIX}-{app}-backend"].inputs["internal"] is True


def test_apps_join_edge_under_their_alias_and_only_their_own_backend(dev: ProgramRun) -> None:
    for app in ("blog", "cloud"):
        networks_of_app = attached(containers(dev)[f"{PREFIX}-{app}-app"])
        assert networks_of_app == {f"{PREFIX}-edge": [f"app-{app}"], f"{PREFIX}-{app}-backend": []}
    for app in ("blog", "cloud"):
        cron = attached(containers(dev)[f"{PREFIX}-{app}-cron"])
        assert cron == {f"{PREFIX}-edge": [], f"{PREFIX}-{app}-backend": []}


def test_edge_network_has_the_configured_fixed_subnet_and_reaches_out(dev: ProgramRun) -> None:
    edge = networks(dev)[f"{PREFIX}-edge"]
    assert edge.inputs["internal"] is False
    assert edge.inputs["ipamConfigs"] == [{"subnet": "172.30.0.0/24"}]


EXPECTED_MOUNTS = {
    "blog-app": {"/var/www/html": "blog-html"},
    "blog-cron": {"/var/www/html": "blog-html"},
    "blog-db": {"/var/lib/mysql": "blog-db-data"},
    "cloud-app": {"/var/www/html": "cloud-html", "/var/www/html/data": "cloud-data"},
    "cloud-cron": {"/var/www/html": "cloud-html", "/var/www/html/data": "cloud-data"},
    "cloud-db": {"/var/lib/postgresql": "cloud-db-data"},
    "blog-redis": {},
    "cloud-redis": {},
    "proxy": {},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_MOUNTS))
def test_stateful_paths_are_named_volumes(dev: ProgramRun, name: str) -> None:
    mounts = {v["containerPath"]: v["volumeName"] for v in containers(dev)[f"{PREFIX}-{name}"].inputs["volumes"]}
    assert mounts == {path: f"{PREFIX}-{volume}" for path, volume in EXPECTED_MOUNTS[name].items()}


def test_postgres_18_volume_sits_at_the_new_data_path() -> None:
    assert images.POSTGRES.major >= 18
    assert images.postgres_data_path(images.POSTGRES) == "/var/lib/postgresql"
    assert images.postgres_data_path(images.ImagePin("postgres", "17.6")) == "/var/lib/postgresql/data"


def test_volumes_are_retained_and_unprotected_in_dev(dev: ProgramRun) -> None:
    volumes = dev.of_type(VOLUME)
    # The apps' five, and the backups': the scheduler's state, the local repository, a backup volume per app.
    assert len(volumes) == 9
    for volume in volumes:
        assert volume.retain_on_delete, volume.name
        assert not volume.protect, volume.name


def test_protect_true_protects_the_volumes_and_the_passwords_their_data_depends_on() -> None:
    run = run_stack_file("dev", {"selfhost:protect": True})
    protected = {r.name for r in run.registrations if r.protect}
    data_bound = {"blog-db-password", "blog-db-root-password", "blog-admin-password"}
    data_bound |= {"cloud-db-password", "cloud-admin-password"}
    data_bound |= {"backups-repository-password"}  # every snapshot is encrypted with it
    assert protected == {v.name for v in run.of_type(VOLUME)} | data_bound
    # Redis keeps no data: its password may change with any deploy.
    assert not any(r.protect for r in run.of_type(PASSWORD) if "redis" in r.name)


def test_dev_protects_nothing(dev: ProgramRun) -> None:
    assert not any(r.protect for r in dev.registrations)


def test_images_pinned_and_containers_use_image_id(dev: ProgramRun) -> None:
    pulled = {i.urn: i for i in dev.of_type(IMAGE)}
    pinned = {pin.ref for pin in images.ALL}
    for image in pulled.values():
        # Each tag at its digest (components/core/images.py); tests/test_images.py covers where the digest comes from.
        tag, digest = image.inputs["name"].split("@")
        assert tag in pinned and re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image.inputs["name"]
        assert image.inputs["keepLocally"] is True
    for pin in images.ALL:
        # A version first (the wp-cli variant's tags start with "cli-"), never a moving "latest".
        assert re.match(r"^(cli-)?\d+(\.\d+)*(-|$)", pin.tag) and "latest" not in pin.tag, pin
    for name, container in containers(dev).items():
        assert container.inputs["image"].startswith("sha256:"), name
        image_urns = [urn for urn in container.property_dependencies["image"] if urn in pulled]
        assert len(image_urns) == 1, name


def test_no_password_in_plain_text_anywhere(dev: ProgramRun) -> None:
    passwords = dev.generated_passwords()
    # blog: admin, database, database root, redis; cloud (Postgres): admin, database, redis; the backups' repository.
    assert len(passwords) == len(dev.of_type(PASSWORD)) == 8
    for registration in dev.registrations:
        for path, value, secret in walk(registration.raw_inputs):
            if isinstance(value, str) and any(p in value for p in passwords):
                assert secret, f"{registration.name}.{path} holds a password in plain text"
    for path, value, secret in walk(dev.outputs):
        if isinstance(value, str) and any(p in value for p in passwords):
            assert secret, f"output {path} holds a password in plain text"


def test_passwords_never_in_environment_only_in_files(dev: ProgramRun) -> None:
    passwords = dev.generated_passwords()
    for name, container in containers(dev).items():
        for key, value in env(container).items():
            assert not any(p in value for p in passwords), f"{name} env {key}"
            if "PASSWORD" in key:
                assert key.endswith("_FILE"), f"{name} env {key}"


def test_password_files_readable_only_by_the_service_user(dev: ProgramRun) -> None:
    # The backups' scheduler and dumpers run as root: their files go root-owned (no owner sent, FileUpload.args).
    owners = {"db": "999", "redis": "999", "app": "33", "cron": "33", "quiesce": "33", "dump": None, "backup": None}
    for name, container in containers(dev).items():
        for item, secret in uploads(container):
            if item["file"].startswith("/run/secrets/"):
                assert secret, f"{name}:{item['file']}"
                assert item["permissions"] == "0400"
                assert item.get("owner") == owners[name.rsplit("-", 1)[1]], f"{name}:{item['file']}"


@pytest.mark.parametrize("app", ["blog", "cloud"])
def test_same_password_wires_app_to_database_and_cache(dev: ProgramRun, app: str) -> None:
    running = containers(dev)
    web, db, redis = (running[f"{PREFIX}-{app}-{role}"] for role in ("app", "db", "redis"))
    db_password = content(upload(db, "/run/secrets/db_password"))
    assert content(upload(web, "/run/secrets/db_password")) == db_password
    redis_password = content(upload(redis, "/run/secrets/redis_password"))
    assert content(upload(web, "/run/secrets/redis_password")) == redis_password
    assert f"requirepass {redis_password}\n" in content(upload(redis, "/usr/local/etc/redis/redis.conf"))
    assert db_password != redis_password


def test_every_container_is_cared_for(dev: ProgramRun) -> None:
    for name, container in containers(dev).items():
        inputs = container.inputs
        assert inputs["healthcheck"]["tests"], name
        assert inputs["wait"] is True, name
        assert inputs["restart"] == "unless-stopped", name
        assert inputs["memory"] >= 32, name
        assert inputs["logDriver"] == "json-file" and inputs["logOpts"] == LOG_OPTIONS, name
        assert inputs["memorySwap"] == inputs["memory"], f"{name}: no swap (memory_swap = memory)"
        assert inputs["stopTimeout"] == inputs["destroyGraceSeconds"] > 0, name
        # tests/test_replacement.py has which container is replaced how; both choices are explicit.
        assert container.delete_before_replace_defined, name
        fixed = container.inputs["name"] == name
        assert container.delete_before_replace is fixed, f"{name}: a fixed name needs delete_before_replace"


def test_memory_limits_follow_config() -> None:
    run = run_stack_file(
        "dev",
        {
            "selfhost:apps": {
                "cloud": {"kind": "nextcloud", "hostname": "cloud.localhost", "memory": {"app": "2Gi", "cache": "64Mi"}}
            }
        },
    )
    running = containers(run)
    assert running[f"{PREFIX}-cloud-app"].inputs["memory"] == 2048
    assert running[f"{PREFIX}-cloud-redis"].inputs["memory"] == 64
    assert "maxmemory 50331648\n" in content(
        upload(running[f"{PREFIX}-cloud-redis"], "/usr/local/etc/redis/redis.conf")
    )


def test_every_container_reserves_what_it_needs_in_mib(dev: ProgramRun) -> None:
    """Docker's memory_reservation (MiB, like memory) on every container, from the unchanged Pulumi.dev.yaml."""
    reserved = {name: (c.inputs["memoryReservation"], c.inputs["memory"]) for name, c in containers(dev).items()}
    assert reserved == {
        f"{PREFIX}-blog-app": (256, 512),
        f"{PREFIX}-blog-db": (256, 512),
        f"{PREFIX}-blog-redis": (64, 64),
        f"{PREFIX}-blog-cron": (64, 256),
        f"{PREFIX}-cloud-app": (512, 1024),
        f"{PREFIX}-cloud-cron": (128, 512),
        f"{PREFIX}-cloud-db": (256, 512),
        f"{PREFIX}-cloud-redis": (128, 128),
        # proxyMemoryReservation 32Mi and proxyMemory 128Mi, each + the blog's 42Mi microcache (docs/edge.md).
        f"{PREFIX}-proxy": (74, 170),
        f"{PREFIX}-backup": (64, 512),
        f"{PREFIX}-blog-db-dump": (16, 256),
        f"{PREFIX}-cloud-db-dump": (16, 256),
        f"{PREFIX}-cloud-quiesce": (16, 256),
    }


def test_memory_reservations_follow_config() -> None:
    """Set ones as given; unset ones never above a lowered limit; Redis's follows its limit (maxmemory too)."""
    cloud = {
        "kind": "nextcloud",
        "hostname": "cloud.localhost",
        "memory": {"database": "128Mi", "cache": "256Mi"},
        "memoryReservation": {"app": "768Mi"},
    }
    run = run_stack_file("dev", {"selfhost:apps": {"cloud": cloud}, "selfhost:proxyMemoryReservation": "64Mi"})
    running = containers(run)
    assert running[f"{PREFIX}-cloud-app"].inputs["memoryReservation"] == 768
    assert running[f"{PREFIX}-cloud-db"].inputs["memoryReservation"] == 128
    assert running[f"{PREFIX}-cloud-redis"].inputs["memoryReservation"] == 256
    assert "maxmemory 201326592\n" in content(
        upload(running[f"{PREFIX}-cloud-redis"], "/usr/local/etc/redis/redis.conf")
    )
    assert running[f"{PREFIX}-proxy"].inputs["memoryReservation"] == 64


def test_apps_start_after_their_database_and_cache_are_healthy(dev: ProgramRun) -> None:
    running = containers(dev)
    for app in ("blog", "cloud"):
        deps = running[f"{PREFIX}-{app}-app"].dependencies
        assert running[f"{PREFIX}-{app}-db"].urn in deps
        assert running[f"{PREFIX}-{app}-redis"].urn in deps
    assert running[f"{PREFIX}-cloud-app"].urn in running[f"{PREFIX}-cloud-cron"].dependencies


def test_nextcloud_configured_for_life_behind_the_proxy(dev: ProgramRun) -> None:
    variables = env(containers(dev)[f"{PREFIX}-cloud-app"])
    assert variables["NEXTCLOUD_TRUSTED_DOMAINS"] == "cloud.localhost cloud.localhost:8080"
    assert variables["TRUSTED_PROXIES"] == "172.30.0.0/24"
    assert variables["OVERWRITEHOST"] == "cloud.localhost:8080"
    assert variables["OVERWRITEPROTOCOL"] == "http"
    assert variables["OVERWRITECLIURL"] == "http://cloud.localhost:8080"
    assert variables["REDIS_HOST"] == "redis"
    assert variables["REDIS_HOST_PASSWORD_FILE"] == "/run/secrets/redis_password"
    assert variables["PHP_UPLOAD_LIMIT"] == "16G"
    assert variables["PHP_MEMORY_LIMIT"] == "512M"
    assert variables["NEXTCLOUD_ADMIN_USER"] == "admin"
    assert variables["NEXTCLOUD_ADMIN_PASSWORD_FILE"] == "/run/secrets/admin_password"
    assert {k: variables[k] for k in variables if k.startswith("POSTGRES_")} == {
        "POSTGRES_HOST": "db",
        "POSTGRES_DB": "nextcloud",
        "POSTGRES_USER": "nextcloud",
        "POSTGRES_PASSWORD_FILE": "/run/secrets/db_password",
    }
    assert not any(k.startswith("MYSQL_") for k in variables)
    assert env(containers(dev)[f"{PREFIX}-cloud-cron"]) == variables
    assert containers(dev)[f"{PREFIX}-cloud-cron"].inputs["entrypoints"] == ["/cron.sh"]
    redis_conf = content(upload(containers(dev)[f"{PREFIX}-cloud-redis"], "/usr/local/etc/redis/redis.conf"))
    assert "maxmemory-policy noeviction\n" in redis_conf


def test_nextcloud_on_mariadb_gets_read_committed_and_mysql_variables() -> None:
    run = run_stack_file(
        "dev", {"selfhost:apps": {"cloud": {"kind": "nextcloud", "hostname": "cloud.localhost", "database": "mariadb"}}}
    )
    running = containers(run)
    db = running[f"{PREFIX}-cloud-db"]
    assert "--transaction-isolation=READ-COMMITTED" in db.inputs["command"]
    assert db.inputs["command"][0] == "mariadbd"
    assert {v["containerPath"] for v in db.inputs["volumes"]} == {"/var/lib/mysql"}
    variables = env(running[f"{PREFIX}-cloud-app"])
    assert variables["MYSQL_HOST"] == "db" and variables["MYSQL_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert not any(k.startswith("POSTGRES_") for k in variables)


def test_wordpress_knows_its_public_url(dev: ProgramRun) -> None:
    extra = env(containers(dev)[f"{PREFIX}-blog-app"])["WORDPRESS_CONFIG_EXTRA"]
    assert "define('WP_HOME', 'http://blog.localhost:8080');" in extra
    assert "define('WP_SITEURL', 'http://blog.localhost:8080');" in extra


def test_wordpress_https_url_behind_tls() -> None:
    run = run_stack_file(
        "dev",
        {
            "selfhost:tls": "letsencrypt",
            "selfhost:acmeEmail": "ops@example.com",
            "selfhost:httpPort": 80,
            "selfhost:httpsPort": 443,
            # Let's Encrypt cannot issue for *.localhost: the loader refuses it with tls=letsencrypt.
            "selfhost:apps": {
                "blog": {"kind": "wordpress", "hostname": "blog.example.com"},
                "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
            },
        },
    )
    running = containers(run)
    assert (
        "define('WP_HOME', 'https://blog.example.com');" in env(running[f"{PREFIX}-blog-app"])["WORDPRESS_CONFIG_EXTRA"]
    )
    assert env(running[f"{PREFIX}-cloud-app"])["OVERWRITEPROTOCOL"] == "https"


def test_every_docker_resource_goes_through_the_host_provider(dev: ProgramRun) -> None:
    provider = dev.named("host-docker")
    assert provider.type == "pulumi:providers:docker"
    for registration in dev.registrations:
        if registration.type.startswith("docker:"):
            assert registration.provider.startswith(provider.urn + "::"), registration.name


def test_every_resource_is_parented_to_a_component(dev: ProgramRun) -> None:
    components = {r.urn: r for r in dev.registrations if not r.custom}
    for registration in dev.registrations:
        if registration.custom:
            assert registration.parent in components, registration.name
            parent = components[registration.parent]
            assert registration.name.startswith(parent.name + "-"), registration.name
    assert {r.type for r in components.values()} >= {
        "selfhost:index:LocalDockerHost",
        "selfhost:index:Network",
        "selfhost:index:WordPress",
        "selfhost:index:Nextcloud",
        "selfhost:index:Database",
        "selfhost:index:Cache",
    }


def _snapshot(run: ProgramRun) -> str:
    return json.dumps(
        sorted(
            # Dependencies are a set to the engine (their order is never diffed): compare them sorted.
            (
                r.urn,
                r.raw_inputs,
                sorted(r.dependencies),
                r.protect,
                r.retain_on_delete,
                {key: sorted(urns) for key, urns in r.property_dependencies.items()},
            )
            for r in run.registrations
        ),
        sort_keys=True,
        default=str,
    )


def test_two_runs_register_identical_inputs() -> None:
    assert _snapshot(run_stack_file("dev")) == _snapshot(run_stack_file("dev"))


def test_app_order_in_config_does_not_change_the_graph() -> None:
    forward = {
        "a": {"kind": "wordpress", "hostname": "a.localhost"},
        "b": {"kind": "nextcloud", "hostname": "b.localhost"},
    }
    backward = dict(reversed(list(forward.items())))
    assert _snapshot(run_stack_file("dev", {"selfhost:apps": forward})) == _snapshot(
        run_stack_file("dev", {"selfhost:apps": backward})
    )


def test_outputs_for_stack_references(dev: ProgramRun) -> None:
    outputs = dev.outputs
    assert outputs["urls"] == {"blog": "http://blog.localhost:8080", "cloud": "http://cloud.localhost:8080"}
    assert outputs["adminUsers"] == {"blog": "admin", "cloud": "admin"}
    assert is_secret(outputs["adminPasswords"])
    assert set(outputs["adminPasswords"]["value"]) == {"blog", "cloud"}
    assert outputs["volumes"] == {
        "blog": [f"{PREFIX}-blog-db-data", f"{PREFIX}-blog-html"],
        "cloud": [f"{PREFIX}-cloud-data", f"{PREFIX}-cloud-db-data", f"{PREFIX}-cloud-html"],
    }


def test_several_wordpress_sites_get_separate_everything() -> None:
    apps = {
        "blog": {"kind": "wordpress", "hostname": "blog.localhost"},
        "shop": {"kind": "wordpress", "hostname": "shop.localhost"},
    }
    run = run_stack_file("dev", {"selfhost:apps": apps})
    running = containers(run)
    for app in apps:
        assert list(attached(running[f"{PREFIX}-{app}-db"])) == [f"{PREFIX}-{app}-backend"]
    blog_db = content(upload(running[f"{PREFIX}-blog-db"], "/run/secrets/db_password"))
    shop_db = content(upload(running[f"{PREFIX}-shop-db"], "/run/secrets/db_password"))
    assert blog_db != shop_db
    assert len({r.urn for r in run.registrations}) == len(run.registrations)


def test_bad_config_registers_nothing() -> None:
    monitor_seen: list[RecordingMonitor] = []
    with pytest.raises(ConfigError, match=r"selfhost:apps\.blog\.hostname"):
        run_program({"selfhost:apps": {"blog": {"kind": "wordpress", "hostname": "not a host"}}}, monitors=monitor_seen)
    assert monitor_seen and monitor_seen[0].registrations == []


def test_redis_healthcheck_is_the_command_proven_live(dev: ProgramRun) -> None:
    from components.services.cache import healthcheck_command

    for app in ("blog", "cloud"):
        redis = containers(dev)[f"{PREFIX}-{app}-redis"]
        assert redis.inputs["healthcheck"]["tests"] == ["CMD-SHELL", healthcheck_command()]
        assert redis.inputs["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
