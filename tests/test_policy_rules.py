"""Tier 1: each policy rule on hand-made resources — one that passes, ones that fail.

Resources carry engine-form URNs (every ancestor type chained), as the policy pack gets them.
"""

from __future__ import annotations

from typing import Any

import pytest

from policy import rules
from policy.rules import Resource

WP = "selfhost:index:WordPress"
DB = f"{WP}$selfhost:index:Database"
CACHE = f"{WP}$selfhost:index:Cache"
PROXY = "selfhost:index:Proxy"


def urn(chain: str, type_: str, name: str, stack: str = "dev") -> str:
    prefix = f"{chain}$" if chain else ""
    return f"urn:pulumi:{stack}::selfhost::{prefix}{type_}::{name}"


def container(name: str, chain: str = WP, stack: str = "dev", **props: Any) -> Resource:
    return Resource(type=rules.CONTAINER, urn=urn(chain, rules.CONTAINER, name, stack), props=props)


def network(name: str, internal: bool) -> Resource:
    return Resource(
        type=rules.NETWORK,
        urn=urn("selfhost:index:Network", rules.NETWORK, name),
        props={"name": name, "internal": internal},
    )


def joined(*names: str) -> list[dict[str, Any]]:
    return [{"name": name, "aliases": []} for name in names]


# --- URNs and roles -------------------------------------------------------------------------


def test_resource_reads_name_stack_and_component_from_engine_and_mock_urns() -> None:
    engine = container("blog-db-container", chain=DB, stack="prod")
    assert (engine.name, engine.stack, engine.parent_type) == ("blog-db-container", "prod", "selfhost:index:Database")
    mock = Resource(rules.CONTAINER, urn("selfhost:index:Database", rules.CONTAINER, "x"), {})
    assert rules.role(mock) == "database"
    top = Resource(rules.CONTAINER, urn("", rules.CONTAINER, "x"), {})
    assert top.parent_type is None and rules.role(top) is None
    mock_top = Resource("selfhost:index:WordPress", urn("pulumi:pulumi:Stack", "selfhost:index:WordPress", "blog"), {})
    assert mock_top.parent_type is None


@pytest.mark.parametrize(
    ("ref", "repository", "tag"),
    [
        ("mariadb:11.8", "mariadb", "11.8"),
        ("docker.io/library/nginx:1.30", "nginx", "1.30"),
        ("registry.local:5000/team/redis", "redis", None),
        ("registry.local:5000/team/redis:8.2", "redis", "8.2"),
        ("postgres@sha256:abc", "postgres", "sha256:abc"),
    ],
)
def test_image_references_parse(ref: str, repository: str, tag: str | None) -> None:
    assert rules.image_repository(ref) == repository
    assert rules.image_tag(ref) == tag


# --- only the proxy publishes ports --------------------------------------------------------

PORTS = [{"internal": 80, "external": 8080}]


def test_proxy_may_publish_ports() -> None:
    assert rules.only_proxy_publishes_ports(container("proxy", chain=PROXY, ports=PORTS)) == []
    assert rules.only_proxy_publishes_ports(container("blog-container", ports=[])) == []


@pytest.mark.parametrize("chain", [WP, DB, CACHE, ""], ids=["app", "database", "cache", "top-level"])
def test_any_other_container_publishing_ports_fails(chain: str) -> None:
    [message] = rules.only_proxy_publishes_ports(container("c", chain=chain, ports=PORTS))
    assert "publishes ports (8080)" in message and "only the proxy" in message


def test_host_network_fails_even_for_the_proxy() -> None:
    [message] = rules.only_proxy_publishes_ports(container("proxy", chain=PROXY, networkMode="host"))
    assert "host's network" in message


def test_port_rule_ignores_other_resource_types() -> None:
    assert (
        rules.only_proxy_publishes_ports(Resource(rules.NETWORK, urn("", rules.NETWORK, "n"), {"ports": PORTS})) == []
    )


# --- databases and caches stay internal -----------------------------------------------------


def isolated(*resources: Resource) -> list[str]:
    return [violation.message for violation in rules.backing_services_isolated(resources)]


