"""The stack's invariants as plain functions over plain resources: testable without the engine.

``policy/pack.py`` wires them into pulumi-policy; the tests call them directly, on
hand-made resources and on every resource the real program registers under mocks.

Roles come from the component a resource sits in, read from its URN: the engine builds a
URN's type from every ancestor's type (``selfhost:index:WordPress$selfhost:index:Database$
docker:index/container:Container``), so a container of ``selfhost:index:Database`` is a
database wherever it is built. A stack policy also knows a database by the image it runs.

Props are read through ``Mapping``/``Sequence`` only: pulumi-policy hands them over as
read-only proxies that raise when a value is unknown during a preview.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from components.core.secret_names import SECRET_FLAG, is_secret_name

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
HCLOUD_FIREWALL = "hcloud:index/firewall:Firewall"
HCLOUD_VOLUME = "hcloud:index/volume:Volume"
HCLOUD_PRIMARY_IP = "hcloud:index/primaryIp:PrimaryIp"
HCLOUD_SERVER = "hcloud:index/server:Server"
HCLOUD_FIREWALL_ATTACHMENT = "hcloud:index/firewallAttachment:FirewallAttachment"

STATEFUL_TYPES = frozenset({VOLUME, HCLOUD_VOLUME, HCLOUD_PRIMARY_IP})
"""Resources whose replacement or deletion loses data or an address users depend on."""
RETAINED_TYPES = frozenset({VOLUME, HCLOUD_VOLUME})
"""Stateful resources that must also be retained on delete: a destroy leaves the data in place."""

ROLE_OF_COMPONENT = {
    "selfhost:index:Proxy": "proxy",
    "selfhost:index:Database": "database",
    "selfhost:index:MongoDB": "database",
    "selfhost:index:Cache": "cache",
}
BACKING_IMAGES = {
    **dict.fromkeys(("mariadb", "mysql", "postgres", "mongo"), "database"),
    **dict.fromkeys(("redis", "valkey", "memcached"), "cache"),
}
"""Image repositories that make a container a database or cache, wherever it is built."""
BACKING_ROLES = frozenset(BACKING_IMAGES.values())

STATE_LABEL = "io.selfhost.state"
"""Set by ``components.core.volumes.data_volume``, the one helper that also sets ``retain_on_delete``."""

DEFAULT_PRODUCTION_STACKS = ("prod", "production")
PRODUCTION_TAG = ("environment", "production")
"""A stack tag that marks any stack as production (``pulumi stack tag set environment production``)."""

_WORLD = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
SSH_PORT = 22


@dataclass(frozen=True)
class Resource:
    """What a policy sees of one resource: the same for the engine, the mocks and hand-made tests."""

    type: str
    urn: str
    props: Mapping[str, Any]
    """Inputs (resource policies) or outputs (stack policies)."""
    protect: bool = False
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Property name -> URNs of the resources its value came from (stack policies only)."""

    @property
    def name(self) -> str:
        return self.urn.split("::", 3)[-1]

    @property
    def stack(self) -> str:
        return self.urn.split("::", 1)[0].removeprefix("urn:pulumi:")

    @property
    def parent_type(self) -> str | None:
        """The type of the component this resource sits in (None at the top of the stack)."""
        chain = self.urn.split("::", 3)[2].split("$")
        return chain[-2] if len(chain) > 1 and chain[-2] != "pulumi:pulumi:Stack" else None


class Violation(NamedTuple):
    urn: str
    message: str


