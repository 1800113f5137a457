"""Tier 1: the settings model and loader — valid config, defaults, and every error message."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.apps.nextcloud.countries import ISO_3166_ALPHA2
from components.apps.nextcloud.settings import NextcloudApp
from components.apps.registry import KINDS
from components.apps.wordpress.settings import WordPressApp
from components.core.fields import email_problem, is_email_address
from components.core.units import format_memory, parse_memory, php_size
from config.loading import ConfigError, is_namespace_lookalike, name_prefix_problems, settings_from_config
from config.settings import non_public_suffix
from tests import tls_material

ALL_KINDS = ", ".join(KINDS)
"""The kinds config accepts, in the registry's order, as error messages list them."""

DEV_APPS = {
    "blog": {"kind": "wordpress", "hostname": "blog.localhost"},
    "cloud": {"kind": "nextcloud", "hostname": "cloud.localhost"},
}
PUBLIC_APPS = {
    "blog": {"kind": "wordpress", "hostname": "blog.example.com"},
    "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
}


def load(apps: Any = None, **keys: Any) -> Any:
    config = {"selfhost:apps": json.dumps(DEV_APPS if apps is None else apps)}
    secret_keys = set()
    for key, value in keys.items():
        if key.startswith("secret_"):
            key = key.removeprefix("secret_")
            secret_keys.add(f"selfhost:{key}")
        config[f"selfhost:{key}"] = value if isinstance(value, str) else json.dumps(value)
    return settings_from_config(config, frozenset(secret_keys))


