"""Tier 1: every script, PHP snippet and config file the stack hands to a container, checked here.

What this proves: the text parses (sh -n, shellcheck, php -l), the scripts make exactly the
calls intended, in order, idempotently, with secrets on stdin rather than in argv, and
stop at the first failure. What it does not: that wp-cli, occ or Apache inside the
images accept those calls (the stubs only log them); that needs the images.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.apps.nextcloud import hooks as nextcloud_hooks
from components.apps.nextcloud.hooks import NextcloudSettings
from components.apps.spec import Backing
from components.apps.wordpress import setup as wordpress_setup
from components.apps.wordpress.setup import SiteSettings, site_script
from components.apps.wordpress.spec import config_extra
from components.services.registry import connection
from tests.mockstack import ProgramRun, run_stack_file
from tests.scripttools import (
    install_stub,
    php_lint_errors,
    require,
    run_script,
    sh_syntax_errors,
    shellcheck_findings,
    stub_calls,
)

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    return run_stack_file("dev")


def handed_over(run: ProgramRun) -> Iterator[tuple[str, str, str]]:
    """(container, what, text) for every file, environment value and healthcheck sent to a container."""
    for container in run.of_type(CONTAINER):
        name = container.inputs["name"]
        for item in container.inputs.get("uploads", []):
            yield name, item["file"], item["content"]
        for variable in container.inputs.get("envs", []):
            key, value = variable.split("=", 1)
            yield name, f"env {key}", value
        test = container.inputs["healthcheck"]["tests"]
        if test[0] == "CMD-SHELL":
            yield name, "healthcheck", "#!/bin/sh\n" + test[1] + "\n"


def shell_scripts(run: ProgramRun) -> list[tuple[str, str, str]]:
    return [item for item in handed_over(run) if item[2].startswith("#!/bin/sh")]


def test_the_dev_stack_hands_over_the_scripts_this_file_checks(dev: ProgramRun) -> None:
    paths = {(container, what) for container, what, _ in shell_scripts(dev)}
    assert ("selfhost-dev-blog-cron", wordpress_setup.SCRIPT_PATH) in paths
    for hook in (nextcloud_hooks.BEFORE_STARTING, nextcloud_hooks.POST_INSTALLATION, nextcloud_hooks.POST_UPGRADE):
        assert ("selfhost-dev-cloud-app", hook) in paths


def test_every_shell_script_parses_and_is_shellcheck_clean(dev: ProgramRun) -> None:
    require("shellcheck")
    for container, what, text in shell_scripts(dev):
        assert not sh_syntax_errors(text), f"{container} {what}: {sh_syntax_errors(text)}"
        assert not shellcheck_findings(text), f"{container} {what}:\n{shellcheck_findings(text)}"


TRICKY_TITLE = 'Bob\'s "$(touch /tmp/pwned)" `id` blog\\n & more; $HOME\nsecond line'


def test_site_script_with_hostile_values_still_parses() -> None:
    script = site_script(SiteSettings("https://blog.example.com", TRICKY_TITLE, "o'brien", "a@b.example"))
    assert not sh_syntax_errors(script)
    # Literal `$` inside single quotes draws an informational SC2016: warnings and errors only.
    assert not shellcheck_findings(script, severity="warning")


def test_php_lint_without_the_opening_tag_proves_nothing() -> None:
    require("php")
    broken = "define('X' 1);"
    assert php_lint_errors(broken)
    assert not php_lint_errors(broken, opening_tag=False)


def test_every_php_snippet_handed_to_an_image_lints(dev: ProgramRun) -> None:
    require("php")
    snippets = [
        (container, what, text)
        for container, what, text in handed_over(dev)
        if what == "env WORDPRESS_CONFIG_EXTRA" or what.endswith(".php")
    ]
    assert {what for _, what, _ in snippets} == {"env WORDPRESS_CONFIG_EXTRA", wordpress_setup.REDIS_CHECK_PATH}
    for container, what, text in snippets:
        # WORDPRESS_CONFIG_EXTRA is eval()'d without a tag; files carry their own.
        errors = php_lint_errors(text, opening_tag=not text.startswith("<?php"))
        assert not errors, f"{container} {what}: {errors}"


def test_config_extra_defines_what_wordpress_and_the_cache_plugin_read() -> None:
    """Evaluate it as the image's wp-config.php does (``eval(getenv(...))``) and read the constants back."""
    php = require("php")
    snippet = config_extra(
        "https://blog.example.com", "blog", connection(Backing(role="redis", kind="redis", memory=64 * 1024**2))
    )
    names = ["WP_HOME", "WP_SITEURL", "WP_REDIS_HOST", "WP_REDIS_PORT", "WP_REDIS_CLIENT", "DISABLE_WP_CRON"]
    code = "eval(getenv('EXTRA')); echo json_encode(array_map('constant', json_decode(getenv('NAMES'))));"
    result = subprocess.run(
        [php, "-r", code],
        env={**os.environ, "EXTRA": snippet, "NAMES": json.dumps(names)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert dict(zip(names, json.loads(result.stdout), strict=True)) == {
        "WP_HOME": "https://blog.example.com",
        "WP_SITEURL": "https://blog.example.com",
        "WP_REDIS_HOST": "redis",
        "WP_REDIS_PORT": 6379,
        "WP_REDIS_CLIENT": "predis",
        "DISABLE_WP_CRON": True,
    }


# --- the WordPress site script, against a stub wp-cli -------------------------------------------

WP_STUB = r"""
state="$STUB_STATE"
printf '%s\n' "${WP_CLI_CONFIG_PATH:-}" >>"$state/config-paths"
[ "$1" = "--skip-plugins" ] && shift
case "$1 $2" in
    "core is-installed") [ -f "$state/installed" ] ;;
    "core install")
        # As wp-cli 2.12 does: `core install` defaults from the file WP_CLI_CONFIG_PATH names, and
        # with --prompt the prompted value read from stdin, then the whole command logged to stdout.
        password=""
        if [ -n "${WP_CLI_CONFIG_PATH:-}" ]; then
            password="$(sed -n 's/^  admin_password: "\(.*\)"$/\1/p' "$WP_CLI_CONFIG_PATH")"
        fi
        for arg in "$@"; do
            if [ "$arg" = "--prompt=admin_password" ]; then
                password="$(cat)"
                echo "wp core install $* --admin_password='$password'"
            fi
        done
        printf '%s' "$password" >"$state/install-password"
        touch "$state/installed"
        echo "Success: WordPress installed successfully."
        ;;
    "plugin get") cat "$state/plugin" 2>/dev/null ;;
    "plugin install") printf '%s\n' "${4#--version=}" >"$state/plugin" ;;
    "plugin verify-checksums") printf '%s\n' "${STUB_VERIFY-Success: Verified 1 of 1 plugins.}" ;;
    *) : ;;
esac
status=$?
if [ -n "${FAIL_ON:-}" ] && [ "$1 $2" = "$FAIL_ON" ]; then exit 1; fi
exit "$status"
"""

SITE = SiteSettings("http://blog.localhost:8080", TRICKY_TITLE, "admin", "admin@blog.localhost")
PASSWORD = "PwFromTheSecretFile0123456789xyz"


class WpSandbox:
    def __init__(self, root: Path, site: SiteSettings = SITE) -> None:
        self.bin, self.log, self.state = root / "bin", root / "log", root / "state"
        for directory in (self.bin, self.log, self.state):
            directory.mkdir()
        install_stub(self.bin, "wp", WP_STUB)
        self.install_config = root / "wp_admin_install.yml"
        self.install_config.write_text(wordpress_setup.admin_install_config(PASSWORD))
        self.content_dir = root / "wp-content"
        self.content_dir.mkdir()
        self.script = root / "wp-site.sh"
        self.script.write_text(
            site_script(
                site,
                state_dir=str(root / "markers"),
                admin_install_config=str(self.install_config),
                redis_check="/check.php",
                content_dir=str(self.content_dir),
            )
        )

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return run_script(
            self.script, *args, bin_dir=self.bin, log_dir=self.log, env={"STUB_STATE": str(self.state), **env}
        )

    def calls(self) -> list[list[str]]:
        return stub_calls(self.log, "wp")

    def clear_log(self) -> None:
        for entry in self.log.iterdir():
            entry.unlink()


@pytest.fixture
def wp(tmp_path: Path) -> WpSandbox:
    require("php")  # the script compares plugin versions with php -r
    return WpSandbox(tmp_path)


def test_first_converge_installs_with_the_password_from_its_config_file_only(wp: WpSandbox) -> None:
    result = wp.run("converge")
    assert result.returncode == 0, result.stderr
    calls = wp.calls()
    install = next(call for call in calls if call[:2] == ["core", "install"])
    assert install == [
        "core",
        "install",
        "--url=http://blog.localhost:8080",
        f"--title={TRICKY_TITLE}",
        "--admin_user=admin",
        "--admin_email=admin@blog.localhost",
        "--skip-email",
    ]
    assert (wp.state / "install-password").read_text() == PASSWORD
    # Never in argv, never in what the container prints (docker logs).
    assert not any(PASSWORD in arg for call in calls for arg in call)
    assert PASSWORD not in result.stdout + result.stderr
    # The config file is named for the install call alone; the environment carries its path only.
    paths = (wp.state / "config-paths").read_text().splitlines()
    assert paths[calls.index(install)] == str(wp.install_config)
    assert all(path == "" for index, path in enumerate(paths) if index != calls.index(install))
    assert [call[:2] for call in calls] == [
        ["core", "is-installed"],
        ["core", "install"],
        ["option", "update"],
        ["option", "update"],
        ["core", "update-db"],
        ["plugin", "get"],
        ["plugin", "install"],
        ["--skip-plugins", "plugin"],
        ["plugin", "activate"],
        ["redis", "update-dropin"],
        ["eval-file", "/check.php"],
    ]
    assert ["option", "update", "blogname", TRICKY_TITLE] in calls
    assert ["plugin", "install", "redis-cache", f"--version={wordpress_setup.REDIS_CACHE_VERSION}", "--force"] in calls
    assert ["--skip-plugins", "plugin", "verify-checksums", "redis-cache"] in calls


def test_the_stub_leaks_a_prompted_password_as_wp_cli_does(wp: WpSandbox) -> None:
    """The stub is faithful where it matters: with --prompt (the former way) the password reaches stdout."""
    result = subprocess.run(
        [str(wp.bin / "wp"), "core", "install", "--prompt=admin_password"],
        input=PASSWORD,
        env={**os.environ, "STUB_LOG": str(wp.log), "STUB_STATE": str(wp.state)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert PASSWORD in result.stdout


def test_admin_install_config_refuses_what_it_cannot_quote() -> None:
    assert wordpress_setup.admin_install_config(PASSWORD) == f'core install:\n  admin_password: "{PASSWORD}"\n'
    for bad in ('pa"ss' * 5, "short", "with space and more letters", "line\nbreak" * 3):
        with pytest.raises(ValueError) as error:
            wordpress_setup.admin_install_config(bad)
        assert bad not in str(error.value)


@pytest.mark.parametrize(
    "report",
    [
        "Success: Verified 0 of 1 plugins (1 skipped).",  # checksums not reachable: wp-cli still exits 0
        "",
    ],
)
def test_an_unverified_plugin_fails_converge_and_is_switched_off(wp: WpSandbox, report: str) -> None:
    (wp.content_dir / "object-cache.php").write_text("<?php // drop-in\n")
    result = wp.run("converge", STUB_VERIFY=report)
    assert result.returncode != 0
    verbs = [call[:3] for call in wp.calls()]
    assert verbs[-2:] == [
        ["--skip-plugins", "plugin", "verify-checksums"],
        ["--skip-plugins", "plugin", "deactivate"],
    ]
    assert ["plugin", "activate"] not in [call[:2] for call in wp.calls()]
    assert not (wp.content_dir / "object-cache.php").exists()
    assert "does not match wordpress.org's checksums" in result.stderr


def test_a_checksum_mismatch_fails_converge(wp: WpSandbox) -> None:
    result = wp.run("converge", FAIL_ON="plugin verify-checksums")
    assert result.returncode != 0
    assert ["plugin", "activate"] not in [call[:2] for call in wp.calls()]


def test_converging_again_installs_nothing(wp: WpSandbox) -> None:
    assert wp.run("converge").returncode == 0
    wp.clear_log()
    result = wp.run("converge")
    assert result.returncode == 0, result.stderr
    verbs = [call[:2] for call in wp.calls()]
    assert ["core", "install"] not in verbs
    assert ["plugin", "install"] not in verbs
    assert ["redis", "update-dropin"] in verbs


@pytest.mark.parametrize(("found", "reinstalled"), [("2.5.4", True), ("2.6.3", False), ("2.7.0", False)])
def test_plugin_is_brought_up_to_the_pin_but_never_down(wp: WpSandbox, found: str, reinstalled: bool) -> None:
    (wp.state / "installed").touch()
    (wp.state / "plugin").write_text(found + "\n")
    assert wp.run("converge").returncode == 0
    assert (["plugin", "install"] in [call[:2] for call in wp.calls()]) is reinstalled


def test_a_failing_step_fails_converge_and_stops_there(wp: WpSandbox) -> None:
    result = wp.run("converge", FAIL_ON="plugin activate")
    assert result.returncode != 0
    verbs = [call[:2] for call in wp.calls()]
    assert verbs[-1] == ["plugin", "activate"]
    assert ["redis", "update-dropin"] not in verbs


def test_health_needs_convergence_and_a_recent_cron_run(wp: WpSandbox, tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    assert wp.run("health").returncode == 1
    markers.mkdir()
    (markers / "converged").touch()
    assert wp.run("health").returncode == 1  # no cron run yet
    heartbeat = markers / "cron-heartbeat"
    heartbeat.touch()
    assert wp.run("health").returncode == 0
    stale = time.time() - wordpress_setup.HEARTBEAT_MAX_AGE_SECONDS - 60
    os.utime(heartbeat, (stale, stale))
    assert wp.run("health").returncode == 1


def test_run_converges_then_runs_cron_and_stops_promptly_on_term(wp: WpSandbox, tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{wp.bin}:{os.environ['PATH']}", "STUB_LOG": str(wp.log), "STUB_STATE": str(wp.state)}
    process = subprocess.Popen(["/bin/sh", str(wp.script), "run"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "markers" / "cron-heartbeat").exists():
            assert time.monotonic() < deadline, "no cron run within 20 s"
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.1)
        assert wp.run("health").returncode == 0
        assert ["cron", "event", "run", "--due-now"] in wp.calls()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()


# --- Nextcloud hooks, against a stub php (occ) ------------------------------------------------------

PHP_STUB = r"""
# Called as: php /var/www/html/occ --no-interaction --no-ansi <command> ...
shift 3
if [ "$1" = "config:system:get" ]; then
    printf '%s\n' "${STUB_REDIS_ANSWER-\OC\Memcache\Redis}"
fi
if [ -n "${FAIL_ON:-}" ] && [ "$1" = "$FAIL_ON" ]; then exit 1; fi
exit 0
"""

CLOUD = NextcloudSettings(
    phone_region="FR",
    maintenance_window_start=3,
    public_url="https://cloud.example.com",
    public_host="cloud.example.com",
    scheme="https",
    trusted_proxies="172.30.0.0/24",
    trusted_domains=("cloud.example.com",),
)


def run_hook(tmp_path: Path, script: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    bin_dir, log_dir = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir(exist_ok=True)
    log_dir.mkdir(exist_ok=True)
    install_stub(bin_dir, "php", PHP_STUB)
    path = tmp_path / "hook.sh"
    path.write_text(script)
    result = run_script(path, bin_dir=bin_dir, log_dir=log_dir, env=env)
    prefix = ["/var/www/html/occ", "--no-interaction", "--no-ansi"]
    calls = stub_calls(log_dir, "php")
    assert all(call[:3] == prefix for call in calls)
    return result, [call[3:] for call in calls]


def test_before_starting_sets_exactly_the_configured_values(tmp_path: Path) -> None:
    result, calls = run_hook(tmp_path, nextcloud_hooks.before_starting(CLOUD))
    assert result.returncode == 0, result.stderr
    assert calls == [
        ["background:cron"],
        ["config:system:set", "default_phone_region", "--value=FR"],
        ["config:system:set", "maintenance_window_start", "--type=integer", "--value=3"],
        ["config:system:set", "memcache.local", "--value=\\OC\\Memcache\\APCu"],
        ["config:system:set", "overwrite.cli.url", "--value=https://cloud.example.com"],
        ["config:system:set", "overwritehost", "--value=cloud.example.com"],
        ["config:system:set", "overwriteprotocol", "--value=https"],
        ["config:system:set", "trusted_proxies", "0", "--value=172.30.0.0/24"],
        ["config:system:set", "forwarded_for_headers", "0", "--value=HTTP_X_FORWARDED_FOR"],
        ["config:system:set", "trusted_domains", "1", "--value=cloud.example.com"],
        ["config:system:get", "memcache.distributed"],
        ["config:system:get", "memcache.locking"],
    ]


def test_before_starting_refuses_to_start_without_redis_locking(tmp_path: Path) -> None:
    result, _ = run_hook(tmp_path, nextcloud_hooks.before_starting(CLOUD), STUB_REDIS_ANSWER="")
    assert result.returncode == 1
    assert "memcache.distributed is '', expected '\\OC\\Memcache\\Redis'" in result.stderr


def test_before_starting_stops_at_the_first_failing_command(tmp_path: Path) -> None:
    result, calls = run_hook(tmp_path, nextcloud_hooks.before_starting(CLOUD), FAIL_ON="background:cron")
    assert result.returncode != 0
    assert calls == [["background:cron"]]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (nextcloud_hooks.post_installation(), [["app:disable", "app_api"]]),
        (
            nextcloud_hooks.post_upgrade(),
            [["db:add-missing-indices"], ["db:add-missing-columns"], ["db:add-missing-primary-keys"]],
        ),
    ],
)
def test_one_time_hooks_run_their_commands_and_tolerate_failure(
    tmp_path: Path, script: str, expected: list[list[str]]
) -> None:
    result, calls = run_hook(tmp_path, script)
    assert result.returncode == 0
    assert calls == expected
    failing = expected[0][0]
    again = tmp_path / "failing"
    again.mkdir()
    result, _ = run_hook(again, script, FAIL_ON=failing)
    assert result.returncode == 0
    assert f"occ {failing}" in result.stderr