def test_database_and_cache_on_internal_backend_pass() -> None:
    assert (
        isolated(
            network("edge", internal=False),
            network("blog-backend", internal=True),
            container("proxy", chain=PROXY, networksAdvanced=joined("edge")),
            container("blog-app", networksAdvanced=joined("edge", "blog-backend")),
            container("blog-db", chain=DB, networksAdvanced=joined("blog-backend")),
            container("blog-redis", chain=CACHE, networksAdvanced=joined("blog-backend")),
        )
        == []
    )


def test_database_sharing_a_network_with_the_proxy_fails() -> None:
    # Even a network marked internal: the proxy must never reach a database.
    messages = isolated(
        network("edge", internal=True),
        container("proxy", chain=PROXY, networksAdvanced=joined("edge")),
        container("blog-db", chain=DB, networksAdvanced=joined("edge")),
    )
    assert messages == [
        "blog-db (a database or cache) shares network edge with the proxy proxy: "
        + ("keep it on its app's internal network only")
    ]


def test_cache_on_a_network_with_internet_access_fails() -> None:
    [message] = isolated(
        network("blog-net", internal=False), container("r", chain=CACHE, networksAdvanced=joined("blog-net"))
    )
    assert "joins network blog-net, which is not internal" in message


def test_database_on_an_undeclared_network_fails() -> None:
    [message] = isolated(container("db", chain=DB, networksAdvanced=joined("bridge-of-another-stack")))
    assert "which this stack does not declare" in message


@pytest.mark.parametrize("props", [{}, {"networkMode": "host", "networksAdvanced": joined("b")}])
def test_database_on_the_default_or_host_network_fails(props: dict[str, Any]) -> None:
    messages = isolated(network("b", internal=True), container("db", chain=DB, **props))
    assert any("default or host network" in message for message in messages)


def test_database_image_outside_the_database_component_is_still_a_database() -> None:
    image = Resource(rules.REMOTE_IMAGE, urn(WP, rules.REMOTE_IMAGE, "img"), {"name": "mariadb:11.8"})
    rogue = Resource(
        rules.CONTAINER,
        urn(WP, rules.CONTAINER, "rogue-db"),
        {"networksAdvanced": joined("edge")},
        property_dependencies={"image": [image.urn]},
    )
    assert rules.role(rogue) is None
    assert rules.role(rogue, {image.urn: "mariadb:11.8"}) == "database"
    assert rules.role(rogue, {image.urn: "docker.io/library/redis:8.2"}) == "cache"
    messages = isolated(network("edge", internal=False), image, rogue)
    assert messages and "rogue-db (a database or cache) joins network edge, which is not internal" in messages[0]
    # The same container running WordPress is an app, free to join the edge network.
    wordpress = Resource(image.type, image.urn, {"name": "wordpress:7.0-php8.4-apache"})
    assert isolated(network("edge", internal=False), wordpress, rogue) == []


# --- images pinned ------------------------------------------------------------------------


def remote_image(ref: str) -> Resource:
    return Resource(rules.REMOTE_IMAGE, urn(WP, rules.REMOTE_IMAGE, "img"), {"name": ref})


@pytest.mark.parametrize(
    "resource",
    [
        container("c", image="sha256:" + "0" * 64),
        remote_image("mariadb:11.8"),
        remote_image("wordpress:7.0-php8.4-apache"),
        remote_image("registry.local:5000/nginx:1.30"),
        remote_image("nginx@sha256:" + "0" * 64),
    ],
    ids=["container-by-id", "tag", "long-tag", "registry-port", "digest"],
)
def test_pinned_images_pass(resource: Resource) -> None:
    assert rules.images_pinned(resource) == []


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (container("c", image="nginx:1.30"), "runs image 'nginx:1.30' by name"),
        (remote_image("mariadb"), "'mariadb' is not pinned"),
        (remote_image("mariadb:latest"), "'mariadb:latest' is not pinned"),
        (remote_image("nginx:stable"), "'nginx:stable' is not pinned"),
        (remote_image("wordpress:apache"), "'wordpress:apache' is not pinned"),
        (remote_image("registry.local:5000/redis"), "'registry.local:5000/redis' is not pinned"),
    ],
    ids=["container-by-name", "no-tag", "latest", "stable", "variant-only", "registry-port-no-tag"],
)
def test_unpinned_images_fail(resource: Resource, expected: str) -> None:
    [message] = rules.images_pinned(resource)
    assert expected in message