def error_of(apps: Any = None, **keys: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load(apps, **keys)
    assert isinstance(caught.value, pulumi.RunError)
    return str(caught.value)


def test_dev_defaults() -> None:
    settings = load()
    assert settings.host == "local"
    assert settings.http_port == 8080
    assert settings.tls == "off"
    assert settings.protect is False
    assert settings.public_url("blog.localhost") == "http://blog.localhost:8080"
    blog, cloud = settings.apps["blog"], settings.apps["cloud"]
    assert isinstance(blog, WordPressApp) and isinstance(cloud, NextcloudApp)
    assert cloud.database == "postgres"
    assert cloud.memory.app == 1024**3
    assert blog.upload_limit == 64 * 1024**2
    assert cloud.default_phone_region == "DE"
    assert cloud.maintenance_window_start == 1
    assert blog.memory.cron == 256 * 1024**2


def test_cli_strings_become_typed_values() -> None:
    settings = load(httpPort="80", protect="true", proxyMemory="256Mi")
    assert settings.http_port == 80
    assert settings.protect is True
    assert settings.proxy_memory == 256 * 1024**2
    assert settings.public_url("blog.localhost") == "http://blog.localhost"


def test_https_url_omits_default_port() -> None:
    settings = load(PUBLIC_APPS, tls="letsencrypt", acmeEmail="ops@example.com", httpPort="80", httpsPort="443")
    assert settings.public_url("blog.example.com") == "https://blog.example.com"


def test_nested_options_camel_case() -> None:
    apps = {
        "cloud": {
            "kind": "nextcloud",
            "hostname": "cloud.example.com",
            "database": "mariadb",
            "uploadLimit": "2Gi",
            "adminUser": "root-admin",
            "memory": {"app": "2g"},
        }
    }
    cloud = load(apps).apps["cloud"]
    assert cloud.database == "mariadb"
    assert cloud.upload_limit == 2 * 1024**3
    assert cloud.admin_user == "root-admin"
    assert cloud.memory.app == 2 * 1024**3
    assert cloud.memory.cron == 512 * 1024**2


@pytest.mark.parametrize(("region", "hour"), [("FR", 0), ("US", 23), ("GB", 12)])
def test_nextcloud_phone_region_and_maintenance_window(region: str, hour: int) -> None:
    cloud_config: dict[str, Any] = {"kind": "nextcloud", "hostname": "c.localhost"}
    apps = {"cloud": {**cloud_config, "defaultPhoneRegion": region, "maintenanceWindowStart": hour}}
    cloud = load(apps).apps["cloud"]
    assert (cloud.default_phone_region, cloud.maintenance_window_start) == (region, hour)


def test_several_wordpress_sites_and_a_nextcloud() -> None:
    apps = {
        "blog": {"kind": "wordpress", "hostname": "blog.example.com"},
        "shop": {"kind": "wordpress", "hostname": "shop.example.com", "title": "Shop"},
        "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
    }
    assert sorted(load(apps).apps) == ["blog", "cloud", "shop"]


@pytest.mark.parametrize(
    ("apps", "keys", "expected"),
    [
        (
            {"blog": {"kind": "ghost", "hostname": "blog.localhost"}},
            {},
            f"selfhost:apps.blog.kind: unknown app kind 'ghost'; allowed kinds: {ALL_KINDS}",
        ),
        (
            {"blog": {"hostname": "blog.localhost"}},
            {},
            f"selfhost:apps.blog.kind: is required, one of: {ALL_KINDS}",
        ),
        (
            {"blog": {"kind": "wordpress", "hostname": "Blog_Site"}},
            {},
            "selfhost:apps.blog.hostname: 'Blog_Site' is not a host name",
        ),
        (
            {"blog": {"kind": "wordpress"}},
            {},
            "selfhost:apps.blog.hostname: is required",
        ),
        (
            {"blog": {"kind": "wordpress", "hostname": "blog.localhost", "hostnmae": "x"}},
            {},
            "selfhost:apps.blog.hostnmae: unknown key 'hostnmae'; allowed here: adminEmail, adminUser, hostname, kind,",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "database": "mysql"}},
            {},
            "selfhost:apps.cloud.database: input should be 'postgres' or 'mariadb' (got 'mysql')",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "memory": {"app": "lots"}}},
            {},
            "selfhost:apps.cloud.memory.app: 'lots' is not a memory size; write a whole number with a binary unit",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "memory": {"app": 512}}},
            {},
            "selfhost:apps.cloud.memory.app: 512 is not a memory size",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "memory": {"ram": "1Gi"}}},
            {},
            "selfhost:apps.cloud.memory.ram: unknown key 'ram'; allowed here: app, cache, cron, database",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "memory": {"app": "16Mi"}}},
            {},
            "selfhost:apps.cloud.memory.app: '16Mi' is below the 32Mi minimum",
        ),
        (
            {"Blog": {"kind": "wordpress", "hostname": "blog.localhost"}},
            {},
            "selfhost:apps.Blog: app name 'Blog' is not allowed: use 1-20 lower-case letters and digits",
        ),
        (
            {
                "a": {"kind": "wordpress", "hostname": "same.localhost"},
                "b": {"kind": "nextcloud", "hostname": "same.localhost"},
            },
            {},
            "selfhost:apps.b.hostname: 'same.localhost' is already the host name of app 'a'",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "defaultPhoneRegion": "de"}},
            {},
            "selfhost:apps.cloud.defaultPhoneRegion: 'de' is not an ISO 3166-1 alpha-2 country code "
            "(two capital letters, e.g. DE, FR, US); write it in capitals: 'DE'",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "defaultPhoneRegion": "XX"}},
            {},
            "selfhost:apps.cloud.defaultPhoneRegion: 'XX' is not an ISO 3166-1 alpha-2 country code",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "defaultPhoneRegion": "DEU"}},
            {},
            "selfhost:apps.cloud.defaultPhoneRegion: 'DEU' is not an ISO 3166-1 alpha-2 country code",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "maintenanceWindowStart": 24}},
            {},
            "selfhost:apps.cloud.maintenanceWindowStart: 24 is not an hour of the day: "
            "use a whole number from 0 to 23 (UTC)",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "maintenanceWindowStart": -1}},
            {},
            "selfhost:apps.cloud.maintenanceWindowStart: -1 is not an hour of the day",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "maintenanceWindowStart": "1"}},
            {},
            "selfhost:apps.cloud.maintenanceWindowStart: input should be a valid integer (got '1')",
        ),
        (
            {"cloud": {"kind": "nextcloud", "hostname": "c.localhost", "maintenanceWindowStart": 1.5}},
            {},
            "selfhost:apps.cloud.maintenanceWindowStart: input should be a valid integer (got 1.5)",
        ),
        (
            {"blog": {"kind": "wordpress", "hostname": "b.localhost", "memory": {"cron": "8Mi"}}},
            {},
            "selfhost:apps.blog.memory.cron: '8Mi' is below the 32Mi minimum",
        ),
        ({}, {}, "selfhost:apps: dictionary should have at least 1 item after validation"),
        (None, {"httpPort": "eighty"}, "selfhost:httpPort: input should be a valid integer"),
        (None, {"httpPort": "70000"}, "selfhost:httpPort: input should be less than or equal to 65535 (got '70000')"),
        (
            None,
            {"host": "aws"},
            "selfhost:host: input should be 'local', 'hetzner', 'swarm' or 'local-swarm' (got 'aws')",
        ),
        (None, {"tls": "on"}, "selfhost:tls: input should be 'off', 'letsencrypt' or 'provided' (got 'on')"),
        (None, {"tls": "letsencrypt"}, "selfhost:acmeEmail: tls=letsencrypt needs a contact e-mail address"),
        (None, {"tls": "provided"}, "selfhost:tlsCertificate, tlsKey: tls=provided needs both"),
        (None, {"edgeSubnet": "8.8.8.0/24"}, "selfhost:edgeSubnet: '8.8.8.0/24' must be a private IPv4 network"),
        (None, {"edgeSubnet": "10.0.0.1/24"}, "selfhost:edgeSubnet: '10.0.0.1/24' is not a CIDR network"),
        (None, {"edgeSubnet": "10.0.0.0/8"}, "selfhost:edgeSubnet: '10.0.0.0/8' must have a prefix length from /16"),
        (None, {"httpsPort": "8080"}, "selfhost:httpsPort: 8080 is also httpPort"),
        (None, {"proxyMemory": "1.5Gi"}, "selfhost:proxyMemory: '1.5Gi' is not a memory size"),
        (None, {"appz": "{}"}, "selfhost:appz: unknown key; allowed keys: acmeEmail, acmeStaging, apps,"),
        (None, {"tlsKey": "-----BEGIN PRIVATE KEY-----"}, "selfhost:tlsKey: must be a secret"),
    ],
)
def test_bad_input_names_key_value_and_allowed(apps: Any, keys: dict[str, Any], expected: str) -> None:
    assert expected in error_of(apps, **keys)


