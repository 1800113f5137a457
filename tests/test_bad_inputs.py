"""Tier 2: the catalogue of bad stack config. Each entry runs the real program under mocks.

Every bad input must stop the program before it registers a single resource, with a
message that names the key (``selfhost:<path>:``) and says what is allowed. A second test
makes the catalogue keep up with the model: every config key must appear in it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

from components.apps.registry import KINDS
from config.hetzner import HetznerSettings
from config.loading import ConfigError, config_keys
from config.swarm import SwarmNodeSettings, SwarmSettings
from tests import backups_bad_inputs, container_bad_inputs, static_bad_inputs, tls_material
from tests.mockstack import RecordingMonitor, run_program

ALL_KINDS = ", ".join(KINDS)
"""The kinds config accepts, in the registry's order, as error messages list them."""

CERT = "pem-certificate-5f2a"
KEY = "pem-private-key-9c1d"
KIND_NAMES = tuple(KINDS)
OMIT = object()
"""Leave the key out of the config entirely."""

DEV_APPS = {
    "blog": {"kind": "wordpress", "hostname": "blog.localhost"},
    "cloud": {"kind": "nextcloud", "hostname": "cloud.localhost"},
}


def wp(**options: Any) -> dict[str, Any]:
    """One WordPress app ``blog`` with ``options`` on top of a valid minimum."""
    return {"blog": {"kind": "wordpress", "hostname": "blog.localhost", **options}}


def nc(**options: Any) -> dict[str, Any]:
    """One Nextcloud app ``cloud`` with ``options`` on top of a valid minimum."""
    return {"cloud": {"kind": "nextcloud", "hostname": "cloud.localhost", **options}}


SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOaW+RC+QOf2afHJ49m0fCOSutw+QwSy0BSjPujBglUU admin@example.com"
SSH_KEY_CUT = "ssh-ed25519 " + base64.b64encode(base64.b64decode(SSH_KEY.split()[1])[:-5]).decode()
"""The same key with its last bytes lost in a copy: the blob's last length prefix overruns it."""
HETZNER = {"sshPublicKeys": [SSH_KEY], "adminCidrs": ["203.0.113.0/24"]}


def hz(**changes: Any) -> dict[str, Any]:
    """host=hetzner with a valid minimal ``hetzner`` block, ``changes`` on top (OMIT drops a key)."""
    block = {key: value for key, value in {**HETZNER, **changes}.items() if value is not OMIT}
    return {"host": "hetzner", "hetzner": block}


SWARM_NODES = {"node1": {"role": "manager"}, "node2": {"role": "worker"}, "node3": {"role": "worker"}}


def sw(**changes: Any) -> dict[str, Any]:
    """host=swarm with a valid three-node ``swarm`` block, ``changes`` on top (OMIT drops a key)."""
    block = {key: value for key, value in {**HETZNER, "nodes": SWARM_NODES, **changes}.items() if value is not OMIT}
    return {"host": "swarm", "swarm": block, "apps": PUBLIC_APPS_SWARM}


def node(name: str = "node2", **changes: Any) -> dict[str, Any]:
    """The three nodes with ``changes`` on node ``name``."""
    return {**SWARM_NODES, name: {**SWARM_NODES.get(name, {"role": "worker"}), **changes}}


PUBLIC_APPS_SWARM = {
    "blog": {"kind": "wordpress", "hostname": "blog.example.com"},
    "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
}


@dataclass(frozen=True)
class Bad:
    id: str
    config: dict[str, Any]
    """``selfhost:`` keys (without the namespace), YAML-typed as in a stack file; apps default to dev's."""
    key: str
    """The key path the message must name, as written after ``selfhost:``."""
    allowed: str
    """A fragment of the message that says what is allowed instead."""
    secret: frozenset[str] = field(default_factory=frozenset)
    """Keys set with ``--secret``."""
    elsewhere: dict[str, Any] = field(default_factory=dict)
    """Full config keys outside the ``selfhost:`` namespace (``selfhots:apps``)."""
    stack: str = "dev"
    named: str = "selfhost:"
    """What precedes ``key`` in the message: the namespace, or nothing for a key named in full."""


EMAIL_RULE = "is not an e-mail address WordPress, nginx and Let's Encrypt all accept: write an address of letters"
PUBLIC_APPS = {
    "blog": {"kind": "wordpress", "hostname": "blog.example.com"},
    "cloud": {"kind": "nextcloud", "hostname": "cloud.example.com"},
}
ACME = {"tls": "letsencrypt", "httpPort": 80, "acmeEmail": "ops@example.com", "apps": PUBLIC_APPS}
TLS = tls_material.pair()
OTHER_TLS = tls_material.pair(("blog.localhost", "cloud.localhost", "other.test"))
CHAINED_TLS = tls_material.pair(with_issuer=True)
BOTH_TLS = frozenset({"tlsCertificate", "tlsKey"})


def provided(certificate: str = TLS.certificate, key: str = TLS.key) -> dict[str, Any]:
    return {"tls": "provided", "tlsCertificate": certificate, "tlsKey": key}


def _split_chain(text: str) -> list[str]:
    end = "-----END CERTIFICATE-----\n"
    return [block + end for block in text.split(end) if block.strip()]


NEWLINE_CASES = [
    # re.match with "$" accepts a trailing "\n": every pattern check must refuse it.
    Bad("app-name-newline", {"apps": {"blog\n": DEV_APPS["blog"]}}, "apps.blog\n", "use 1-20 lower-case letters"),
    Bad("hostname-newline", {"apps": wp(hostname="blog.localhost\n")}, "apps.blog.hostname", "lower-case DNS name"),
    Bad("wp-admin-user-newline", {"apps": wp(adminUser="admin\n")}, "apps.blog.adminUser", "use 1-60 letters"),
    Bad("nc-admin-user-newline", {"apps": nc(adminUser="admin\n")}, "apps.cloud.adminUser", "use 1-64 letters"),
    Bad("admin-email-newline", {"apps": wp(adminEmail="admin@example.com\n")}, "apps.blog.adminEmail", EMAIL_RULE),
    Bad("acme-email-newline", {**ACME, "acmeEmail": "ops@example.com\n"}, "acmeEmail", EMAIL_RULE),
    Bad("title-newline", {"apps": wp(title="Blog\n")}, "apps.blog.title", "holds a control character"),
    Bad("phone-region-newline", {"apps": nc(defaultPhoneRegion="DE\n")}, "apps.cloud.defaultPhoneRegion", "alpha-2"),
    Bad("docker-host-newline", {"dockerHost": "unix:///var/run/docker.sock\n"}, "dockerHost", "without spaces"),
    Bad("edge-subnet-newline", {"edgeSubnet": "172.30.0.0/24\n"}, "edgeSubnet", "is not a CIDR network"),
    Bad("server-type-newline", hz(serverType="cx33\n"), "hetzner.serverType", "known types: cax11,"),
    Bad("location-newline", hz(location="fsn1\n"), "hetzner.location", "Hetzner Cloud locations"),
    Bad("image-newline", hz(image="debian-13\n"), "hetzner.image", "debian-13 or newer"),
    Bad("server-name-newline", hz(serverName="selfhost\n"), "hetzner.serverName", "lower-case letters, digits"),
    Bad("reverse-dns-newline", hz(reverseDns="blog.example.com\n"), "hetzner.reverseDns", "lower-case DNS name"),
    Bad("admin-cidr-newline", hz(adminCidrs=["203.0.113.0/24\n"]), "hetzner.adminCidrs.0", "is not a CIDR network"),
    Bad("label-key-newline", hz(labels={"env\n": "prod"}), "hetzner.labels", "the name must be 1-63 characters"),
    Bad("label-value-newline", hz(labels={"env": "prod\n"}), "hetzner.labels", "a value must be empty or 1-63"),
    Bad("label-prefix-newline", hz(labels={"a.b\n/env": "x"}), "hetzner.labels", "must be a lower-case DNS name"),
    Bad("reboot-time-newline", hz(automaticRebootTime="04:00\n"), "hetzner.automaticRebootTime", "HH:MM in UTC"),
]