def _items(value: Any) -> list[Any]:
    """A list or its proxy as a list; anything else (None, a string) as empty."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return []


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def container_networks(container: Resource) -> list[str]:
    return [str(_get(item, "name")) for item in _items(container.props.get("networksAdvanced"))]


def image_repository(ref: str) -> str:
    """``docker.io/library/mariadb:11.8`` -> ``mariadb``."""
    path = ref.split("@", 1)[0]
    last = path.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def image_tag(ref: str) -> str | None:
    """The tag or digest of an image reference, None when it has neither (Docker then pulls latest)."""
    if "@" in ref:
        return ref.split("@", 1)[1]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def role(resource: Resource, images: Mapping[str, str] | None = None) -> str | None:
    """proxy, database, cache or None; by component, else (given ``images``: URN -> ref) by image."""
    by_component = ROLE_OF_COMPONENT.get(resource.parent_type or "")
    if by_component is not None or images is None:
        return by_component
    for urn in resource.property_dependencies.get("image", ()):
        by_image = BACKING_IMAGES.get(image_repository(images.get(urn, "")))
        if by_image is not None:
            return by_image
    return None


def _is_backing(resource: Resource, images: Mapping[str, str]) -> bool:
    return role(resource, images) in BACKING_ROLES


# --- resource policies ------------------------------------------------------------------


def only_proxy_publishes_ports(resource: Resource) -> list[str]:
    """Only a container of ``selfhost:index:Proxy`` publishes ports; no container uses the host's network."""
    if resource.type != CONTAINER:
        return []
    problems = []
    ports = _items(resource.props.get("ports"))
    if ports and role(resource) != "proxy":
        published = ", ".join(str(_get(port, "external") or _get(port, "internal")) for port in ports)
        problems.append(
            f"container {resource.name} publishes ports ({published}); only the proxy "
            "(selfhost:index:Proxy) may: route to the app through the proxy on the edge network instead"
        )
    if resource.props.get("networkMode") == "host":
        problems.append(
            f"container {resource.name} uses the host's network, which exposes every port it listens on; "
            "attach it to the stack's networks instead"
        )
    return problems


def images_pinned(resource: Resource) -> list[str]:
    """Containers run an image id; pulled images name a version tag (or a digest), never latest."""
    if resource.type == CONTAINER:
        image = str(resource.props.get("image", ""))
        if not image.startswith("sha256:"):
            return [
                f"container {resource.name} runs image {image!r} by name: give it a RemoteImage's image_id "
                "(sha256:...), which pins what runs and does not replace the container on every run"
            ]
    if resource.type == REMOTE_IMAGE:
        ref = str(resource.props.get("name", ""))
        tag = image_tag(ref)
        if tag is None or not (tag.startswith("sha256:") or any(c.isdigit() for c in tag)):
            return [
                f"image {ref!r} is not pinned: name a version tag such as mariadb:11.8 "
                "(latest, stable, lts and other moving tags change under a running stack)"
            ]
    return []


def no_plaintext_secrets(resource: Resource) -> list[str]:
    """A password-like variable is ``*_FILE`` naming a file; no secret flag on the command line."""
    if resource.type != CONTAINER:
        return []
    problems = []
    for entry in _items(resource.props.get("envs")):
        variable, _, value = str(entry).partition("=")
        if not is_secret_name(variable):
            continue
        if not variable.endswith("_FILE"):
            problems.append(
                f"container {resource.name} sets {variable} in its environment, where `docker inspect` shows it: "
                f"upload the value as a 0400 file under /run/secrets and set {variable}_FILE to its path"
            )
        elif not value.startswith("/"):
            problems.append(
                f"container {resource.name}: {variable} must name a file (an absolute path under /run/secrets), "
                f"not hold a value"
            )
    for key in ("command", "entrypoints"):
        for argument in _items(resource.props.get(key)):
            if SECRET_FLAG.fullmatch(str(argument)):
                flag = str(argument).split("=", 1)[0]
                problems.append(
                    f"container {resource.name} passes {flag} on its command line, where `ps` and `docker inspect` "
                    "show it: put the secret in an uploaded config file instead"
                )
    return problems


def _labels(resource: Resource) -> dict[str, str]:
    labels = resource.props.get("labels")
    if isinstance(labels, Mapping):  # hcloud: a map
        return {str(k): str(v) for k, v in labels.items()}
    return {str(_get(item, "label")): str(_get(item, "value")) for item in _items(labels)}  # docker: a list


def stateful_resources_kept(resource: Resource, production: bool) -> list[str]:
    """Docker volumes come from ``data_volume`` (retained); primary IPs outlive the server;
    in production every stateful resource is protected.

    ``retain_on_delete`` never reaches a policy (the analyzer protocol carries protect, not
    retainOnDelete), so this checks the label that only ``data_volume`` sets, and the tests
    check that ``data_volume`` retains. ``protect`` is visible and checked directly.
    """
    if resource.type not in STATEFUL_TYPES:
        return []
    problems = []
    if resource.type == VOLUME and _labels(resource).get(STATE_LABEL) != "true":
        problems.append(
            f"volume {resource.name} was not made by components.core.volumes.data_volume "
            f"(no {STATE_LABEL}=true label): "
            "make it with data_volume, which sets retain_on_delete so `pulumi destroy` keeps the data"
        )
    if resource.type == HCLOUD_PRIMARY_IP and resource.props.get("autoDelete") is True:
        problems.append(
            f"primary IP {resource.name} has auto_delete: replacing or deleting the server would release the "
            "address users and DNS point at; set auto_delete=False"
        )
    if production and not resource.protect:
        problems.append(
            f"{resource.type.rsplit(':', 1)[-1]} {resource.name} is not protected in production stack "
            f"{resource.stack!r}: set `pulumi config set protect true` so no update or destroy can delete it"
        )
    return problems