# --- no plain-text secrets ------------------------------------------------------------------


def test_secret_files_and_ordinary_variables_pass() -> None:
    envs = [
        "MARIADB_PASSWORD_FILE=/run/secrets/db_password",
        "WORDPRESS_AUTH_KEY_FILE=/run/secrets/auth_key",
        "MARIADB_USER=wordpress",
        "MONKEY_BUSINESS=1",
        "WORDPRESS_CONFIG_EXTRA=define('WP_REDIS_PASSWORD', trim(file_get_contents('/run/secrets/x')));",
    ]
    assert rules.no_plaintext_secrets(container("c", envs=envs, command=["redis-server", "/etc/redis.conf"])) == []


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"envs": ["MARIADB_PASSWORD=hunter2"]}, "sets MARIADB_PASSWORD in its environment"),
        ({"envs": ["WORDPRESS_AUTH_KEY=abc"]}, "sets WORDPRESS_AUTH_KEY in its environment"),
        ({"envs": ["API_TOKEN=abc"]}, "sets API_TOKEN"),
        ({"envs": ["app_secret=abc"]}, "sets app_secret"),
        ({"envs": ["POSTGRES_PASSWORD_FILE=hunter2"]}, "POSTGRES_PASSWORD_FILE must name a file"),
        ({"command": ["redis-server", "--requirepass", "hunter2"]}, "passes --requirepass on its command line"),
        ({"entrypoints": ["app", "--password=hunter2"]}, "passes --password on its command line"),
        # re.match with "$" stopped at the line break and let a multi-line value through.
        ({"entrypoints": ["app", "--password=hunter2\nrest"]}, "passes --password on its command line"),
    ],
    ids=[
        "password",
        "wordpress-key",
        "token",
        "lower-case",
        "file-holding-a-value",
        "requirepass",
        "password-flag",
        "password-flag-multi-line",
    ],
)
def test_plain_text_secrets_fail(props: dict[str, Any], expected: str) -> None:
    [message] = rules.no_plaintext_secrets(container("c", **props))
    assert expected in message
    assert "hunter2" not in message


# --- stateful resources kept ----------------------------------------------------------------

STATE = [{"label": rules.STATE_LABEL, "value": "true"}]


def volume(stack: str = "dev", protect: bool = False, labels: list[dict[str, str]] = STATE) -> Resource:
    return Resource(rules.VOLUME, urn(DB, rules.VOLUME, "blog-db-data", stack), {"labels": labels}, protect=protect)


def test_data_volumes_pass_unprotected_in_dev_and_protected_in_production() -> None:
    assert rules.stateful_resources_kept(volume(), production=False) == []
    assert rules.stateful_resources_kept(volume("prod", protect=True), production=True) == []


def test_volume_not_made_by_data_volume_fails() -> None:
    [message] = rules.stateful_resources_kept(volume(labels=[]), production=False)
    assert "not made by components.core.volumes.data_volume" in message


def test_unprotected_volume_in_production_fails() -> None:
    [message] = rules.stateful_resources_kept(volume("prod"), production=True)
    assert "Volume blog-db-data is not protected in production stack 'prod'" in message


@pytest.mark.parametrize("type_", [rules.HCLOUD_VOLUME, rules.HCLOUD_PRIMARY_IP])
def test_hetzner_state_is_protected_in_production(type_: str) -> None:
    resource = Resource(type_, urn("selfhost:index:HetznerHost", type_, "data", "prod"), {"labels": {}})
    assert len(rules.stateful_resources_kept(resource, production=True)) == 1
    protected = Resource(resource.type, resource.urn, resource.props, protect=True)
    assert rules.stateful_resources_kept(protected, production=True) == []
    assert rules.stateful_resources_kept(resource, production=False) == []


def test_primary_ip_deleted_with_its_server_fails() -> None:
    ip = Resource(rules.HCLOUD_PRIMARY_IP, urn("selfhost:index:HetznerHost", rules.HCLOUD_PRIMARY_IP, "ip"), {})
    assert rules.stateful_resources_kept(ip, production=False) == []
    doomed = Resource(ip.type, ip.urn, {"autoDelete": True})
    [message] = rules.stateful_resources_kept(doomed, production=False)
    assert "has auto_delete" in message


