"""Settings of the Hetzner Cloud host, Hetzner's server types, and the memory capacity check.

The server-type table is the one place these figures live. Source: Hetzner's published
Cloud server plans (hetzner.com/cloud and docs.hetzner.com/cloud/servers/overview), as
listed in November 2026 and cross-checked against third-party listings of the same
plans; memory is what Hetzner sells as "GB" and the VM receives as GiB. Availability
per location changes over time (e.g. CX and CAX are sold in the EU locations only): the
Hetzner API decides that at creation, this table only sizes the server. `hcloud
server-type list` shows the current figures; add a type here when Hetzner adds one.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from components.core.fields import DNS_LABEL, TIME_OF_DAY, ConfigModel, HostName, MemorySize
from components.core.units import format_memory
from components.hosts.hetzner.ssh_agent import ssh_strings
from config.memory import MemoryBudget, total_reservation

GiB = 1024**3


DOCKER_ARCHITECTURES = {"x86": "amd64", "arm": "arm64"}


@dataclass(frozen=True)
class ServerType:
    name: str
    vcpus: int
    memory_gib: int
    disk_gb: int
    architecture: Literal["x86", "arm"]
    cpu: Literal["shared", "dedicated"]
    legacy: bool = False
    """Superseded by a newer generation; still accepted, never suggested first."""

    @property
    def memory_bytes(self) -> int:
        return self.memory_gib * GiB

    @property
    def docker_architecture(self) -> str:
        """The platform's architecture as Docker names it (an image manifest's ``architecture``)."""
        return DOCKER_ARCHITECTURES[self.architecture]


def _types(*rows: ServerType) -> dict[str, ServerType]:
    return {row.name: row for row in rows}


SERVER_TYPES = _types(
    # Cost-optimized, shared Intel/AMD vCPU (since October 2025).
    ServerType("cx23", 2, 4, 40, "x86", "shared"),
    ServerType("cx33", 4, 8, 80, "x86", "shared"),
    ServerType("cx43", 8, 16, 160, "x86", "shared"),
    ServerType("cx53", 16, 32, 320, "x86", "shared"),
    # Their predecessors, same figures.
    ServerType("cx22", 2, 4, 40, "x86", "shared", legacy=True),
    ServerType("cx32", 4, 8, 80, "x86", "shared", legacy=True),
    ServerType("cx42", 8, 16, 160, "x86", "shared", legacy=True),
    ServerType("cx52", 16, 32, 320, "x86", "shared", legacy=True),
    # Regular performance, shared AMD vCPU (since October 2025).
    ServerType("cpx12", 1, 2, 40, "x86", "shared"),
    ServerType("cpx22", 2, 4, 80, "x86", "shared"),
    ServerType("cpx32", 4, 8, 160, "x86", "shared"),
    ServerType("cpx42", 8, 16, 320, "x86", "shared"),
    ServerType("cpx52", 12, 24, 480, "x86", "shared"),
    ServerType("cpx62", 16, 32, 640, "x86", "shared"),
    # Their predecessors.
    ServerType("cpx11", 2, 2, 40, "x86", "shared", legacy=True),
    ServerType("cpx21", 3, 4, 80, "x86", "shared", legacy=True),
    ServerType("cpx31", 4, 8, 160, "x86", "shared", legacy=True),
    ServerType("cpx41", 8, 16, 240, "x86", "shared", legacy=True),
    ServerType("cpx51", 16, 32, 360, "x86", "shared", legacy=True),
    # Shared Ampere Altra (arm64): every image the stack pins is multi-arch but Rocket.Chat's (Kind.architectures).
    ServerType("cax11", 2, 4, 40, "arm", "shared"),
    ServerType("cax21", 4, 8, 80, "arm", "shared"),
    ServerType("cax31", 8, 16, 160, "arm", "shared"),
    ServerType("cax41", 16, 32, 320, "arm", "shared"),
    # General purpose, dedicated AMD vCPU.
    ServerType("ccx13", 2, 8, 80, "x86", "dedicated"),
    ServerType("ccx23", 4, 16, 160, "x86", "dedicated"),
    ServerType("ccx33", 8, 32, 240, "x86", "dedicated"),
    ServerType("ccx43", 16, 64, 360, "x86", "dedicated"),
    ServerType("ccx53", 32, 128, 600, "x86", "dedicated"),
    ServerType("ccx63", 48, 192, 960, "x86", "dedicated"),
)

LOCATIONS = {
    "fsn1": "Falkenstein, DE",
    "nbg1": "Nuremberg, DE",
    "hel1": "Helsinki, FI",
    "ash": "Ashburn, VA, US",
    "hil": "Hillsboro, OR, US",
    "sin": "Singapore, SG",
}

MIN_DEBIAN = 13
"""Debian 13's docker.io is Docker 26.1; the stack's healthchecks use start_interval (Docker 25+).
Debian 12 ships Docker 20.10, which rejects it."""

_SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
# Hetzner label rules: key = optional DNS-subdomain prefix + "/" + name of <= 63 characters;
# names and values start and end alphanumeric, with "-", "_" and "." inside; values may be empty.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_LABEL_PREFIX = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def _check_server_type(value: str) -> str:
    if value not in SERVER_TYPES:
        raise ValueError(f"unknown server type {value!r}; known types: {', '.join(sorted(SERVER_TYPES))}")
    return value


def _check_location(value: str) -> str:
    if value not in LOCATIONS:
        known = ", ".join(f"{code} ({city})" for code, city in LOCATIONS.items())
        raise ValueError(f"unknown location {value!r}; Hetzner Cloud locations: {known}")
    return value


def _check_image(value: str) -> str:
    match = re.fullmatch(r"debian-(\d+)", value)
    if match is None or int(match.group(1)) < MIN_DEBIAN:
        raise ValueError(
            f"{value!r} is not supported: use a Debian image, debian-{MIN_DEBIAN} or newer "
            "(its docker.io package must be Docker 25+ for the stack's healthchecks)"
        )
    return value


def _check_ssh_key(value: str) -> str:
    if value.lstrip().startswith("-----BEGIN"):
        raise ValueError("this is a private key; give the public key (the .pub file), never the private one")
    parts = value.split()
    if len(parts) < 2 or parts[0] not in _SSH_KEY_TYPES:
        raise ValueError(
            f"{value[:40]!r}... is not an OpenSSH public key; paste one line of your .pub file, "
            f"e.g. 'ssh-ed25519 AAAA... you@laptop' (types: {', '.join(_SSH_KEY_TYPES)})"
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the key data of the {parts[0]} key {parts[1][:20]!r}... is not base64") from None
    # The blob names its own type and splits into whole fields: catches truncated or mixed-up keys.
    fields = ssh_strings(blob)
    if not fields or len(fields) < 2 or fields[0] != parts[0].encode():
        raise ValueError(f"the key data of the {parts[0]} key {parts[1][:20]!r}... is cut off or not of that type")
    return " ".join(parts)


def _check_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ValueError(
            f"{value!r} is not a CIDR network ({error}); write e.g. 203.0.113.0/24, 198.51.100.7/32 or 2001:db8::/48"
        ) from None
    return str(network)


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if prefix and (len(prefix) > 253 or not _LABEL_PREFIX.fullmatch(prefix)):
            raise ValueError(f"label key {key!r}: the prefix before '/' must be a lower-case DNS name")
        if prefix == "hetzner.cloud" or prefix.endswith(".hetzner.cloud"):
            raise ValueError(f"label key {key!r}: the hetzner.cloud prefix is reserved by Hetzner")
        if not _LABEL_NAME.fullmatch(name):
            raise ValueError(
                f"label key {key!r}: the name must be 1-63 characters, letters and digits at both ends, "
                "'-', '_' or '.' inside"
            )
        if value and not _LABEL_NAME.fullmatch(value):
            raise ValueError(
                f"label {key}={value!r}: a value must be empty or 1-63 characters, letters and digits at both "
                "ends, '-', '_' or '.' inside"
            )
    return labels


def _check_time(value: str) -> str:
    if not TIME_OF_DAY.fullmatch(value):
        raise ValueError(f"{value!r} is not a time of day; write HH:MM in UTC, e.g. 04:30")
    return value


def _check_server_name(value: str) -> str:
    if not DNS_LABEL.fullmatch(value):
        raise ValueError(f"{value!r} is not a server name: use 1-63 lower-case letters, digits and inner hyphens")
    return value


def ssh_key_identity(key: str) -> str:
    """Type and key data: what makes two lines the same key, whatever their comments say."""
    return " ".join(key.split()[:2])


def _required_list(what: str, example: str, identity: Callable[[str], str] = str) -> AfterValidator:
    def check(values: list[str]) -> list[str]:
        if not values:
            raise ValueError(f"needs at least one {what}, e.g. {example}")
        first_seen: dict[str, int] = {}
        for index, value in enumerate(values):
            first = first_seen.setdefault(identity(value), index)
            if first == index:
                continue
            if values[first] == value:
                raise ValueError(f"listed twice: {value[:40]!r}")
            same = identity(value)
            # Keys of one type share their first characters (the type inside the blob): show the end.
            shown = f"{same[: same.index(' ') + 1]}...{same[-16:]}" if " " in same else same
            raise ValueError(
                f"entries {first} and {index} are the same {what}, {shown!r}, with different comments; "
                "list each key once"
            )
        return values

    return AfterValidator(check)


SshPublicKey = Annotated[str, AfterValidator(_check_ssh_key)]
Cidr = Annotated[str, AfterValidator(_check_cidr)]


def _check_admin_cidr(value: str) -> str:
    # The firewall's SSH rule is built from these: a /0 would open SSH to the whole internet.
    if ipaddress.ip_network(value).prefixlen == 0:
        raise ValueError(
            f"{value!r} would open SSH to the whole internet; list only the networks you administer from, "
            "e.g. 203.0.113.7/32"
        )
    return value


SshCidr = Annotated[Cidr, AfterValidator(_check_admin_cidr)]
"""A network allowed to reach SSH: any CIDR but the whole internet."""


class HetznerSettings(ConfigModel):
    """``selfhost:hetzner``: the VPS, its firewall, its data volume (host=hetzner only)."""

    ssh_public_keys: Annotated[
        list[SshPublicKey],
        _required_list("OpenSSH public key", "['ssh-ed25519 AAAA... you@laptop']", ssh_key_identity),
    ] = Field(
        description="OpenSSH public keys allowed to log in as root (Pulumi connects with the one in your ssh-agent)"
    )
    admin_cidrs: Annotated[list[SshCidr], _required_list("network allowed to reach SSH", "['203.0.113.7/32']")] = Field(
        description="networks allowed to reach SSH (port 22); everything else but HTTP(S) and ICMP is closed"
    )
    server_type: Annotated[str, AfterValidator(_check_server_type)] = Field(
        default="cx33", description="Hetzner server type, e.g. cx33 (see config/hetzner.py for the table)"
    )
    location: Annotated[str, AfterValidator(_check_location)] = Field(
        default="fsn1", description="Hetzner location of the server, its IP and its volume"
    )
    image: Annotated[str, AfterValidator(_check_image)] = Field(
        default=f"debian-{MIN_DEBIAN}", description="Debian image the server boots"
    )
    server_name: Annotated[str, AfterValidator(_check_server_name)] = Field(
        default="selfhost", description="name of the server; its IP, volume, firewall and keys are named after it"
    )
    volume_size_gb: int = Field(
        default=50, ge=10, le=10240, description="size of the data volume in GB (it can grow later, never shrink)"
    )
    backups: bool = Field(default=False, description="Hetzner's daily server backups (+20% of the server price)")
    reverse_dns: HostName | None = Field(
        default=None, description="host name for the reverse DNS (PTR) of the server's IPv4 address"
    )
    labels: Annotated[dict[str, str], AfterValidator(_check_labels)] = Field(
        default={}, description="Hetzner labels put on every Hetzner resource"
    )
    automatic_reboot_time: Annotated[str, AfterValidator(_check_time)] | None = Field(
        default=None,
        description="HH:MM (UTC) at which the server may reboot when a security update needs it; unset: never",
    )
    memory_reserve: MemorySize = Field(
        default=768 * 1024**2,
        description="memory kept for the OS, dockerd and its per-container shims in the capacity check",
    )

    @property
    def server(self) -> ServerType:
        return SERVER_TYPES[self.server_type]


def smallest_fitting(
    required_bytes: int, current: ServerType, architectures: frozenset[str] | None = None
) -> ServerType | None:
    """The smallest type with enough memory (of ``architectures``, Docker's names, when the apps need
    some); on a tie, a current type before a legacy one, then the same family."""
    family = current.name.rstrip("0123456789")
    fitting = [
        t
        for t in SERVER_TYPES.values()
        if t.memory_bytes >= required_bytes and (architectures is None or t.docker_architecture in architectures)
    ]
    if not fitting:
        return None
    return min(
        fitting,
        key=lambda t: (t.memory_bytes, t.legacy, t.name.rstrip("0123456789") != family, t.vcpus, t.name),
    )


def required_memory(budgets: Sequence[MemoryBudget], reserve_bytes: int) -> int:
    """Memory a server needs: every reservation, the OS reserve, and room for the largest single burst."""
    return total_reservation(budgets) + reserve_bytes + max((b.burst for b in budgets), default=0)


SERVER_TYPE_KEY = "hetzner.serverType"
MEMORY_RESERVE_KEY = "hetzner.memoryReserve"


def _fix(
    server: ServerType,
    needed: int,
    lower: str,
    architectures: frozenset[str] | None = None,
    key: str = SERVER_TYPE_KEY,
) -> str:
    fits = smallest_fitting(needed, server, architectures)
    if fits is None:
        return f"No Hetzner server type is that large; {lower}."
    return (
        f"The smallest server type that fits is {fits.name} ({fits.memory_gib}Gi, {fits.vcpus} vCPU, "
        f"{fits.architecture}): `pulumi config set --path {key} {fits.name}`, {lower}."
    )


def capacity_problem(
    server: ServerType,
    reserve_bytes: int,
    budgets: Sequence[MemoryBudget],
    architectures: frozenset[str] | None = None,
    key: str = SERVER_TYPE_KEY,
    reserve_key: str = MEMORY_RESERVE_KEY,
) -> str | None:
    """Why the containers' memory does not fit ``server``, or None when it does.

    ``key`` and ``reserve_key`` name the config keys of the server type and the OS reserve (a swarm
    node's are ``swarm.nodes.<name>.serverType`` and ``swarm.memoryReserve``, config/swarm.py).

    Two rules (config/memory.py says what a reservation and a limit are):

    - the reservations of all containers plus the OS reserve fit the server: every service
      gets what it needs to run at the same time;
    - each container's limit fits while every other container holds its reservation: any
      one of them can burst to its limit without pushing another below what it needs. (This
      implies that every limit fits on its own in the server's memory minus the reserve.)

    Limits together may exceed the server: bursts share the headroom, as memory on one host does.
    """
    needed = required_memory(budgets, reserve_bytes)
    if needed <= server.memory_bytes:
        return None
    reserved = total_reservation(budgets)
    if reserved + reserve_bytes > server.memory_bytes:
        groups: dict[str, int] = {}
        for budget in budgets:
            groups[budget.group] = groups.get(budget.group, 0) + budget.reservation
        parts = ", ".join(f"{group} {format_memory(size)}" for group, size in sorted(groups.items()))
        return (
            f"{key}: {server.name} has {server.memory_gib}Gi of memory, but the containers' memory "
            f"reservations add up to {format_memory(reserved)} ({parts}) and {reserve_key} keeps "
            f"{format_memory(reserve_bytes)} for the OS: {format_memory(reserved + reserve_bytes)} is needed "
            "before any container bursts. "
            + _fix(
                server, needed, "or lower the apps' memoryReservation values (see docs/hetzner.md)", architectures, key
            )
        )
    too_big = sorted(
        (b for b in budgets if reserved - b.reservation + b.limit + reserve_bytes > server.memory_bytes),
        key=lambda b: (-b.burst, b.limit_key),
    )
    reasons = [
        f"{b.limit_key}: the limit {format_memory(b.limit)} does not fit {server.name} ({server.memory_gib}Gi) "
        f"while the other containers hold their reservations ({format_memory(reserved - b.reservation)}) and "
        f"{reserve_key} keeps {format_memory(reserve_bytes)} for the OS: "
        f"{format_memory(reserved - b.reservation + b.limit + reserve_bytes)} is needed"
        for b in too_big
    ]
    lower = ", ".join(
        f"{b.limit_key} to at most {format_memory(server.memory_bytes - reserve_bytes - (reserved - b.reservation))}"
        for b in too_big
    )
    return "; ".join(reasons) + ". " + _fix(server, needed, f"or lower {lower}", architectures, key)


def allowed_architectures(needs: Mapping[str, frozenset[str]]) -> frozenset[str] | None:
    """The architectures every app's images are built for; None when no app restricts them."""
    return frozenset.intersection(*needs.values()) if needs else None


def architecture_problem(
    server: ServerType, needs: Mapping[str, frozenset[str]], needed_bytes: int, key: str = SERVER_TYPE_KEY
) -> str | None:
    """Why the apps' images cannot run on ``server``'s CPU, or None. ``needs``: app name -> the
    architectures its kind's images are built for (only kinds that are not multi-arch)."""
    wrong = sorted(name for name, archs in needs.items() if server.docker_architecture not in archs)
    if not wrong:
        return None
    fits = smallest_fitting(needed_bytes, server, allowed_architectures(needs))
    suggestion = (
        f"`pulumi config set --path {key} {fits.name}` ({fits.architecture}, {fits.memory_gib}Gi)"
        if fits
        else "no Hetzner server type runs all of them"
    )
    apps = ", ".join(f"apps.{name} ({'/'.join(sorted(needs[name]))} only)" for name in wrong)
    return (
        f"{key}: {server.name} is an {server.architecture} ({server.docker_architecture}) server, but the "
        f"images of {apps} are not built for it: Docker would fail to pull them after the server exists; "
        f"{suggestion}"
    )