def _covers(port: Any, wanted: int) -> bool:
    text = str(port or "").strip()
    if text == "any":
        return True
    low, _, high = text.partition("-")
    try:
        return int(low) <= wanted <= int(high or low)
    except ValueError:
        return False


def _is_world(cidr: Any) -> bool:
    try:
        return ipaddress.ip_network(str(cidr), strict=False) in _WORLD
    except ValueError:
        return False


def ssh_closed_to_world(resource: Resource) -> list[str]:
    """No inbound firewall rule lets 0.0.0.0/0 or ::/0 reach TCP port 22."""
    if resource.type != HCLOUD_FIREWALL:
        return []
    problems = []
    for rule in _items(resource.props.get("rules")):
        if str(_get(rule, "direction")) != "in" or str(_get(rule, "protocol")) != "tcp":
            continue
        if not _covers(_get(rule, "port"), SSH_PORT):
            continue
        world = [str(cidr) for cidr in _items(_get(rule, "sourceIps")) if _is_world(cidr)]
        if world:
            problems.append(
                f"firewall {resource.name} opens SSH (port {_get(rule, 'port')}) to {', '.join(world)}: "
                "allow only your admin networks (hetzner.adminCidrs)"
            )
    return problems


# --- stack policies ---------------------------------------------------------------------


def backing_services_isolated(resources: Iterable[Resource]) -> list[Violation]:
    """Databases and caches join only internal networks of this stack, none of them shared with the proxy.

    Networks are matched by name: a container names the networks it joins, a network
    resource carries its name and whether it is internal.
    """
    resources = list(resources)
    images = {r.urn: str(r.props.get("name", "")) for r in resources if r.type == REMOTE_IMAGE}
    networks = {str(r.props.get("name")): r for r in resources if r.type == NETWORK}
    containers = [r for r in resources if r.type == CONTAINER]
    proxy_networks: dict[str, str] = {}
    for container in containers:
        if role(container) == "proxy":
            proxy_networks.update({name: container.name for name in container_networks(container)})

    violations = []
    for container in containers:
        if not _is_backing(container, images):
            continue
        joined = container_networks(container)
        mode = container.props.get("networkMode")
        if not joined or mode in ("host", "bridge", "default"):
            violations.append(
                Violation(
                    container.urn,
                    f"{container.name} is on Docker's default or host network, which reaches the internet and "
                    "other containers: attach it only to its app's internal network",
                )
            )
        for name in joined:
            if name in proxy_networks:
                violations.append(
                    Violation(
                        container.urn,
                        f"{container.name} (a database or cache) shares network {name} with the proxy "
                        f"{proxy_networks[name]}: keep it on its app's internal network only",
                    )
                )
            network = networks.get(name)
            if network is None:
                violations.append(
                    Violation(
                        container.urn,
                        f"{container.name} joins network {name}, which this stack does not declare: "
                        "attach it only to its app's internal network",
                    )
                )
            elif network.props.get("internal") is not True:
                violations.append(
                    Violation(
                        container.urn,
                        f"{container.name} (a database or cache) joins network {name}, which is not internal "
                        "and so routes to the internet: attach it only to its app's internal network",
                    )
                )
    return violations


def servers_behind_firewall(resources: Iterable[Resource]) -> list[Violation]:
    """Every Hetzner server has a firewall from its creation (firewall_ids), or one attached to it."""
    resources = list(resources)
    attached = {
        urn
        for r in resources
        if r.type == HCLOUD_FIREWALL_ATTACHMENT
        for urn in r.property_dependencies.get("serverIds", ())
    }
    return [
        Violation(
            server.urn,
            f"server {server.name} has no firewall: every port it listens on, SSH included, is open to the "
            "internet; give it firewall_ids=[...] at creation",
        )
        for server in resources
        if server.type == HCLOUD_SERVER and not _items(server.props.get("firewallIds")) and server.urn not in attached
    ]


def is_production(stack: str, production_stacks: Iterable[str], stack_tags: Mapping[str, str]) -> bool:
    """A stack is production when its name is listed, or when it carries the tag environment=production."""
    tag, value = PRODUCTION_TAG
    return stack in set(production_stacks) or stack_tags.get(tag) == value