def test_apps_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match=r"selfhost:apps: must be an object"):
        settings_from_config({"selfhost:apps": "blog"})


def test_every_error_reported_at_once() -> None:
    message = error_of(
        {"blog": {"kind": "wordpress", "hostname": "x"}, "cloud": {"kind": "nextcloud", "hostname": "y"}},
    )
    assert "apps.blog.hostname" in message and "apps.cloud.hostname" in message


def test_secret_config_accepted_when_secret() -> None:
    tls = tls_material.pair()
    settings = load(tls="provided", secret_tlsCertificate=tls.certificate, secret_tlsKey=tls.key)
    assert settings.tls_key is not None and settings.tls_key.get_secret_value() == tls.key
    assert tls.key not in repr(settings) and tls.key.splitlines()[1] not in repr(settings)


def test_other_namespaces_ignored() -> None:
    config = {"selfhost:apps": json.dumps(DEV_APPS), "docker:host": "unix:///x", "pulumi:tags": "{}"}
    assert settings_from_config(config).apps


@pytest.mark.parametrize(
    ("text", "size"),
    [("512Mi", 512 * 1024**2), ("512m", 512 * 1024**2), ("2g", 2 * 1024**3), ("1Gi", 1024**3), ("64Ki", 65536)],
)
def test_parse_memory(text: str, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["", "12", "1.5Gi", "1Ti", "-5Mi", "Mi"])
def test_parse_memory_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="is not a memory size"):
        parse_memory(text)


