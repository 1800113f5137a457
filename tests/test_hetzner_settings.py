"""Tier 1: the hetzner settings, the server-type table and the capacity check, through the real loader."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.apps.wordpress.settings import WordPressApp
from config.hetzner import (
    LOCATIONS,
    SERVER_TYPES,
    HetznerSettings,
    ServerType,
    capacity_problem,
    required_memory,
    smallest_fitting,
    ssh_key_identity,
)
from config.loading import ConfigError, config_keys, settings_from_config
from config.memory import MemoryBudget
from config.settings import StackSettings
from tests.mockstack import PROJECT_DIR, as_cli_string, stack_file_config

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOaW+RC+QOf2afHJ49m0fCOSutw+QwSy0BSjPujBglUU admin@example.com"
ECDSA = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBP1T3TxW6947ZbygchJoD7RyI8S08+hklXzh"
    "SmCfT8eM6FuW96brIbb0D0i13QucMrAmN10wtDu6x/HyW9WwNjw= ci@example.com"
)
APPS = {"blog": {"kind": "wordpress", "hostname": "blog.example.com"}}
TWO_APPS = {**APPS, "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"}}
MINIMAL = {"sshPublicKeys": [ED25519], "adminCidrs": ["203.0.113.0/24"]}
MiB = 1024**2


def load(hetzner: dict[str, Any] | None, host: str = "hetzner", **extra: str) -> StackSettings:
    """Settings through the real loader; ``extra`` are top-level keys as the CLI passes them (``apps`` as JSON)."""
    config = {
        "selfhost:apps": json.dumps(APPS),
        "selfhost:host": host,
        **{f"selfhost:{k}": v for k, v in extra.items()},
    }
    if hetzner is not None:
        config["selfhost:hetzner"] = json.dumps(hetzner)
    return settings_from_config(config)


def error_of(hetzner: dict[str, Any] | None, host: str = "hetzner", **extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(hetzner, host, **extra)
    return str(caught.value)


def test_minimal_settings_take_the_documented_defaults() -> None:
    settings = load(MINIMAL)
    assert settings.hetzner is not None
    assert settings.hetzner.server_type == "cx33"
    assert settings.hetzner.location == "fsn1"
    assert settings.hetzner.image == "debian-13"
    assert settings.hetzner.backups is False
    assert settings.hetzner.reverse_dns is None
    assert settings.hetzner.volume_size_gb == 50


def test_admin_cidrs_are_normalised() -> None:
    settings = load({**MINIMAL, "adminCidrs": ["198.51.100.7", "2001:DB8::/48"]})
    assert settings.hetzner is not None
    assert settings.hetzner.admin_cidrs == ["198.51.100.7/32", "2001:db8::/48"]


def test_several_key_types_are_accepted() -> None:
    settings = load({**MINIMAL, "sshPublicKeys": [ED25519, ECDSA]})
    assert settings.hetzner is not None
    assert len(settings.hetzner.ssh_public_keys) == 2


@pytest.mark.parametrize(
    ("hetzner", "expected"),
    [
        (
            {**MINIMAL, "adminCidrs": ["203.0.113.0/33"]},
            "selfhost:hetzner.adminCidrs.0: '203.0.113.0/33' is not a CIDR",
        ),
        (
            {**MINIMAL, "adminCidrs": ["203.0.113.1/24"]},
            "selfhost:hetzner.adminCidrs.0: '203.0.113.1/24' is not a CIDR",
        ),
        ({**MINIMAL, "adminCidrs": ["my-laptop"]}, "selfhost:hetzner.adminCidrs.0: 'my-laptop' is not a CIDR network"),
        ({**MINIMAL, "adminCidrs": []}, "selfhost:hetzner.adminCidrs: needs at least one network"),
        ({"sshPublicKeys": [ED25519]}, "selfhost:hetzner.adminCidrs: is required"),
        (
            {**MINIMAL, "serverType": "cx99"},
            "selfhost:hetzner.serverType: unknown server type 'cx99'; known types: cax11",
        ),
        (
            {**MINIMAL, "location": "fra1"},
            "selfhost:hetzner.location: unknown location 'fra1'; Hetzner Cloud locations: fsn1",
        ),
        ({"adminCidrs": ["203.0.113.0/24"]}, "selfhost:hetzner.sshPublicKeys: is required"),
        ({**MINIMAL, "sshPublicKeys": []}, "selfhost:hetzner.sshPublicKeys: needs at least one OpenSSH public key"),
        (
            {**MINIMAL, "sshPublicKeys": ["AAAAC3Nza me@laptop"]},
            "selfhost:hetzner.sshPublicKeys.0: 'AAAAC3Nza me@laptop'",
        ),
        (
            {**MINIMAL, "sshPublicKeys": [ED25519[:60]]},
            "selfhost:hetzner.sshPublicKeys.0: the key data of the ssh-ed25519",
        ),
        (
            {**MINIMAL, "sshPublicKeys": ["ssh-rsa " + ED25519.split()[1]]},
            "selfhost:hetzner.sshPublicKeys.0: the key data of the ssh-rsa key",
        ),
        (
            {**MINIMAL, "sshPublicKeys": ["-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl"]},
            "selfhost:hetzner.sshPublicKeys.0: this is a private key",
        ),
        ({**MINIMAL, "sshPublicKeys": [ED25519, ED25519]}, "selfhost:hetzner.sshPublicKeys: listed twice"),
        ({**MINIMAL, "image": "debian-12"}, "selfhost:hetzner.image: 'debian-12' is not supported"),
        ({**MINIMAL, "image": "ubuntu-24.04"}, "selfhost:hetzner.image: 'ubuntu-24.04' is not supported"),
        ({**MINIMAL, "volumeSizeGb": 5}, "selfhost:hetzner.volumeSizeGb: input should be greater than or equal to 10"),
        ({**MINIMAL, "reverseDns": "Not A Name"}, "selfhost:hetzner.reverseDns: 'Not A Name' is not a host name"),
        ({**MINIMAL, "serverName": "Web_1"}, "selfhost:hetzner.serverName: 'Web_1' is not a server name"),
        ({**MINIMAL, "labels": {"hetzner.cloud/owner": "me"}}, "the hetzner.cloud prefix is reserved"),
        ({**MINIMAL, "labels": {"-team": "web"}}, "label key '-team': the name must be"),
        ({**MINIMAL, "labels": {"team": "web team"}}, "label team='web team': a value must be"),
        ({**MINIMAL, "labels": {"Example.com/team": "web"}}, "the prefix before '/' must be a lower-case DNS name"),
        (
            {**MINIMAL, "backup": True},
            "selfhost:hetzner.backup: unknown key 'backup'; allowed here: adminCidrs, automaticRebootTime, backups",
        ),
        ({**MINIMAL, "memoryReserve": "0.5g"}, "selfhost:hetzner.memoryReserve: '0.5g' is not a memory size"),
        ({**MINIMAL, "automaticRebootTime": "4am"}, "selfhost:hetzner.automaticRebootTime: '4am' is not a time of day"),
    ],
)
def test_bad_input_names_the_key(hetzner: dict[str, Any], expected: str) -> None:
    assert expected in error_of(hetzner)


def test_labels_that_follow_hetzner_rules_pass() -> None:
    labels = {"team": "web", "example.com/cost-center": "a_1.b", "empty": ""}
    settings = load({**MINIMAL, "labels": labels})
    assert settings.hetzner is not None
    assert settings.hetzner.labels == labels


def test_host_hetzner_without_settings_says_what_to_set() -> None:
    message = error_of(None)
    assert "selfhost:hetzner: host=hetzner needs the server's settings" in message
    assert "sshPublicKeys" in message and "adminCidrs" in message


def test_hetzner_settings_with_host_local_are_an_error() -> None:
    message = error_of(MINIMAL, host="local")
    assert "selfhost:hetzner: is only used with host=hetzner" in message
    assert "pulumi config rm hetzner" in message


def test_empty_hetzner_value_means_unset() -> None:
    """Pulumi.yaml's default for the key is "", which the CLI passes to every stack that does not set it."""
    settings = settings_from_config({"selfhost:apps": json.dumps(APPS), "selfhost:hetzner": ""})
    assert settings.hetzner is None


