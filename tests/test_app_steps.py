"""Tier 2: the first-boot steps under mocks — the WordPress wp-cli container, the Nextcloud hooks.

Proves what the program sends: inputs, secrets as files, ordering (dependencies on the
healthy database, cache and app containers), and that a step's container changes exactly
when its inputs do and never between identical runs. Not proven here: what wp-cli and
occ do inside the images (tests/test_app_scripts.py runs the scripts against stubs).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.apps.nextcloud import hooks as nextcloud_hooks
from components.apps.nextcloud.settings import NextcloudApp
from components.apps.nextcloud.spec import hook_settings
from components.apps.spec import Site
from components.apps.wordpress import setup as wordpress_setup
from components.apps.wordpress.setup import SiteSettings, site_script
from components.core import images
from tests.mockstack import ProgramRun, Registration, is_secret, run_stack_file, service_name, unwrap

CONTAINER = "docker:index/container:Container"
IMAGE = "docker:index/remoteImage:RemoteImage"
PREFIX = "selfhost-dev"
BLOG_CRON = f"{PREFIX}-blog-cron"
BLOG_APP = f"{PREFIX}-blog-app"
CLOUD_APP = f"{PREFIX}-cloud-app"
CLOUD_CRON = f"{PREFIX}-cloud-cron"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_stack_file("dev")


def containers(run: ProgramRun) -> dict[str, Registration]:
    return {service_name(c): c for c in run.of_type(CONTAINER)}


def env(container: Registration) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.inputs.get("envs", []))


def uploads(container: Registration) -> dict[str, tuple[dict[str, Any], bool]]:
    raw = container.raw_inputs.get("uploads", [])
    items = raw["value"] if is_secret(raw) else raw
    return {
        unwrap(item)["file"]: (unwrap(item), is_secret(raw) or is_secret(item) or is_secret(item.get("content")))
        for item in items
    }


def image_of(run: ProgramRun, container: Registration) -> str:
    pulled = {i.urn: i for i in run.of_type(IMAGE)}
    (urn,) = [urn for urn in container.property_dependencies["image"] if urn in pulled]
    name: str = pulled[urn].inputs["name"]
    return name


# --- WordPress -------------------------------------------------------------------------------------


def test_wp_cli_container_runs_the_cli_image_as_www_data_on_the_site_volume(dev: ProgramRun) -> None:
    cron, app = containers(dev)[BLOG_CRON], containers(dev)[BLOG_APP]
    assert image_of(dev, cron).startswith(images.WORDPRESS_CLI.ref + "@sha256:")
    assert images.WORDPRESS_CLI.php == images.WORDPRESS.php == "8.4"
    assert cron.inputs["user"] == "33:33"
    assert cron.inputs["volumes"] == app.inputs["volumes"]
    assert cron.inputs["entrypoints"] == ["/bin/sh", wordpress_setup.SCRIPT_PATH]
    assert cron.inputs["command"] == ["run"]
    assert cron.inputs["healthcheck"]["tests"] == ["CMD", "sh", wordpress_setup.SCRIPT_PATH, "health"]
    assert cron.inputs["wait"] is True and cron.inputs["restart"] == "unless-stopped"


def test_wp_cli_container_reads_wp_config_exactly_as_the_app_does(dev: ProgramRun) -> None:
    cron, app = containers(dev)[BLOG_CRON], containers(dev)[BLOG_APP]
    assert env(cron) == {**env(app), "HOME": "/tmp"}
    for secret in ("/run/secrets/db_password", "/run/secrets/redis_password"):
        assert uploads(cron)[secret] == uploads(app)[secret]


def test_wordpress_cron_runs_off_page_visits(dev: ProgramRun) -> None:
    assert "define('DISABLE_WP_CRON', true);" in env(containers(dev)[BLOG_APP])["WORDPRESS_CONFIG_EXTRA"]


def test_admin_password_reaches_wp_cli_as_a_secret_file_only(dev: ProgramRun) -> None:
    cron = containers(dev)[BLOG_CRON]
    item, secret = uploads(cron)[wordpress_setup.ADMIN_INSTALL_CONFIG]
    exported = unwrap(dev.outputs["adminPasswords"])["blog"]
    assert item["content"] == wordpress_setup.admin_install_config(exported)
    assert secret and item["permissions"] == "0400" and item["owner"] == "33"
    visible = [*cron.inputs["entrypoints"], *cron.inputs["command"], *env(cron).values()]
    assert not any(exported in value for value in visible)
    script, _ = uploads(cron)[wordpress_setup.SCRIPT_PATH]
    assert exported not in script["content"]
    # Root's, sent without owner: with one, the engine would give it to the container's user 33.
    assert script["permissions"] == "0555" and "owner" not in script and "group" not in script
    assert "--prompt" not in script["content"]
    assert 'WP_CLI_CONFIG_PATH="$ADMIN_INSTALL_CONFIG" wp core install' in script["content"]
    # Only the wp-cli container holds the admin password; the app container never needs it.
    assert wordpress_setup.ADMIN_INSTALL_CONFIG not in uploads(containers(dev)[BLOG_APP])


def test_site_script_carries_the_configured_site(dev: ProgramRun) -> None:
    cron = containers(dev)[BLOG_CRON]
    expected = site_script(SiteSettings("http://blog.localhost:8080", "WordPress", "admin", "admin@blog.localhost"))
    assert uploads(cron)[wordpress_setup.SCRIPT_PATH][0]["content"] == expected
    assert uploads(cron)[wordpress_setup.REDIS_CHECK_PATH][0]["content"] == wordpress_setup.REDIS_CHECK_PHP


def test_wp_cli_starts_after_database_cache_and_app_are_healthy(dev: ProgramRun) -> None:
    running = containers(dev)
    dependencies = running[BLOG_CRON].dependencies
    for role in ("db", "redis", "app"):
        assert running[f"{PREFIX}-blog-{role}"].urn in dependencies, role
    # The app itself waits for database and cache; every one of them waits to be healthy.
    for role in ("db", "redis", "app", "cron"):
        assert running[f"{PREFIX}-blog-{role}"].inputs["wait"] is True


def _blog(**settings: Any) -> dict[str, Any]:
    return {"selfhost:apps": {"blog": {"kind": "wordpress", "hostname": "blog.localhost", **settings}}}


@pytest.mark.parametrize(
    ("change", "cron_changes", "app_changes"),
    [
        (_blog(title="Field notes"), True, False),
        (_blog(adminEmail="ops@example.com"), True, False),
        (_blog(adminUser="editor"), True, False),
        (_blog(memory={"cron": "512Mi"}), True, False),
        ({"selfhost:httpPort": 8081}, True, True),
    ],
)
def test_wp_cli_container_changes_exactly_when_its_inputs_do(
    change: dict[str, Any], cron_changes: bool, app_changes: bool
) -> None:
    base = run_stack_file("dev", _blog())
    changed = run_stack_file("dev", change if "selfhost:apps" in change else {**_blog(), **change})
    assert (containers(changed)[BLOG_CRON].raw_inputs != containers(base)[BLOG_CRON].raw_inputs) is cron_changes
    assert (containers(changed)[BLOG_APP].raw_inputs != containers(base)[BLOG_APP].raw_inputs) is app_changes


def test_a_new_plugin_pin_reaches_the_script(monkeypatch: pytest.MonkeyPatch) -> None:
    base = uploads(containers(run_stack_file("dev"))[BLOG_CRON])[wordpress_setup.SCRIPT_PATH][0]["content"]
    monkeypatch.setattr(wordpress_setup, "REDIS_CACHE_VERSION", "9.9.9")
    bumped = uploads(containers(run_stack_file("dev"))[BLOG_CRON])[wordpress_setup.SCRIPT_PATH][0]["content"]
    assert base != bumped and "PLUGIN_VERSION='9.9.9'" in bumped


def test_identical_runs_send_identical_steps() -> None:
    first, second = run_stack_file("dev"), run_stack_file("dev")
    for name in (BLOG_CRON, CLOUD_APP):
        assert containers(first)[name].raw_inputs == containers(second)[name].raw_inputs


def test_the_web_installer_is_closed_in_the_app_container(dev: ProgramRun) -> None:
    item, _ = uploads(containers(dev)[BLOG_APP])[wordpress_setup.APACHE_NO_INSTALLER_CONF]
    assert item["content"] == wordpress_setup.APACHE_NO_INSTALLER
    assert (item.get("owner"), item["permissions"]) == (None, "0444")


# --- Nextcloud -------------------------------------------------------------------------------------

HOOKS = (nextcloud_hooks.BEFORE_STARTING, nextcloud_hooks.POST_INSTALLATION, nextcloud_hooks.POST_UPGRADE)


def test_hooks_are_executable_by_www_data_in_the_app_container_only(dev: ProgramRun) -> None:
    app, cron = containers(dev)[CLOUD_APP], containers(dev)[CLOUD_CRON]
    for path in HOOKS:
        item, _ = uploads(app)[path]
        assert (item["permissions"], item["owner"], item["group"]) == ("0755", "33", "33")
        assert item["content"].startswith("#!/bin/sh\n")
        assert path not in uploads(cron)


def test_before_starting_hook_carries_the_stack_config(dev: ProgramRun) -> None:
    content = uploads(containers(dev)[CLOUD_APP])[nextcloud_hooks.BEFORE_STARTING][0]["content"]
    assert "occ config:system:set default_phone_region --value='DE'" in content
    assert "occ config:system:set maintenance_window_start --type=integer --value='1'" in content
    assert "occ config:system:set overwrite.cli.url --value='http://cloud.localhost:8080'" in content
    assert "occ config:system:set trusted_proxies 0 --value='172.30.0.0/24'" in content
    assert "occ background:cron" in content


def test_configured_region_and_window_reach_the_hook_and_only_the_app_container() -> None:
    cloud = {"kind": "nextcloud", "hostname": "cloud.localhost"}
    base = run_stack_file("dev", {"selfhost:apps": {"cloud": cloud}})
    tuned = run_stack_file(
        "dev", {"selfhost:apps": {"cloud": {**cloud, "defaultPhoneRegion": "FR", "maintenanceWindowStart": 23}}}
    )
    content = uploads(containers(tuned)[CLOUD_APP])[nextcloud_hooks.BEFORE_STARTING][0]["content"]
    app = NextcloudApp.model_validate({**cloud, "defaultPhoneRegion": "FR", "maintenanceWindowStart": 23})
    site = Site(
        app="cloud",
        hostname="cloud.localhost",
        public_url="http://cloud.localhost:8080",
        scheme="http",
        public_host="cloud.localhost:8080",
        trusted_proxies="172.30.0.0/24",
    )
    assert content == nextcloud_hooks.before_starting(hook_settings(app, site))
    assert "--value='FR'" in content and "--value='23'" in content
    assert containers(tuned)[CLOUD_CRON].raw_inputs == containers(base)[CLOUD_CRON].raw_inputs
    assert containers(tuned)[CLOUD_APP].raw_inputs != containers(base)[CLOUD_APP].raw_inputs


def test_redis_locking_still_comes_from_the_image_configuration(dev: ProgramRun) -> None:
    variables = env(containers(dev)[CLOUD_APP])
    assert variables["REDIS_HOST"] == "redis"
    content = uploads(containers(dev)[CLOUD_APP])[nextcloud_hooks.BEFORE_STARTING][0]["content"]
    assert "require_system_value memcache.locking '\\OC\\Memcache\\Redis'" in content
    assert "config:system:set redis" not in content  # no password copied into config.php by us


def test_nextclouds_apache_takes_the_configured_upload_limit(dev: ProgramRun) -> None:
    """The image's Apache refuses bodies over APACHE_BODY_LIMIT (1 GiB unless set); dev allows 16 GiB uploads."""
    for name in (CLOUD_APP, CLOUD_CRON):
        assert env(containers(dev)[name])["APACHE_BODY_LIMIT"] == str(16 * 1024**3 + 1024**2)


def test_only_nextclouds_redis_refuses_to_evict(dev: ProgramRun) -> None:
    def policy(container: str) -> str:
        item, _ = uploads(containers(dev)[container])["/usr/local/etc/redis/redis.conf"]
        (line,) = [line for line in item["content"].splitlines() if line.startswith("maxmemory-policy ")]
        return str(line.split()[1])

    assert policy(f"{PREFIX}-cloud-redis") == "noeviction"
    assert policy(f"{PREFIX}-blog-redis") == "allkeys-lru"