def test_stateless_resources_are_not_checked() -> None:
    assert rules.stateful_resources_kept(container("c"), production=True) == []


@pytest.mark.parametrize(
    ("stack", "listed", "tags", "expected"),
    [
        ("prod", rules.DEFAULT_PRODUCTION_STACKS, {}, True),
        ("dev", rules.DEFAULT_PRODUCTION_STACKS, {}, False),
        ("live", ["live"], {}, True),
        ("staging", rules.DEFAULT_PRODUCTION_STACKS, {"environment": "production"}, True),
        ("staging", rules.DEFAULT_PRODUCTION_STACKS, {"environment": "staging"}, False),
    ],
)
def test_production_is_a_listed_stack_name_or_a_tag(
    stack: str, listed: list[str], tags: dict[str, str], expected: bool
) -> None:
    assert rules.is_production(stack, listed, tags) is expected


# --- Hetzner firewall ---------------------------------------------------------------------


def firewall(*rule_list: dict[str, Any]) -> Resource:
    return Resource(
        rules.HCLOUD_FIREWALL,
        urn("selfhost:index:HetznerHost", rules.HCLOUD_FIREWALL, "fw"),
        {"rules": list(rule_list)},
    )


def inbound(port: str, *sources: str, protocol: str = "tcp", direction: str = "in") -> dict[str, Any]:
    return {"direction": direction, "protocol": protocol, "port": port, "sourceIps": list(sources)}


def test_ssh_from_admin_networks_and_web_from_the_world_pass() -> None:
    resource = firewall(
        inbound("22", "203.0.113.0/24", "2001:db8::/48"),
        inbound("80", "0.0.0.0/0", "::/0"),
        inbound("443", "0.0.0.0/0", "::/0"),
        inbound("22", "0.0.0.0/0", protocol="udp"),
        {"direction": "in", "protocol": "icmp", "sourceIps": ["0.0.0.0/0"]},
        inbound("22", "0.0.0.0/0", direction="out"),
    )
    assert rules.ssh_closed_to_world(resource) == []


@pytest.mark.parametrize(
    ("rule", "world"),
    [
        (inbound("22", "0.0.0.0/0"), "0.0.0.0/0"),
        (inbound("22", "203.0.113.0/24", "::/0"), "::/0"),
        (inbound("any", "0.0.0.0/0"), "0.0.0.0/0"),
        (inbound("20-30", "0.0.0.0/0"), "0.0.0.0/0"),
        (inbound("22", "0.0.0.0/00"), "0.0.0.0/00"),
    ],
    ids=["ipv4", "ipv6", "any-port", "port-range", "odd-spelling"],
)
def test_ssh_open_to_the_world_fails(rule: dict[str, Any], world: str) -> None:
    [message] = rules.ssh_closed_to_world(firewall(inbound("80", "0.0.0.0/0"), rule))
    assert f"opens SSH (port {rule['port']}) to {world}" in message


def server(name: str = "srv", **props: Any) -> Resource:
    return Resource(rules.HCLOUD_SERVER, urn("selfhost:index:HetznerHost", rules.HCLOUD_SERVER, name), props)


def test_server_with_a_firewall_passes() -> None:
    assert rules.servers_behind_firewall([server(firewallIds=[42])]) == []
    bare = server()
    attachment = Resource(
        rules.HCLOUD_FIREWALL_ATTACHMENT,
        urn("selfhost:index:HetznerHost", rules.HCLOUD_FIREWALL_ATTACHMENT, "fw-at"),
        {"firewallId": 42, "serverIds": [7]},
        property_dependencies={"serverIds": [bare.urn]},
    )
    assert rules.servers_behind_firewall([bare, attachment]) == []


@pytest.mark.parametrize("props", [{}, {"firewallIds": []}])
def test_server_without_a_firewall_fails(props: dict[str, Any]) -> None:
    [violation] = rules.servers_behind_firewall([server(**props), firewall()])
    assert violation.urn.endswith("::srv") and "has no firewall" in violation.message