# The server-type table.


def test_table_has_the_documented_families() -> None:
    for family, sizes in {
        "cx": ("22", "23", "32", "33", "42", "43", "52", "53"),
        "cpx": ("11", "12", "21", "22", "31", "32", "41", "42", "51", "52", "62"),
        "cax": ("11", "21", "31", "41"),
        "ccx": ("13", "23", "33", "43", "53", "63"),
    }.items():
        for size in sizes:
            assert f"{family}{size}" in SERVER_TYPES


@pytest.mark.parametrize("server", list(SERVER_TYPES.values()), ids=list(SERVER_TYPES))
def test_table_rows_are_consistent(server: ServerType) -> None:
    assert server.vcpus >= 1 and server.memory_gib >= 2 and server.disk_gb >= 40
    assert (server.architecture == "arm") == server.name.startswith("cax")
    assert (server.cpu == "dedicated") == server.name.startswith("ccx")


def test_a_few_published_figures() -> None:
    def row(name: str) -> tuple[int, int, int, str]:
        server = SERVER_TYPES[name]
        return server.vcpus, server.memory_gib, server.disk_gb, server.architecture

    assert row("cx23") == (2, 4, 40, "x86")
    assert row("cax11") == (2, 4, 40, "arm")
    assert row("cpx22") == (2, 4, 80, "x86")
    assert row("ccx13") == (2, 8, 80, "x86")
    assert row("ccx63") == (48, 192, 960, "x86")