def test_memory_formats() -> None:
    assert format_memory(512 * 1024**2) == "512Mi"
    assert php_size(16 * 1024**3) == "16G"
    assert php_size(1536 * 1024**2) == "1536M"


def test_country_list_matches_debian_iso_codes() -> None:
    source = Path("/usr/share/iso-codes/json/iso_3166-1.json")
    if not source.exists():
        pytest.skip("Debian's iso-codes is not installed (package: iso-codes)")
    official = {country["alpha_2"] for country in json.loads(source.read_text())["3166-1"]}
    assert official == ISO_3166_ALPHA2


# --- rules shared by every key that holds the same kind of value ------------------------------

ACCEPTED_EMAILS = [
    "admin@example.com",
    "a.b-c+d_e%f@sub.example.co",
    "x@y.zz",
    "A@EXAMPLE.COM",
    "a" * 88 + "@example.com",
]
REFUSED_EMAILS = [
    "admin@example.com\n",  # re.match with "$" let it through
    "a@my_host.com",  # WordPress's is_email(): sub_invalid_chars
    "a..b@example.com",  # Go's net/mail (Let's Encrypt): not a dot-atom
    ".a@example.com",
    "a.@example.com",
    "a@-x.com",  # is_email(): sub_hyphen_limits
    "a@x..com",  # is_email(): domain_period_sequence
    "ops;x@example.com",  # ends nginx's `contact` directive early
    "o{ps}@example.com",
    "o ps@example.com",
    "--exec@example.com",  # wp-cli would read `wp option update admin_email --exec@...` as an option
    "a@10.0.0.1",
    "a@b",
    "a@b.c",  # is_email(): shorter than 6 characters
    "a" * 89 + "@example.com",  # WordPress's user_email is varchar(100)
]


@pytest.mark.parametrize("address", ACCEPTED_EMAILS)
def test_email_rule_accepts(address: str) -> None:
    assert email_problem(address) is None


@pytest.mark.parametrize("address", REFUSED_EMAILS)
def test_email_rule_refuses(address: str) -> None:
    assert email_problem(address) is not None


def test_one_email_rule_for_the_admin_the_acme_contact_and_the_proxy() -> None:
    bad = "ops;x@example.com"
    assert "selfhost:apps.blog.adminEmail:" in error_of({"blog": {**DEV_APPS["blog"], "adminEmail": bad}})
    assert "selfhost:acmeEmail:" in error_of(tls="letsencrypt", httpPort="80", acmeEmail=bad)
    # The proxy's renderer keeps its own last check, with the same rule.
    from components.edge.nginx import config as nginx_config

    assert vars(nginx_config)["is_email_address"] is is_email_address


def test_default_admin_email_must_be_valid_too() -> None:
    long_host = "a" * 63 + "." + "b" * 30 + ".com"
    message = error_of({"blog": {"kind": "wordpress", "hostname": long_host}})
    assert "selfhost:apps.blog.adminEmail: the default, 'admin@aaa" in message and "set adminEmail" in message
    settings = load({"blog": {"kind": "wordpress", "hostname": long_host, "adminEmail": "me@example.com"}})
    assert settings.apps["blog"].admin_email == "me@example.com"


@pytest.mark.parametrize(
    ("kind", "login", "ok"),
    [
        ("wordpress", "a" * 60, True),
        ("wordpress", "a" * 61, False),
        ("wordpress", "0", False),
        ("nextcloud", "0", True),
        ("nextcloud", "a" * 64, True),
        ("nextcloud", "a" * 65, False),
        ("nextcloud", "audit.log", False),
        ("nextcloud", "appdata_oc123", False),
        ("nextcloud", "files_external", False),
        ("wordpress", "files_external", True),
        ("wordpress", "admin\n", False),
    ],
)
def test_admin_logins_follow_each_apps_rules(kind: str, login: str, ok: bool) -> None:
    apps = {"app": {"kind": kind, "hostname": "app.localhost", "adminUser": login}}
    if ok:
        assert load(apps).apps["app"].admin_user == login
    else:
        assert "selfhost:apps.app.adminUser:" in error_of(apps)