ARTEFACT_CASES = [
    # Values the old rules let through, which broke a file or a later step after resources existed.
    Bad("admin-email-underscore-domain", {"apps": wp(adminEmail="a@my_host.com")}, "apps.blog.adminEmail", EMAIL_RULE),
    Bad(
        "admin-email-too-long",
        {"apps": wp(adminEmail="a" * 89 + "@example.com")},
        "apps.blog.adminEmail",
        "at most 100",
    ),
    Bad("admin-email-double-dot", {"apps": wp(adminEmail="a..b@example.com")}, "apps.blog.adminEmail", EMAIL_RULE),
    Bad("admin-email-an-option", {"apps": wp(adminEmail="--exec@example.com")}, "apps.blog.adminEmail", EMAIL_RULE),
    Bad(
        "admin-email-default-too-long",
        {"apps": wp(hostname="a" * 63 + "." + "b" * 30 + ".com")},
        "apps.blog.adminEmail",
        "the default, 'admin@aaaa",
    ),
    Bad("acme-email-semicolon", {**ACME, "acmeEmail": "ops;x@example.com"}, "acmeEmail", EMAIL_RULE),
    Bad("acme-email-brace", {**ACME, "acmeEmail": "o{ps}@example.com"}, "acmeEmail", EMAIL_RULE),
    Bad("acme-email-numeric-tld", {**ACME, "acmeEmail": "ops@10.0.0.1"}, "acmeEmail", EMAIL_RULE),
    Bad("wp-upload-above-max", {"apps": wp(uploadLimit="3Gi")}, "apps.blog.uploadLimit", "above the 2Gi maximum"),
    Bad("nc-upload-above-max", {"apps": nc(uploadLimit="17Gi")}, "apps.cloud.uploadLimit", "above the 16Gi maximum"),
    Bad("nc-upload-absurd", {"apps": nc(uploadLimit="99999999999Gi")}, "apps.cloud.uploadLimit", "16Gi maximum"),
    Bad("upload-below-1mi", {"apps": wp(uploadLimit="512Ki")}, "apps.blog.uploadLimit", "at least 1Mi"),
    Bad("tls-certificate-not-pem", provided(certificate="hello"), "tlsCertificate", "not a PEM certificate", BOTH_TLS),
    Bad(
        "tls-certificate-bad-block",
        provided(certificate="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        "tlsCertificate",
        "does not parse as an X.509 certificate",
        BOTH_TLS,
    ),
    Bad(
        "tls-certificate-with-key",
        provided(certificate=TLS.certificate + TLS.key),
        "tlsCertificate",
        "holds a private key",
        BOTH_TLS,
    ),
    Bad(
        "tls-certificate-only-text",
        provided(certificate="subject=CN = blog.localhost\nissuer=CN = blog.localhost\n"),
        "tlsCertificate",
        "not a PEM certificate",
        BOTH_TLS,
    ),
    Bad("tls-key-not-pem", provided(key="hello"), "tlsKey", "is not a PEM private key", BOTH_TLS),
    Bad(
        "tls-key-encrypted",
        provided(
            key=tls_material.pair(password=b"pass").key, certificate=tls_material.pair(password=b"pass").certificate
        ),
        "tlsKey",
        "the key is encrypted",
        BOTH_TLS,
    ),
    Bad("tls-key-of-another-pair", provided(key=OTHER_TLS.key), "tlsKey", "are not a pair", BOTH_TLS),
    Bad(
        "tls-chain-issuer-first",
        provided(
            certificate="".join(reversed(_split_chain(CHAINED_TLS.certificate))),
            key=CHAINED_TLS.key,
        ),
        "tlsKey",
        "put the server's certificate first",
        BOTH_TLS,
    ),
    Bad(
        "tls-certificate-other-names",
        provided(*(lambda p: (p.certificate, p.key))(tls_material.pair(("www.example.org",)))),
        "tlsCertificate",
        "is not valid for blog.localhost, cloud.localhost (it names www.example.org)",
        BOTH_TLS,
    ),
    Bad(
        "tls-key-rsa-1024",
        provided(*(lambda p: (p.certificate, p.key))(tls_material.pair(rsa_bits=1024))),
        "tlsKey",
        "refuses keys below 2048 bits",
        BOTH_TLS,
    ),
]

APP_RUN_CASES = [
    # Values WordPress, wp-cli or Nextcloud refuse (or misread) when the app runs.
    Bad("wp-admin-user-zero", {"apps": wp(adminUser="0")}, "apps.blog.adminUser", "PHP reads it as empty"),
    Bad("wp-admin-user-61", {"apps": wp(adminUser="a" * 61)}, "apps.blog.adminUser", "refuses logins longer than 60"),
    Bad("nc-admin-user-65", {"apps": nc(adminUser="a" * 65)}, "apps.cloud.adminUser", "use 1-64 letters"),
    Bad("nc-admin-user-reserved", {"apps": nc(adminUser="nextcloud.log")}, "apps.cloud.adminUser", "Nextcloud refuses"),
    Bad("nc-admin-user-appdata", {"apps": nc(adminUser="appdata_x1")}, "apps.cloud.adminUser", "Nextcloud refuses"),
    Bad("title-an-option", {"apps": wp(title="--exec=phpinfo();")}, "apps.blog.title", "may not start with '-'"),
    Bad(
        "title-a-short-option", {"apps": wp(title="-x")}, "apps.blog.title", "wp-cli would read the title as an option"
    ),
    Bad("title-with-tab", {"apps": wp(title="My\tBlog")}, "apps.blog.title", "holds a control character"),
]

SECURITY_CASES = [
    Bad("hetzner-http-port-ssh", {**hz(), "httpPort": 22}, "httpPort", "is SSH's port on the Hetzner server"),
    Bad(
        "hetzner-https-port-ssh",
        {**hz(), "tls": "provided", "httpPort": 80, "httpsPort": 22, **provided()},
        "httpsPort",
        "past hetzner.adminCidrs",
        BOTH_TLS,
    ),
    Bad(
        "letsencrypt-for-localhost",
        {**ACME, "apps": DEV_APPS},
        "apps.blog.hostname",
        "is not a public DNS name (.localhost: RFC 6761)",
    ),
    Bad(
        "letsencrypt-for-internal",
        {**ACME, "apps": {**PUBLIC_APPS, "cloud": {"kind": "nextcloud", "hostname": "files.corp.internal"}}},
        "apps.cloud.hostname",
        "Let's Encrypt issues certificates only for public ones",
    ),
    Bad(
        "letsencrypt-off-port-80", {**ACME, "httpPort": 8080}, "httpPort", "tls=letsencrypt needs the proxy on port 80"
    ),
    Bad(
        "ssh-key-twice-other-comment",
        hz(sshPublicKeys=[SSH_KEY, SSH_KEY.rsplit(" ", 1)[0] + " other@laptop"]),
        "hetzner.sshPublicKeys",
        "with different comments",
    ),
    Bad("acme-email-set-as-secret", ACME, "acmeEmail", "is set as a secret", frozenset({"acmeEmail"})),
    Bad("apps-set-as-secret", {}, "apps", "only tlsCertificate, tlsKey may be secrets", frozenset({"apps"})),
    Bad("hetzner-set-as-secret", hz(), "hetzner", "without --secret --path", frozenset({"hetzner"})),
    Bad(
        "http-port-set-as-secret", {"httpPort": 80}, "httpPort", "so it would not stay secret", frozenset({"httpPort"})
    ),
    Bad(
        "hcloud-token-in-plain-text",
        hz(),
        "hcloud:token",
        "pulumi config set --secret hcloud:token",
        elsewhere={"hcloud:token": "plain-token-1f3a"},
        named="",
    ),
]

NAME_CASES = [
    Bad(
        "namespace-transposed", {}, "selfhots:tls", "is not this project's", elsewhere={"selfhots:tls": "off"}, named=""
    ),
    Bad(
        "namespace-with-stack",
        {},
        "selfhost-dev:httpPort",
        "pulumi config rm",
        elsewhere={"selfhost-dev:httpPort": 80},
        named="",
    ),
    Bad("namespace-capitals", {}, "SelfHost:protect", "selfhost:<key>", elsewhere={"SelfHost:protect": True}, named=""),
    Bad("namespace-hyphen", {}, "self-host:apps", "would be ignored", elsewhere={"self-host:apps": DEV_APPS}, named=""),
    Bad(
        "stack-name-with-hyphen",
        {},
        "stack name 'dev-blog' contains '-'",
        "'selfhost-dev-blog-db-data'",
        stack="dev-blog",
        named="",
    ),
]


def chat(**options: Any) -> dict[str, Any]:
    """One Rocket.Chat app ``chat`` with ``options`` on top of a valid minimum."""
    return {"chat": {"kind": "rocketchat", "hostname": "chat.localhost", **options}}


ROCKETCHAT_CASES = [
    Bad(
        "chat-hostname-underscore", {"apps": chat(hostname="chat_x.localhost")}, "apps.chat.hostname", "lower-case DNS"
    ),
    Bad("chat-admin-space", {"apps": chat(adminUser="ad min")}, "apps.chat.adminUser", "not a Rocket.Chat user name"),
    Bad("chat-admin-bot", {"apps": chat(adminUser="rocket.cat")}, "apps.chat.adminUser", "reserved by Rocket.Chat"),
    Bad(
        "chat-admin-email", {"apps": chat(adminEmail="not-an-email")}, "apps.chat.adminEmail", "e.g. admin@example.com"
    ),
    Bad("chat-upload-2gi", {"apps": chat(uploadLimit="2Gi")}, "apps.chat.uploadLimit", "is above the 1Gi maximum"),
    Bad("chat-memory-app", {"apps": chat(memory={"app": "lots"})}, "apps.chat.memory.app", "Ki, Mi or Gi"),
    Bad("chat-memory-mongo", {"apps": chat(memory={"mongo": "16Mi"})}, "apps.chat.memory.mongo", "32Mi minimum"),
    Bad(
        "chat-reservation-app",
        {"apps": chat(memoryReservation={"app": "4Gi"})},
        "apps.chat.memoryReservation.app",
        "is more than the container's limit apps.chat.memory.app (2Gi)",
    ),
    Bad(
        "chat-reservation-mongo",
        {"apps": chat(memoryReservation={"mongo": "16Mi"})},
        "apps.chat.memoryReservation.mongo",
        "32Mi minimum",
    ),
]
"""Rocket.Chat's own options; its host name and e-mail rules are the shared ones."""
ROCKETCHAT_CASES.append(
    Bad(
        "chat-on-arm",
        {"apps": chat(), **hz(serverType="cax21")},
        "hetzner.serverType",
        "images of apps.chat (amd64 only) are not built for it",
    )
)

SWARM_CASES = [
    Bad("swarm-host-without-block", {"host": "swarm"}, "swarm", "host=swarm needs the swarm's servers"),
    Bad("swarm-block-with-local-host", {"swarm": sw()["swarm"]}, "swarm", "is only used with host=swarm"),
    Bad("swarm-block-with-local-swarm", {**sw(), "host": "local-swarm"}, "swarm", "is only used with host=swarm"),
    Bad("swarm-hetzner-block-with-swarm", {**sw(), "hetzner": HETZNER}, "hetzner", "is only used with host=hetzner"),
    Bad("swarm-key-typo", sw(node={}), "swarm.node", "allowed here: adminCidrs,"),
    Bad("swarm-ssh-keys-missing", sw(sshPublicKeys=OMIT), "swarm.sshPublicKeys", "is required"),
    Bad("swarm-ssh-key-private", sw(sshPublicKeys=["-----BEGIN x"]), "swarm.sshPublicKeys.0", "give the public key"),
    Bad("swarm-admin-cidr-world", sw(adminCidrs=["0.0.0.0/0"]), "swarm.adminCidrs.0", "SSH to the whole internet"),
    Bad("swarm-no-nodes", sw(nodes={}), "swarm.nodes", "at least 1 item"),
    Bad("swarm-node-name-bad", sw(nodes={"Node_1": {"role": "manager"}}), "swarm.nodes.Node_1", "not a node name"),
    Bad("swarm-managers-two", sw(nodes=node("node2", role="manager")), "swarm.nodes", "needs 1 or 3 managers"),
    Bad(
        "swarm-managers-none",
        sw(nodes={"node1": {"role": "worker"}}),
        "swarm.nodes",
        "2 managers stop the swarm when either fails",
    ),
    Bad(
        "swarm-managers-four",
        sw(nodes={f"m{i}": {"role": "manager"} for i in range(4)}),
        "swarm.nodes",
        "Set role: manager on 1 or 3 nodes",
    ),
    Bad("swarm-node-role-bad", sw(nodes=node(role="leader")), "swarm.nodes.node2.role", "'manager' or 'worker'"),
    Bad("swarm-node-role-missing", sw(nodes={**SWARM_NODES, "node4": {}}), "swarm.nodes.node4.role", "is required"),
    Bad("swarm-node-type-unknown", sw(nodes=node(serverType="cx99")), "swarm.nodes.node2.serverType", "known types"),
    Bad(
        "swarm-node-too-small",
        sw(nodes=node(serverType="cpx12"), placement={"blog": "node2", "cloud": "node2"}),
        "swarm.nodes.node2.serverType",
        "The smallest server type that fits",
    ),
    Bad(
        "swarm-node-limit-too-big",
        {
            **sw(placement={"cloud": "node3"}, nodes=node("node3", serverType="cx23")),
            "apps": {**PUBLIC_APPS_SWARM, "cloud": {**PUBLIC_APPS_SWARM["cloud"], "memory": {"app": "4Gi"}}},
        },
        "apps.cloud.memory.app",
        "swarm.nodes.node3.serverType",
    ),
    Bad(
        "swarm-node-wrong-architecture",
        {
            **sw(nodes=node("node2", serverType="cax21"), placement={"chat": "node2"}),
            "apps": {**PUBLIC_APPS_SWARM, "chat": {"kind": "rocketchat", "hostname": "chat.example.com"}},
        },
        "swarm.nodes.node2.serverType",
        "are not built for it",
    ),
    Bad("swarm-node-location-bad", sw(nodes=node(location="mars1")), "swarm.nodes.node2.location", "fsn1"),
    Bad(
        "swarm-node-other-zone",
        sw(nodes=node(location="ash")),
        "swarm.nodes",
        "a Hetzner private network spans one zone",
    ),
    Bad("swarm-node-labels-bad", sw(nodes=node(labels={"env": "a b"})), "swarm.nodes.node2.labels", "a value must"),
    Bad("swarm-node-volume-small", sw(nodes=node(volumeSizeGb=5)), "swarm.nodes.node2.volumeSizeGb", "greater than"),
    Bad("swarm-node-edge-bad", sw(nodes=node(edge="front")), "swarm.nodes.node2.edge", "should be a valid boolean"),
    Bad(
        "swarm-placement-unknown-node",
        sw(placement={"blog": "node9"}),
        "swarm.placement.blog",
        "is not a node of the swarm; nodes: node1, node2, node3",
    ),
    Bad("swarm-placement-unknown-app", sw(placement={"shop": "node2"}), "swarm.placement.shop", "there is no app"),
    Bad("swarm-placement-bad-name", sw(placement={"blog": "Node 2"}), "swarm.placement.blog", "is not a node name"),
    Bad("swarm-location-bad", sw(location="mars1"), "swarm.location", "Hetzner Cloud locations"),
    Bad("swarm-moved-unknown-app", sw(moved=["shop"]), "swarm.moved.0", "there is no app 'shop'"),
    Bad("swarm-moved-a-string", sw(moved="blog"), "swarm.moved", "should be a valid list"),
    Bad("swarm-image-bad", sw(image="ubuntu-24.04"), "swarm.image", "debian-13 or newer"),
    Bad("swarm-private-network-public", sw(privateNetwork="8.8.0.0/16"), "swarm.privateNetwork", "private IPv4"),
    Bad("swarm-private-network-bad", sw(privateNetwork="lan"), "swarm.privateNetwork", "is not a CIDR network"),
    Bad("swarm-labels-bad", sw(labels={"hetzner.cloud/x": "y"}), "swarm.labels", "reserved by Hetzner"),
    Bad("swarm-memory-reserve-bad", sw(memoryReserve="lots"), "swarm.memoryReserve", "Ki, Mi or Gi"),
    Bad("swarm-http-port-ssh", {**sw(), "httpPort": 22}, "httpPort", "is SSH's port"),
    Bad(
        "swarm-letsencrypt-two-edge-nodes",
        {**sw(nodes={**node("node1", edge=True), "node2": {"role": "worker", "edge": True}}), **ACME},
        "swarm.nodes",
        "set edge: true on one node",
    ),
]


CATALOGUE = [
    # --- apps: the map itself -----------------------------------------------------------
    Bad("apps-missing", {"apps": OMIT}, "apps", "is required (the apps: a map of app name to {kind, hostname"),
    Bad("apps-a-string", {"apps": "blog"}, "apps", "must be an object (a YAML map in the stack file); the apps: a map"),
    Bad("apps-a-list", {"apps": ["blog"]}, "apps", "must be an object (a YAML map); the apps: a map of app name"),
    Bad("apps-empty", {"apps": {}}, "apps", "should have at least 1 item"),
    Bad("app-name-upper-case", {"apps": {"Blog": DEV_APPS["blog"]}}, "apps.Blog", "use 1-20 lower-case letters"),
    Bad("app-name-hyphen", {"apps": {"my-blog": DEV_APPS["blog"]}}, "apps.my-blog", "use 1-20 lower-case letters"),
    Bad("app-name-too-long", {"apps": {"a" * 21: DEV_APPS["blog"]}}, "apps." + "a" * 21, "use 1-20 lower-case"),
    Bad("app-not-an-object", {"apps": {"blog": "wordpress"}}, "apps.blog", f"with kind ({ALL_KINDS}), hostname"),
    # --- apps.<name>.kind ---------------------------------------------------------------
    Bad(
        "kind-missing",
        {"apps": {"blog": {"hostname": "b.localhost"}}},
        "apps.blog.kind",
        f"one of: {ALL_KINDS}",
    ),
    Bad("kind-unknown", {"apps": wp(kind="ghost")}, "apps.blog.kind", f"allowed kinds: {ALL_KINDS}"),
    Bad("kind-wrong-case", {"apps": wp(kind="WordPress")}, "apps.blog.kind", f"allowed kinds: {ALL_KINDS}"),
    Bad("kind-a-number", {"apps": wp(kind=7)}, "apps.blog.kind", f"allowed kinds: {ALL_KINDS}"),
    # --- apps.<name>.hostname -----------------------------------------------------------
    Bad(
        "hostname-missing", {"apps": {"blog": {"kind": "wordpress"}}}, "apps.blog.hostname", "is required (public host"
    ),
    Bad("hostname-upper-case", {"apps": wp(hostname="Blog.example.com")}, "apps.blog.hostname", "lower-case DNS name"),
    Bad("hostname-one-label", {"apps": wp(hostname="localhost")}, "apps.blog.hostname", "two or more labels"),
    Bad("hostname-with-scheme", {"apps": wp(hostname="https://b.example.com")}, "apps.blog.hostname", "DNS name"),
    Bad("hostname-with-port", {"apps": wp(hostname="blog.localhost:8080")}, "apps.blog.hostname", "DNS name"),
    Bad("hostname-underscore", {"apps": wp(hostname="my_blog.example.com")}, "apps.blog.hostname", "inner hyphens"),
    Bad("hostname-trailing-dot", {"apps": wp(hostname="blog.example.com.")}, "apps.blog.hostname", "DNS name"),
    Bad("hostname-leading-hyphen", {"apps": wp(hostname="-blog.example.com")}, "apps.blog.hostname", "inner hyphens"),
    Bad("hostname-label-too-long", {"apps": wp(hostname="a" * 64 + ".com")}, "apps.blog.hostname", "DNS name"),
    Bad("hostname-a-number", {"apps": wp(hostname=12)}, "apps.blog.hostname", "should be a valid string"),
    Bad(
        "hostname-shared-by-two-apps",
        {"apps": {**wp(hostname="same.localhost"), **nc(hostname="same.localhost")}},
        "apps.cloud.hostname",
        "every app needs its own host name",
    ),
    Bad(
        "hostname-shared-by-two-sites",
        {"apps": {**wp(hostname="x.localhost"), "shop": {"kind": "wordpress", "hostname": "x.localhost"}}},
        "apps.shop.hostname",
        "is already the host name of app 'blog'",
    ),
    # --- apps.<name>: unknown and misplaced keys ------------------------------------------
    Bad("app-key-typo", {"apps": wp(hostnmae="b.localhost")}, "apps.blog.hostnmae", "allowed here: adminEmail,"),
    Bad("app-key-snake-case", {"apps": wp(admin_user="bob")}, "apps.blog.admin_user", "allowed here: adminEmail,"),
    Bad(
        "wordpress-given-database", {"apps": wp(database="mariadb")}, "apps.blog.database", "allowed here: adminEmail,"
    ),
    Bad("nextcloud-given-title", {"apps": nc(title="Files")}, "apps.cloud.title", "allowed here: adminUser, database,"),
    # --- apps.<name>: options -------------------------------------------------------------
    Bad("title-empty", {"apps": wp(title="")}, "apps.blog.title", "at least 1 character"),
    Bad("title-too-long", {"apps": wp(title="x" * 201)}, "apps.blog.title", "at most 200 characters"),
    Bad("title-a-number", {"apps": wp(title=5)}, "apps.blog.title", "should be a valid string"),
    Bad("admin-user-with-space", {"apps": wp(adminUser="bad user")}, "apps.blog.adminUser", "use 1-60 letters, digits"),
    Bad("admin-user-empty", {"apps": nc(adminUser="")}, "apps.cloud.adminUser", "use 1-64 letters, digits"),
    Bad("admin-email-no-at", {"apps": wp(adminEmail="admin")}, "apps.blog.adminEmail", EMAIL_RULE),
    Bad("admin-email-no-domain", {"apps": wp(adminEmail="a@b")}, "apps.blog.adminEmail", EMAIL_RULE),
    Bad("database-mysql", {"apps": nc(database="mysql")}, "apps.cloud.database", "should be 'postgres' or 'mariadb'"),
    Bad("upload-limit-no-unit", {"apps": wp(uploadLimit="64")}, "apps.blog.uploadLimit", "Ki, Mi or Gi"),
    Bad("upload-limit-a-number", {"apps": nc(uploadLimit=64)}, "apps.cloud.uploadLimit", "Ki, Mi or Gi"),
    Bad("php-memory-fraction", {"apps": nc(phpMemoryLimit="0.5Gi")}, "apps.cloud.phpMemoryLimit", "a whole number"),
    # --- apps.<name>.memory ---------------------------------------------------------------
    Bad("memory-not-an-object", {"apps": wp(memory="1Gi")}, "apps.blog.memory", "with keys app, cache, cron,"),
    Bad("memory-key-typo", {"apps": nc(memory={"ram": "1Gi"})}, "apps.cloud.memory.ram", "app, cache, cron, database"),
    Bad("memory-unknown-unit", {"apps": wp(memory={"app": "1Ti"})}, "apps.blog.memory.app", "Ki, Mi or Gi"),
    Bad("memory-below-minimum", {"apps": wp(memory={"database": "16Mi"})}, "apps.blog.memory.database", "32Mi"),
    Bad(
        "memory-not-whole-mi", {"apps": wp(memory={"cache": "40000Ki"})}, "apps.blog.memory.cache", "whole number of Mi"
    ),
    Bad("memory-a-number", {"apps": nc(memory={"cron": 512})}, "apps.cloud.memory.cron", "Ki, Mi or Gi"),
    Bad("memory-a-word", {"apps": nc(memory={"app": "lots"})}, "apps.cloud.memory.app", "e.g. 512Mi or 2g"),
    Bad("memory-decimal-units", {"apps": nc(memory={"database": "2 GB"})}, "apps.cloud.memory.database", "Ki, Mi"),
    Bad("memory-negative", {"apps": nc(memory={"cache": "-64Mi"})}, "apps.cloud.memory.cache", "Ki, Mi or Gi"),
    Bad("memory-cron-too-small", {"apps": wp(memory={"cron": "8Mi"})}, "apps.blog.memory.cron", "32Mi minimum"),
    # --- apps.<name>.microcache ----------------------------------------------------------------
    Bad(
        "microcache-not-an-object",
        {"apps": wp(microcache=False)},
        "apps.blog.microcache",
        "with keys bypassFeeds, enabled, seconds, size",
    ),
    Bad(
        "microcache-enabled-a-word",
        {"apps": wp(microcache={"enabled": "yes"})},
        "apps.blog.microcache.enabled",
        "valid boolean",
    ),
    Bad(
        "microcache-seconds-zero",
        {"apps": wp(microcache={"seconds": 0})},
        "apps.blog.microcache.seconds",
        "greater than or equal to 1",
    ),
    Bad(
        "microcache-seconds-a-minute-too-long",
        {"apps": wp(microcache={"seconds": 61})},
        "apps.blog.microcache.seconds",
        "less than or equal to 60",
    ),
    Bad(
        "microcache-bypass-feeds-a-number",
        {"apps": wp(microcache={"bypassFeeds": 1})},
        "apps.blog.microcache.bypassFeeds",
        "valid boolean",
    ),
    Bad(
        "microcache-size-too-big",
        {"apps": wp(microcache={"size": "2Gi"})},
        "apps.blog.microcache.size",
        "from 1Mi to 1Gi",
    ),
    Bad(
        "microcache-size-not-whole-mi",
        {"apps": wp(microcache={"size": "1536Ki"})},
        "apps.blog.microcache.size",
        "whole Mi",
    ),
    Bad("microcache-key-typo", {"apps": wp(microcache={"ttl": 5})}, "apps.blog.microcache.ttl", "allowed here:"),
    # --- apps.<name>.memoryReservation ---------------------------------------------------------
    Bad(
        "reservation-not-an-object",
        {"apps": wp(memoryReservation="1Gi")},
        "apps.blog.memoryReservation",
        "with keys app, cache, cron,",
    ),
    Bad(
        "reservation-key-typo",
        {"apps": nc(memoryReservation={"ram": "1Gi"})},
        "apps.cloud.memoryReservation.ram",
        "app, cache, cron, database",
    ),
    Bad(
        "reservation-above-limit",
        {"apps": wp(memory={"app": "256Mi"}, memoryReservation={"app": "512Mi"})},
        "apps.blog.memoryReservation.app",
        "a reservation must be at most its limit: lower apps.blog.memoryReservation.app or raise apps.blog.memory.app",
    ),
    Bad(
        "reservation-above-default-limit",
        {"apps": nc(memoryReservation={"cache": "256Mi"})},
        "apps.cloud.memoryReservation.cache",
        "more than the container's limit apps.cloud.memory.cache (128Mi)",
    ),
    Bad(
        "reservation-below-minimum",
        {"apps": wp(memoryReservation={"database": "16Mi"})},
        "apps.blog.memoryReservation.database",
        "32Mi minimum",
    ),
    Bad(
        "reservation-not-whole-mi",
        {"apps": wp(memoryReservation={"cache": "40000Ki"})},
        "apps.blog.memoryReservation.cache",
        "whole number of Mi",
    ),
    Bad("reservation-a-number", {"apps": wp(memoryReservation={"cron": 64})}, "apps.blog.memoryReservation.cron", "Mi"),
    Bad(
        "reservation-a-word", {"apps": nc(memoryReservation={"app": "lots"})}, "apps.cloud.memoryReservation.app", "2g"
    ),
    Bad(
        "reservation-cron-above-limit",
        {"apps": nc(memoryReservation={"cron": "1Gi"})},
        "apps.cloud.memoryReservation.cron",
        "limit apps.cloud.memory.cron (512Mi)",
    ),
    Bad(
        "reservation-decimal-units",
        {"apps": nc(memoryReservation={"database": "256 MB"})},
        "apps.cloud.memoryReservation.database",
        "Ki, Mi",
    ),
    # --- Nextcloud's own options ---------------------------------------------------------------
    Bad("phone-region-lower-case", {"apps": nc(defaultPhoneRegion="de")}, "apps.cloud.defaultPhoneRegion", "'DE'"),
    Bad("phone-region-unknown", {"apps": nc(defaultPhoneRegion="XX")}, "apps.cloud.defaultPhoneRegion", "alpha-2"),
    Bad("phone-region-a-number", {"apps": nc(defaultPhoneRegion=49)}, "apps.cloud.defaultPhoneRegion", "valid string"),
    Bad("maintenance-hour-24", {"apps": nc(maintenanceWindowStart=24)}, "apps.cloud.maintenanceWindowStart", "0 to 23"),
    Bad(
        "maintenance-hour-a-string",
        {"apps": nc(maintenanceWindowStart="1")},
        "apps.cloud.maintenanceWindowStart",
        "should be a valid integer",
    ),
    # --- top level ------------------------------------------------------------------------
    Bad("top-key-typo", {"appz": {}}, "appz", "allowed keys: acmeEmail, acmeStaging, apps,"),
    Bad("top-key-wrong-case", {"httpport": 80}, "httpport", "allowed keys: acmeEmail, acmeStaging, apps,"),
    Bad("top-key-snake-case", {"http_port": 80}, "http_port", "allowed keys: acmeEmail, acmeStaging, apps,"),
    Bad("host-unknown", {"host": "aws"}, "host", "should be 'local', 'hetzner', 'swarm' or 'local-swarm'"),
    Bad("host-wrong-case", {"host": "Local"}, "host", "should be 'local', 'hetzner', 'swarm' or 'local-swarm'"),
    Bad("docker-host-http", {"dockerHost": "http://127.0.0.1:2375"}, "dockerHost", "unix://, tcp://, ssh://"),
    Bad("docker-host-bare-path", {"dockerHost": "/var/run/docker.sock"}, "dockerHost", "unix:///var/run/docker.sock"),
    Bad("http-port-a-word", {"httpPort": "eighty"}, "httpPort", "should be a valid integer"),
    Bad("http-port-zero", {"httpPort": 0}, "httpPort", "greater than or equal to 1"),
    Bad("http-port-too-high", {"httpPort": 70000}, "httpPort", "less than or equal to 65535"),
    Bad("http-port-fraction", {"httpPort": 80.5}, "httpPort", "should be a valid integer"),
    Bad("https-port-negative", {"httpsPort": -443}, "httpsPort", "greater than or equal to 1"),
    Bad("https-port-equals-http-port", {"httpPort": 8080, "httpsPort": 8080}, "httpsPort", "the two must differ"),
    Bad("edge-subnet-public", {"edgeSubnet": "8.8.8.0/24"}, "edgeSubnet", "private IPv4 network, e.g. 172.30.0.0/24"),
    Bad("edge-subnet-host-bits", {"edgeSubnet": "10.0.0.1/24"}, "edgeSubnet", "is not a CIDR network"),
    Bad("edge-subnet-too-large", {"edgeSubnet": "10.0.0.0/8"}, "edgeSubnet", "prefix length from /16 to /28"),
    Bad("edge-subnet-too-small", {"edgeSubnet": "172.30.0.0/29"}, "edgeSubnet", "prefix length from /16 to /28"),
    Bad("edge-subnet-ipv6", {"edgeSubnet": "fd00::/64"}, "edgeSubnet", "private IPv4 network"),
    Bad("edge-subnet-no-prefix-bits", {"edgeSubnet": "10.0.0.0/33"}, "edgeSubnet", "is not a CIDR network"),
    Bad("edge-subnet-garbage", {"edgeSubnet": "lan"}, "edgeSubnet", "is not a CIDR network"),
    Bad("protect-not-a-boolean", {"protect": "maybe"}, "protect", "should be a valid boolean"),
    Bad("publish-ipv6-not-a-boolean", {"publishIpv6": "v4"}, "publishIpv6", "should be a valid boolean"),
    Bad("tls-on", {"tls": "on"}, "tls", "should be 'off', 'letsencrypt' or 'provided'"),
    Bad("tls-letsencrypt-without-email", {**ACME, "acmeEmail": OMIT}, "acmeEmail", "needs a contact e-mail"),
    Bad("tls-letsencrypt-bad-email", {**ACME, "acmeEmail": "ops"}, "acmeEmail", EMAIL_RULE),
    Bad("acme-staging-not-a-boolean", {"acmeStaging": "maybe"}, "acmeStaging", "should be a valid boolean"),
    Bad("tls-provided-without-pem", {"tls": "provided"}, "tlsCertificate, tlsKey", "tls=provided needs both"),
    Bad(
        "tls-provided-without-key",
        {"tls": "provided", "tlsCertificate": CERT},
        "tlsCertificate, tlsKey",
        "pulumi config set --secret tlsCertificate",
        secret=frozenset({"tlsCertificate"}),
    ),
    Bad(
        "tls-certificate-while-tls-off",
        {"tlsCertificate": CERT, "tlsKey": KEY},
        "tlsCertificate, tlsKey",
        "used only with tls=provided",
        secret=frozenset({"tlsCertificate", "tlsKey"}),
    ),
    Bad("tls-key-in-plain-text", {"tls": "provided", "tlsKey": KEY}, "tlsKey", "pulumi config set --secret tlsKey"),
    Bad("tls-certificate-in-plain-text", {"tlsCertificate": CERT}, "tlsCertificate", "--secret tlsCertificate"),
    Bad("image-refresh-space", {"imageRefresh": "1 december"}, "imageRefresh", "e.g. 2026-12-01"),
    Bad(
        "image-refresh-trailing-newline",
        {"imageRefresh": "2026-12-01\n"},
        "imageRefresh",
        "letters, digits, '.', '_' or '-'",
    ),
    Bad("image-refresh-leading-dash", {"imageRefresh": "-x"}, "imageRefresh", "starting with a letter or digit"),
    Bad("image-refresh-too-long", {"imageRefresh": "r" * 65}, "imageRefresh", "1-64 letters"),
    Bad("proxy-memory-fraction", {"proxyMemory": "1.5Gi"}, "proxyMemory", "a whole number with a binary unit"),
    Bad("proxy-memory-below-minimum", {"proxyMemory": "16Mi"}, "proxyMemory", "32Mi minimum"),
    Bad(
        "proxy-reservation-above-limit",
        {"proxyMemoryReservation": "256Mi"},
        "proxyMemoryReservation",
        "more than the container's limit proxyMemory (128Mi)",
    ),
    # --- hetzner ------------------------------------------------------------------------------
    Bad("hetzner-host-without-block", {"host": "hetzner"}, "hetzner", "host=hetzner needs the server's settings"),
    Bad("hetzner-block-with-local-host", {"hetzner": HETZNER}, "hetzner", "is only used with host=hetzner"),
    Bad("hetzner-not-an-object", {"host": "hetzner", "hetzner": "cx33"}, "hetzner", "with keys adminCidrs,"),
    Bad("hetzner-key-typo", hz(serverTpye="cx33"), "hetzner.serverTpye", "allowed here: adminCidrs,"),
    Bad("ssh-keys-missing", hz(sshPublicKeys=OMIT), "hetzner.sshPublicKeys", "is required (OpenSSH public keys"),
    Bad("ssh-keys-empty", hz(sshPublicKeys=[]), "hetzner.sshPublicKeys", "needs at least one OpenSSH public key"),
    Bad("ssh-keys-a-string", hz(sshPublicKeys=SSH_KEY), "hetzner.sshPublicKeys", "should be a valid list"),
    Bad(
        "ssh-key-private",
        hz(sshPublicKeys=["-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk="]),
        "hetzner.sshPublicKeys.0",
        "give the public key (the .pub file)",
    ),
    Bad("ssh-key-not-base64", hz(sshPublicKeys=["ssh-ed25519 x!y"]), "hetzner.sshPublicKeys.0", "is not base64"),
    Bad(
        "ssh-key-cut-off", hz(sshPublicKeys=[SSH_KEY_CUT]), "hetzner.sshPublicKeys.0", "is cut off or not of that type"
    ),
    Bad(
        "ssh-key-other-type",
        hz(sshPublicKeys=["ecdsa-sha2-nistp256 " + SSH_KEY.split()[1]]),
        "hetzner.sshPublicKeys.0",
        "is cut off or not of that type",
    ),
    Bad("ssh-key-twice", hz(sshPublicKeys=[SSH_KEY, SSH_KEY]), "hetzner.sshPublicKeys", "listed twice"),
    Bad("admin-cidrs-missing", hz(adminCidrs=OMIT), "hetzner.adminCidrs", "is required (networks allowed to reach"),
    Bad("admin-cidr-prefix-33", hz(adminCidrs=["203.0.113.0/33"]), "hetzner.adminCidrs.0", "e.g. 203.0.113.0/24"),
    Bad("admin-cidr-host-bits", hz(adminCidrs=["203.0.113.7/24"]), "hetzner.adminCidrs.0", "has host bits set"),
    Bad("admin-cidr-ipv4-world", hz(adminCidrs=["0.0.0.0/0"]), "hetzner.adminCidrs.0", "SSH to the whole internet"),
    Bad("admin-cidr-ipv6-world", hz(adminCidrs=["::/0"]), "hetzner.adminCidrs.0", "SSH to the whole internet"),
    Bad("server-type-unknown", hz(serverType="cx99"), "hetzner.serverType", "known types: cax11,"),
    Bad("server-type-too-small", hz(serverType="cpx12"), "hetzner.serverType", "The smallest server type that fits"),
    Bad(
        "limit-too-big-for-the-server",
        {**hz(serverType="cx23"), "apps": nc(memory={"app": "4Gi"})},
        "apps.cloud.memory.app",
        "or lower apps.cloud.memory.app to at most",
    ),
    Bad("location-unknown", hz(location="mars1"), "hetzner.location", "Hetzner Cloud locations: fsn1"),
    Bad("image-not-debian", hz(image="ubuntu-24.04"), "hetzner.image", "debian-13 or newer"),
    Bad("server-name-bad", hz(serverName="My_Server"), "hetzner.serverName", "lower-case letters, digits"),
    Bad("volume-too-small", hz(volumeSizeGb=5), "hetzner.volumeSizeGb", "greater than or equal to 10"),
    Bad("volume-size-a-string", hz(volumeSizeGb="50"), "hetzner.volumeSizeGb", "should be a valid integer"),
    Bad("backups-a-string", hz(backups="yes"), "hetzner.backups", "should be a valid boolean"),
    Bad("reverse-dns-bad", hz(reverseDns="not a host"), "hetzner.reverseDns", "lower-case DNS name"),
    Bad("label-prefix-reserved", hz(labels={"hetzner.cloud/x": "y"}), "hetzner.labels", "reserved by Hetzner"),
    Bad("label-value-bad", hz(labels={"env": "pr od"}), "hetzner.labels", "a value must be empty or 1-63"),
    Bad("reboot-time-bad", hz(automaticRebootTime="25:00"), "hetzner.automaticRebootTime", "HH:MM in UTC"),
    Bad("memory-reserve-bad", hz(memoryReserve="lots"), "hetzner.memoryReserve", "Ki, Mi or Gi"),
    *NEWLINE_CASES,
    *SWARM_CASES,
    *ARTEFACT_CASES,
    *APP_RUN_CASES,
    *SECURITY_CASES,
    *NAME_CASES,
    *(Bad(name, {"apps": apps}, key, allowed) for name, apps, key, allowed in static_bad_inputs.CASES),
    *ROCKETCHAT_CASES,
    *(
        Bad(
            f"container-{name}",
            {"apps": {"tool": container_bad_inputs.app(**options)}},
            f"apps.tool.{key}",
            says,
            # A stack with secrets in an app sets them with --secret --path: the object is a secret key.
            secret=frozenset({"apps"}) if "secrets" in options else frozenset(),
        )
        for name, options, key, says in container_bad_inputs.BAD
    ),
    *(
        Bad(name, config, key, says, secret=frozenset({"backups"}) if secret else frozenset())
        for name, config, key, says, secret in backups_bad_inputs.CASES
    ),
    Bad(
        "backups-host-path-on-hetzner",
        {**hz(), "backups": {"target": {"kind": "local", "hostPath": "/srv/restic"}}},
        "backups.target.hostPath",
        "would be on the Hetzner server's own disk",
    ),
    Bad(
        "container-volume-named-backup",
        {"apps": {"tool": container_bad_inputs.app(volumes={"backup": "/data"})}},
        "apps.tool.volumes.backup",
        "is the app's backup volume",
    ),
    Bad(
        "static-reservation-above-limit",
        {"apps": static_bad_inputs.static(memoryReservation={"app": "128Mi"})},
        "apps.www.memoryReservation.app",
        "is more than the container's limit apps.www.memory.app (64Mi)",
    ),
]


def test_every_swarm_key_has_a_bad_input() -> None:
    named = {path.split(".")[1] for case in CATALOGUE for path in case.key.split(", ") if path.startswith("swarm.")}
    missing = sorted(set(config_keys(SwarmSettings)) - named)
    assert not missing, f"add bad inputs for these swarm keys to the catalogue: {missing}"
    in_nodes = {
        path.split(".")[3]
        for case in CATALOGUE
        for path in case.key.split(", ")
        if path.startswith("swarm.nodes.") and path.count(".") >= 3
    }
    missing = sorted(set(config_keys(SwarmNodeSettings)) - in_nodes)
    assert not missing, f"add bad inputs for these swarm node keys to the catalogue: {missing}"


def stack_config(case: Bad) -> dict[str, Any]:
    values = {"apps": DEV_APPS, **case.config}
    return {f"selfhost:{key}": value for key, value in values.items() if value is not OMIT} | case.elsewhere


def test_catalogue_is_large_and_ids_unique() -> None:
    assert len(CATALOGUE) >= 40
    assert len({case.id for case in CATALOGUE}) == len(CATALOGUE)


@pytest.mark.parametrize("case", CATALOGUE, ids=[case.id for case in CATALOGUE])
def test_bad_input_stops_the_program_before_any_resource(case: Bad) -> None:
    seen: list[RecordingMonitor] = []
    with pytest.raises(ConfigError) as caught:
        run_program(
            stack_config(case),
            stack=case.stack,
            secret_keys={f"selfhost:{key}" for key in case.secret},
            monitors=seen,
        )
    assert seen, "the program never ran"
    assert [r.name for r in seen[0].registrations] == [], "resources were registered before the error"
    message = str(caught.value)
    assert f"{case.named}{case.key}:" in message, message
    assert case.allowed in message, message
    # A secret's value never appears in an error message, whether or not it was set as a secret.
    assert CERT not in message and KEY not in message and "plain-token-1f3a" not in message, message
    for key in ("tlsCertificate", "tlsKey"):
        text = case.config.get(key)
        if isinstance(text, str):
            assert not any(len(line) > 16 and line in message for line in text.splitlines()), message


def _app_kinds(case: Bad) -> dict[str, str]:
    """App name -> kind in a case; ``*`` for an app without a valid kind (its kind key counts for every kind)."""
    apps = case.config.get("apps", DEV_APPS)
    if not isinstance(apps, dict):
        return {}
    return {
        name: app["kind"] if app.get("kind") in KIND_NAMES else "*"
        for name, app in apps.items()
        if isinstance(app, dict)
    }


def _covered(kind: str, within: str = "") -> set[str]:
    """The keys of ``kind`` apps (of their ``within`` object, e.g. ``memory``) that a case names."""
    covered: set[str] = set()
    for case in CATALOGUE:
        for name, app_kind in _app_kinds(case).items():
            if app_kind not in (kind, "*"):
                continue
            prefix = f"apps.{name}.{within}." if within else f"apps.{name}."
            covered |= {path[len(prefix) :].split(".")[0] for path in case.key.split(", ") if path.startswith(prefix)}
    return covered


def test_every_top_level_key_has_a_bad_input() -> None:
    named = {path.split(".")[0] for case in CATALOGUE for path in case.key.split(", ")}
    missing = sorted(set(config_keys()) - named)
    assert not missing, f"add bad inputs for these config keys to the catalogue: {missing}"


def _object_fields(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """An app model's nested objects by config key (``memory``, ``memoryReservation``)."""
    return {
        field.alias or name: field.annotation
        for name, field in model.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }


APP_MODELS: list[tuple[str, type[BaseModel], dict[str, type[BaseModel]]]] = [
    (name, kind.settings, _object_fields(kind.settings)) for name, kind in KINDS.items()
]


@pytest.mark.parametrize(("kind", "app_model", "objects"), APP_MODELS, ids=[kind for kind, _, _ in APP_MODELS])
def test_every_app_key_has_a_bad_input(
    kind: str, app_model: type[BaseModel], objects: dict[str, type[BaseModel]]
) -> None:
    missing = sorted(set(config_keys(app_model)) - _covered(kind))
    assert not missing, f"add bad inputs for these {kind} keys to the catalogue: {missing}"
    for key, model in objects.items():
        missing_inside = sorted(set(config_keys(model)) - _covered(kind, within=key))
        assert not missing_inside, f"add bad inputs for these {kind} {key} keys to the catalogue: {missing_inside}"


def test_every_hetzner_key_has_a_bad_input() -> None:
    named = {path.split(".")[1] for case in CATALOGUE for path in case.key.split(", ") if path.startswith("hetzner.")}
    missing = sorted(set(config_keys(HetznerSettings)) - named)
    assert not missing, f"add bad inputs for these hetzner keys to the catalogue: {missing}"