def test_locations_are_hetzners() -> None:
    assert set(LOCATIONS) == {"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}


# The capacity check: a pure function, and through the loader before anything is registered.


def budget(limit_mib: int, reservation_mib: int, service: str = "app", app: str = "a") -> MemoryBudget:
    return MemoryBudget(
        limit_key=f"apps.{app}.memory.{service}",
        reservation_key=f"apps.{app}.memoryReservation.{service}",
        limit=limit_mib * MiB,
        reservation=reservation_mib * MiB,
        group=f"apps.{app}",
    )


def test_capacity_fits_exactly_at_the_boundary_of_the_reservations() -> None:
    cx23 = SERVER_TYPES["cx23"]  # 4096Mi
    # No bursts (limit = reservation): the reservations and the reserve fill the server exactly.
    assert capacity_problem(cx23, 512 * MiB, [budget(2048, 2048), budget(1536, 1536, "database")]) is None
    problem = capacity_problem(cx23, 512 * MiB, [budget(2048, 2048), budget(1537, 1537, "database")])
    assert problem is not None
    assert problem.startswith("hetzner.serverType: cx23 has 4Gi of memory, but the containers' memory reservations")
    assert "add up to 3585Mi (apps.a 3585Mi)" in problem and "4097Mi is needed before any container bursts" in problem
    assert "The smallest server type that fits is cx33" in problem


def test_capacity_fits_exactly_at_the_boundary_of_one_burst() -> None:
    cx23 = SERVER_TYPES["cx23"]
    # 1000Mi reserved for the app, 512Mi for the database: the app may burst to 4096-512-512 = 3072Mi.
    assert capacity_problem(cx23, 512 * MiB, [budget(3072, 1000), budget(512, 512, "database")]) is None
    problem = capacity_problem(cx23, 512 * MiB, [budget(3073, 1000), budget(512, 512, "database")])
    assert problem is not None
    assert problem.startswith("apps.a.memory.app: the limit 3073Mi does not fit cx23 (4Gi)")
    assert "other containers hold their reservations (512Mi)" in problem and "4097Mi is needed" in problem
    assert "cx33" in problem and "or lower apps.a.memory.app to at most 3Gi." in problem


def test_every_limit_must_fit_alone_whatever_the_other_limits() -> None:
    """Limits may add up past the server; each one alone (beside the reservations) may not."""
    cx23 = SERVER_TYPES["cx23"]
    four_bursty = [budget(3000, 64, service) for service in ("app", "database", "cache", "cron")]
    assert sum(b.limit for b in four_bursty) > cx23.memory_bytes
    assert capacity_problem(cx23, 768 * MiB, four_bursty) is None
    too_big = [*four_bursty[:3], budget(4096, 64, "cron")]  # never fits beside the OS reserve
    problem = capacity_problem(cx23, 768 * MiB, too_big)
    assert problem is not None and problem.startswith("apps.a.memory.cron: the limit 4Gi does not fit cx23")


def test_required_memory_is_reservations_reserve_and_the_largest_burst() -> None:
    budgets = [budget(1024, 512), budget(512, 256, "database"), budget(64, 64, "cache")]
    assert required_memory(budgets, 768 * MiB) == (512 + 256 + 64 + 768 + 512) * MiB


def test_the_default_apps_fit_the_smallest_server() -> None:
    """WordPress + Nextcloud with every default on cx23, Hetzner's smallest 4 GiB type."""
    settings = load({**MINIMAL, "serverType": "cx23"}, apps=json.dumps(TWO_APPS))
    assert settings.hetzner is not None and settings.hetzner.server_type == "cx23"
    budgets = settings.memory_budgets()
    # WordPress 640, Nextcloud 1024, the proxy 32 and the blog's microcache 42 (32Mi + 8Mi headroom + 2Mi keys).
    assert sum(b.reservation for b in budgets) == (640 + 1024 + 32 + 42) * MiB
    # + 768Mi for the OS + Nextcloud's app bursting 512Mi above its reservation.
    assert required_memory(budgets, settings.hetzner.memory_reserve) == 3018 * MiB
    assert sum(b.limit for b in budgets) + settings.hetzner.memory_reserve > SERVER_TYPES["cx23"].memory_bytes


def test_a_bigger_set_is_refused_naming_the_smallest_type() -> None:
    apps = {
        **TWO_APPS,
        "files": {"kind": "nextcloud", "hostname": "files.example.com"},
        "docs": {"kind": "nextcloud", "hostname": "docs.example.com"},
    }
    message = error_of({**MINIMAL, "serverType": "cx23"}, apps=json.dumps(apps))
    assert message.startswith("invalid stack configuration:\n  selfhost:hetzner.serverType: cx23 has 4Gi of memory")
    # 640 (blog) + 3 x 1024 (each Nextcloud: 512 + 128 + 256 + 128) + 32 (proxy) + 42 (the blog's microcache)
    # = 3786Mi, + 768Mi reserve
    assert (
        "reservations add up to 3786Mi (apps.blog 640Mi, apps.cloud 1Gi, apps.docs 1Gi, apps.files 1Gi, proxy 74Mi)"
        in message
    )
    assert "4554Mi is needed before any container bursts" in message
    assert "The smallest server type that fits is cx33" in message
    assert "pulumi config set --path hetzner.serverType cx33" in message
    assert load({**MINIMAL, "serverType": "cx33"}, apps=json.dumps(apps)).hetzner is not None


def test_a_limit_too_big_for_the_server_names_its_key_and_the_largest_that_fits() -> None:
    def cloud_app(limit: str) -> str:
        return json.dumps({"cloud": {"kind": "nextcloud", "hostname": "cloud.example.com", "memory": {"app": limit}}})

    # cx23 4096Mi - 768Mi reserve - (1024Mi Nextcloud + 32Mi proxy - 512Mi app) reserved by the others = 2784Mi.
    message = error_of({**MINIMAL, "serverType": "cx23"}, apps=cloud_app("2785Mi"))
    assert "selfhost:apps.cloud.memory.app: the limit 2785Mi does not fit cx23 (4Gi)" in message
    assert "or lower apps.cloud.memory.app to at most 2784Mi" in message
    assert "The smallest server type that fits is cx33" in message
    assert load({**MINIMAL, "serverType": "cx23"}, apps=cloud_app("2784Mi")).hetzner is not None


def test_a_reservation_above_its_limit_is_refused_on_every_host() -> None:
    app = {"kind": "wordpress", "hostname": "blog.example.com", "memory": {"database": "256Mi"}}
    for host, hetzner in (("local", None), ("hetzner", MINIMAL)):
        apps = json.dumps({"blog": {**app, "memoryReservation": {"database": "257Mi"}}})
        message = error_of(hetzner, host=host, apps=apps)
        assert "selfhost:apps.blog.memoryReservation.database: 257Mi is more than the container's limit" in message
        assert "apps.blog.memory.database (256Mi)" in message
        apps = json.dumps({"blog": {**app, "memoryReservation": {"database": "256Mi"}}})
        blog = load(hetzner, host=host, apps=apps).apps["blog"]
        assert isinstance(blog, WordPressApp) and blog.reserved.database == 256 * MiB
    message = error_of(None, host="local", proxyMemory="64Mi", proxyMemoryReservation="65Mi")
    assert "selfhost:proxyMemoryReservation: 65Mi is more than the container's limit proxyMemory (64Mi)" in message


def test_existing_memory_settings_keep_their_meaning() -> None:
    """``memory.*`` are the limits, as before; unset reservations never exceed them; Redis reserves its limit."""
    apps = {
        "blog": {
            "kind": "wordpress",
            "hostname": "blog.example.com",
            "memory": {"app": "1Gi", "database": "128Mi", "cache": "256Mi"},
        }
    }
    settings = load(None, host="local", apps=json.dumps(apps), proxyMemory="32Mi")
    blog = settings.apps["blog"]
    assert isinstance(blog, WordPressApp)
    assert (blog.memory.app, blog.reserved.app) == (1024 * MiB, 256 * MiB)
    assert (blog.memory.database, blog.reserved.database) == (128 * MiB, 128 * MiB)  # default 256Mi, capped
    assert (blog.memory.cache, blog.reserved.cache) == (256 * MiB, 256 * MiB)  # follows the limit
    assert (blog.memory.cron, blog.reserved.cron) == (256 * MiB, 64 * MiB)
    assert settings.proxy_reserved == 32 * MiB


def test_capacity_counts_every_container_and_the_proxy() -> None:
    settings = load(MINIMAL, proxyMemory="256Mi")
    # WordPress: app, database, cache and the wp-cli (cron) container; then the proxy.
    assert [
        (b.limit_key, b.limit // MiB, b.reservation_key, b.reservation // MiB) for b in settings.memory_budgets()
    ] == [
        ("apps.blog.memory.app", 512, "apps.blog.memoryReservation.app", 256),
        ("apps.blog.memory.database", 512, "apps.blog.memoryReservation.database", 256),
        ("apps.blog.memory.cache", 64, "apps.blog.memoryReservation.cache", 64),
        ("apps.blog.memory.cron", 256, "apps.blog.memoryReservation.cron", 64),
        ("proxyMemory", 256, "proxyMemoryReservation", 32),
        # The microcache's tmpfs and keys zone, in the proxy container, reserved whole.
        ("apps.blog.microcache.size", 42, "apps.blog.microcache.size", 42),
    ]


def test_the_prod_example_uses_the_smallest_type_that_fits() -> None:
    values, secret_keys = stack_file_config("prod")
    # The operator's --secret --path values (the backups' S3 keys) come with their keys marked secret.
    settings = settings_from_config(
        {key: as_cli_string(value) for key, value in values.items()}, frozenset(secret_keys)
    )
    assert settings.hetzner is not None
    needed = required_memory(settings.memory_budgets(), settings.hetzner.memory_reserve)
    assert smallest_fitting(needed, settings.hetzner.server) == settings.hetzner.server
    assert settings.hetzner.server_type == "cx23"


def test_smallest_fitting_prefers_current_types_and_the_same_family() -> None:
    assert smallest_fitting(5 * 1024**3, SERVER_TYPES["cx23"]) == SERVER_TYPES["cx33"]
    assert smallest_fitting(5 * 1024**3, SERVER_TYPES["cx22"]) == SERVER_TYPES["cx33"]  # not the legacy cx32
    assert smallest_fitting(5 * 1024**3, SERVER_TYPES["cax11"]) == SERVER_TYPES["cax21"]
    assert smallest_fitting(5 * 1024**3, SERVER_TYPES["cpx22"]) == SERVER_TYPES["cpx32"]
    assert smallest_fitting(20 * 1024**3, SERVER_TYPES["cx23"]) == SERVER_TYPES["cpx52"]  # 24Gi: no cx has it
    assert smallest_fitting(40 * 1024**3, SERVER_TYPES["cx53"]) == SERVER_TYPES["ccx43"]
    assert smallest_fitting(193 * 1024**3, SERVER_TYPES["ccx63"]) is None


def test_every_limit_that_does_not_fit_is_named_and_lowering_them_makes_it_fit() -> None:
    # WordPress on cpx12 (2Gi): 714Mi reserved (with the proxy and its 42Mi microcache) + 1110Mi for the OS leaves
    # 224Mi of burst, but its app and database may each burst 256Mi (512Mi limits, 256Mi reservations): both are
    # named, with their maximum.
    hetzner = {**MINIMAL, "serverType": "cpx12", "memoryReserve": "1110Mi"}
    message = error_of(hetzner)
    assert "selfhost:apps.blog.memory.app: the limit 512Mi does not fit cpx12 (2Gi)" in message
    assert "apps.blog.memory.database: the limit 512Mi does not fit cpx12" in message
    assert "or lower apps.blog.memory.app to at most 480Mi, apps.blog.memory.database to at most 480Mi" in message
    assert "The smallest server type that fits is cpx22" in message
    lowered = {"kind": "wordpress", "hostname": "blog.example.com", "memory": {"app": "480Mi", "database": "480Mi"}}
    settings = load(hetzner, apps=json.dumps({"blog": lowered}))
    assert settings.hetzner is not None and settings.hetzner.server_type == "cpx12"


def test_capacity_is_not_checked_for_the_local_host() -> None:
    apps = {"blog": {"kind": "wordpress", "hostname": "blog.localhost", "memory": {"app": "64Gi"}}}
    settings = settings_from_config({"selfhost:apps": json.dumps(apps)})
    assert settings.hetzner is None


def test_docs_list_every_hetzner_key() -> None:
    docs = (PROJECT_DIR / "docs" / "hetzner.md").read_text()
    for key in config_keys(HetznerSettings):
        assert f"| `{key}` |" in docs, f"docs/hetzner.md has no row for hetzner.{key}"
    assert "pulumi config set --secret hcloud:token" in docs


def test_the_same_key_with_another_comment_is_one_key() -> None:
    relabelled = ED25519.rsplit(" ", 1)[0] + " laptop-2"
    assert ssh_key_identity(relabelled) == ssh_key_identity(ED25519)
    assert ssh_key_identity(ED25519) != ssh_key_identity(ECDSA)
    message = error_of({**MINIMAL, "sshPublicKeys": [ED25519, ECDSA, relabelled]})
    assert "selfhost:hetzner.sshPublicKeys: entries 0 and 2 are the same OpenSSH public key" in message
    assert "with different comments" in message


def test_a_key_without_a_comment_and_with_one_are_the_same_key() -> None:
    bare = " ".join(ED25519.split()[:2])
    assert "entries 0 and 1 are the same" in error_of({**MINIMAL, "sshPublicKeys": [bare, ED25519]})


@pytest.mark.parametrize("port_key", ["httpPort", "httpsPort"])
def test_ssh_port_is_refused_as_a_public_port_on_hetzner_only(port_key: str) -> None:
    assert f"selfhost:{port_key}: 22 is SSH's port on the Hetzner server" in error_of(MINIMAL, **{port_key: "22"})
    assert load(None, host="local", **{port_key: "22"}).host == "local"


@pytest.mark.parametrize(
    "time", ["04:00\n", "\n04:00", "4:00", "04:00 ", "24:00"], ids=["trailing-nl", "leading-nl", "h", "space", "24"]
)
def test_reboot_time_must_be_exactly_hh_mm(time: str) -> None:
    assert "HH:MM in UTC" in error_of({**MINIMAL, "automaticRebootTime": time})


def test_an_amd64_only_kind_is_never_offered_an_arm_server() -> None:
    """Rocket.Chat's image is amd64 only: an arm type is refused, and a capacity message suggests x86 only."""
    arm = SERVER_TYPES["cax41"]
    assert smallest_fitting(arm.memory_bytes, arm) == arm
    x86 = smallest_fitting(arm.memory_bytes, arm, frozenset({"amd64"}))
    assert x86 is not None and x86.architecture == "x86" and x86.memory_bytes >= arm.memory_bytes
    assert smallest_fitting(arm.memory_bytes, arm, frozenset({"riscv64"})) is None