@pytest.mark.parametrize("title", ["--exec=phpinfo();", "-", "- dash", "Line\nbreak", "Tab\there", "\x7f"])
def test_titles_wp_cli_would_misread_are_refused(title: str) -> None:
    assert "selfhost:apps.blog.title:" in error_of({"blog": {**DEV_APPS["blog"], "title": title}})


@pytest.mark.parametrize("title", ["My blog - notes", "Blog — über alles", "100% --verbose"])
def test_ordinary_titles_pass(title: str) -> None:
    assert load({"blog": {**DEV_APPS["blog"], "title": title}}).apps["blog"].title == title


@pytest.mark.parametrize(
    ("kind", "limit", "ok"),
    [
        ("wordpress", "2Gi", True),
        ("wordpress", "2049Mi", False),
        ("nextcloud", "16Gi", True),
        ("nextcloud", "16385Mi", False),
        ("wordpress", "1Mi", True),
        ("wordpress", "1023Ki", False),
    ],
)
def test_upload_limits_have_bounds_per_kind(kind: str, limit: str, ok: bool) -> None:
    apps = {"app": {"kind": kind, "hostname": "app.localhost", "uploadLimit": limit}}
    if ok:
        assert load(apps).apps["app"].upload_limit == parse_memory(limit)
    else:
        assert "selfhost:apps.app.uploadLimit:" in error_of(apps)


def test_letsencrypt_needs_port_80_and_accepts_it() -> None:
    assert "selfhost:httpPort: tls=letsencrypt needs the proxy on port 80" in error_of(
        PUBLIC_APPS, tls="letsencrypt", acmeEmail="ops@example.com"
    )
    assert load(PUBLIC_APPS, tls="letsencrypt", acmeEmail="ops@example.com", httpPort="80").http_port == 80


@pytest.mark.parametrize(
    ("hostname", "suffix"),
    [
        ("blog.localhost", "localhost"),
        ("nas.local", "local"),
        ("a.b.test", "test"),
        ("files.corp.internal", "internal"),
        ("pi.home.arpa", "home.arpa"),
        ("x.example", "example"),
        ("10.0.0.1", "1"),
        ("blog.example.com", None),
        ("localhost.example.com", None),
        ("blog.testing", None),
    ],
)
def test_names_no_public_ca_can_validate(hostname: str, suffix: str | None) -> None:
    assert non_public_suffix(hostname) == suffix


def test_letsencrypt_only_for_public_names_but_other_tls_modes_for_any() -> None:
    assert "selfhost:apps.blog.hostname: 'blog.localhost' is not a public DNS name" in error_of(
        tls="letsencrypt", acmeEmail="ops@example.com", httpPort="80"
    )
    assert load(tls="off").apps["blog"].hostname == "blog.localhost"


@pytest.mark.parametrize("key", ["acmeEmail", "httpPort", "apps", "title"])
def test_a_secret_where_the_program_needs_plain_text_is_refused(key: str) -> None:
    config = {"selfhost:apps": json.dumps(DEV_APPS), "selfhost:acmeEmail": "ops@example.com", "selfhost:httpPort": "80"}
    if key == "title":
        # Not a top-level key: `config set --secret --path apps.blog.title` marks all of `apps` secret.
        key = "apps"
    with pytest.raises(ConfigError) as caught:
        settings_from_config(config, frozenset({f"selfhost:{key}"}))
    assert f"selfhost:{key}: is set as a secret, but the program uses it in plain text" in str(caught.value)


@pytest.mark.parametrize(
    ("namespace", "lookalike"),
    [
        ("selfhots", True),
        ("selfhst", True),
        ("self-host", True),
        ("SelfHost", True),
        ("selfhost-dev", True),
        ("selfhosted", True),
        ("selfhost", False),
        ("hcloud", False),
        ("docker", False),
        ("command", False),
        ("random", False),
        ("pulumi", False),
        ("host", False),
    ],
)
def test_namespace_lookalikes(namespace: str, lookalike: bool) -> None:
    assert is_namespace_lookalike(namespace) is lookalike


def test_a_lookalike_namespace_is_refused_by_its_full_key() -> None:
    config = {"selfhost:apps": json.dumps(DEV_APPS), "selfhots:httpPort": "80", "hcloud:endpoint": "x"}
    with pytest.raises(ConfigError) as caught:
        settings_from_config(config)
    assert "selfhots:httpPort: namespace 'selfhots' is not this project's" in str(caught.value)
    assert "hcloud" not in str(caught.value)


@pytest.mark.parametrize(
    ("project", "stack", "bad"),
    [
        ("selfhost", "dev", []),
        ("selfhost", "prod_2", []),
        ("selfhost", "eu.prod", []),
        ("selfhost", "dev-blog", ["stack"]),
        ("my-site", "dev", ["project"]),
        ("my-site", "dev-blog", ["project", "stack"]),
    ],
)
def test_names_with_a_hyphen_could_collide_across_stacks(project: str, stack: str, bad: list[str]) -> None:
    problems = name_prefix_problems(project, stack)
    assert [problem.split(" ", 1)[0] for problem in problems] == bad
    assert all("'-'" in problem for problem in problems)


def test_the_collision_the_stack_rule_prevents_is_real() -> None:
    """Stack dev-blog's app db and stack dev's app blog would own one volume; without '-' they cannot."""
    from components.apps.app import host_name

    assert host_name("selfhost-dev-blog", "db", "data") == host_name("selfhost-dev", "blog", "db-data")
    assert name_prefix_problems("selfhost", "dev-blog") and not name_prefix_problems("selfhost", "dev")


@pytest.mark.parametrize(
    "value", ["unix:///var/run/docker.sock\n", "tcp://host:2375 ", "ssh://", "unix:///a\tb"], ids=range(4)
)
def test_docker_host_must_be_one_clean_url(value: str) -> None:
    assert "selfhost:dockerHost:" in error_of(dockerHost=value)


@pytest.mark.parametrize("value", ["512Mi\n", " 512Mi", "512 Mi"])
def test_memory_sizes_tolerate_surrounding_space_by_design(value: str) -> None:
    """A size is parsed to a number, so blank space around it reaches no file; it stays accepted."""
    assert parse_memory(value) == 512 * 1024**2


def test_the_hetzner_token_must_be_a_secret() -> None:
    config = {"selfhost:apps": json.dumps(DEV_APPS), "hcloud:token": "plain-token-1f3a"}
    with pytest.raises(ConfigError) as caught:
        settings_from_config(config)
    assert "hcloud:token: is in plain text in the stack file" in str(caught.value)
    assert "plain-token-1f3a" not in str(caught.value)
    assert settings_from_config(config, frozenset({"hcloud:token"})).apps


def _pattern_uses(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr == "match":
            found.append((node.lineno, "`.match(` accepts a trailing newline with `$`: use `.fullmatch(`"))
        is_re = isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
        if is_re and node.args and isinstance(node.args[0], ast.Constant) and "$" in str(node.args[0].value):
            found.append((node.lineno, "`$` also matches before a final newline: use fullmatch or `\\Z`"))
    return found


def test_no_pattern_in_the_program_can_accept_a_trailing_newline() -> None:
    """`re.match` with `$` let "blog.localhost\\n" through; keep every check a full-string match."""
    root = Path(__file__).resolve().parent.parent
    problems = [
        f"{path.relative_to(root)}:{line}: {why}"
        for folder in ("config", "components", "policy")
        for path in sorted((root / folder).rglob("*.py"))
        for line, why in _pattern_uses(ast.parse(path.read_text()))
    ]
    assert not problems, "\n".join(problems)
    assert _pattern_uses(ast.parse('import re\nre.compile(r"^a$").match(x)')), "the scan finds both forms"
