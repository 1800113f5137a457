"""The edge proxy: nginx with a rendered config, the only container that publishes ports.

The config, certificate and key are uploaded into the container before it starts; a
change to any of them replaces the container (a restart of a few seconds). With
tls=letsencrypt the ACME module's account key and certificates live on a retained volume,
so a replaced container does not ask Let's Encrypt again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.core import images
from components.core.container import Attachment, FileUpload, Healthcheck, Mount, ServiceSpec
from components.core.runtime import ENGINE, ServiceRuntime, created_name
from components.core.volumes import StatePolicy, data_volume
from components.edge.nginx.config import (
    HEALTH_PATH,
    PRODUCTION,
    PublicPorts,
    TlsMode,
    TlsSettings,
    microcache_memory_bytes,
    microcache_tmpfs,
    render_nginx_config,
)
from components.edge.routes import ProxyRoute

CONFIG_PATH = "/etc/nginx/nginx.conf"
HEALTHCHECK = Healthcheck(
    test=["CMD", "curl", "-fsS", "-o", "/dev/null", f"http://127.0.0.1{HEALTH_PATH}"],
    start_period="10s",
)


@dataclass(frozen=True)
class ProxyArgs:
    """Everything the proxy needs; the stack fills it from StackSettings and the app routes."""

    routes: Sequence[ProxyRoute]
    """One per app (``components.apps.registry.proxy_routes(settings.apps)``)."""
    edge_network: pulumi.Input[str]
    """Name of the network the apps' containers join under their aliases."""
    container_name: str
    memory_bytes: int
    """``proxyMemory``: nginx itself; every route's microcache is added on top (``proxy_memory_bytes``)."""
    memory_reservation_bytes: int | None = None
    """``proxyMemoryReservation`` (capped at ``proxyMemory`` when unset)."""
    http_port: int = 8080
    """``httpPort``: host port mapped to the container's 80."""
    https_port: int = 8443
    """``httpsPort``: host port mapped to the container's 443 (tls not off)."""
    publish_ipv6: bool = True
    """``publishIpv6``: each port on ``::`` too. Off where the engine cannot bind it: with
    ``userland-proxy: false`` Docker 28 silently drops the ``::`` binding (moby v28.5.2
    port_mapping_linux.go maps IPv6 to an IPv4-only network only through the userland proxy),
    so ``ports``, a ForceNew list, would read back shorter and replace the proxy on every run."""
    tls: TlsMode = "off"
    acme_email: str = ""
    """``acmeEmail`` (tls=letsencrypt)."""
    acme_staging: bool = False
    certificate: pulumi.Input[str] | None = None
    """``tlsCertificate``, PEM chain (tls=provided); uploaded as a secret."""
    private_key: pulumi.Input[str] | None = None
    """``tlsKey``, PEM (tls=provided); uploaded as a secret."""
    state: StatePolicy = field(default_factory=StatePolicy)
    acme_volume_name: str | None = None
    """Docker volume for the ACME state (tls=letsencrypt), e.g. ``selfhost-prod-proxy-acme``."""
    runtime: ServiceRuntime = ENGINE
    """What runs the proxy: one Docker engine, or a swarm (components/core/runtime.py)."""

    @property
    def tls_settings(self) -> TlsSettings:
        return TlsSettings(mode=self.tls, acme_email=self.acme_email, acme_staging=self.acme_staging)


def check_proxy_args(args: ProxyArgs) -> None:
    if args.tls == "provided" and (args.certificate is None or args.private_key is None):
        raise pulumi.RunError("selfhost:tlsCertificate, selfhost:tlsKey: tls=provided needs both")
    if args.tls == "letsencrypt" and not args.acme_volume_name:
        raise pulumi.RunError("selfhost:tls: tls=letsencrypt needs a volume for the ACME state (acme_volume_name)")
    if args.tls != "off" and args.http_port == args.https_port:
        raise pulumi.RunError(f"selfhost:httpsPort: {args.https_port} is also httpPort; the two must differ")


BIND_ADDRESSES = ("0.0.0.0", "::")
"""Every IPv4 and every IPv6 address of the host, in the order Docker reports them.

The provider's ``ports.ip`` defaults to ``0.0.0.0`` (resource_docker_container.go, v4.6.0),
which Docker binds on IPv4 only; the Hetzner firewall opens IPv6 and the docs promise AAAA
records, so each port is published twice. The order matters: ``ports`` is a ForceNew list
and the provider reads it back from ``NetworkSettings.Ports`` (flattenContainerPorts: ports
by number, then each port's bindings in the engine's order). Docker 27+ sorts a port's
bindings IPv4 before IPv6 (libnetwork/drivers/bridge port_mapping_linux.go cmpPortBinding);
Docker 25/26 keep the order they were given (allocatePortsInternal), so IPv4 first reads
back equal on both. The IPv6 binding reaches the IPv4-only edge network through Docker's
userland proxy (on by default; with ``userland-proxy: false`` Docker 25/26 drop it). That proxy
ends the connection: nginx sees IPv6 clients as the edge gateway's address (measured on Docker
28). Keeping their addresses needs an IPv6 edge network and ``ip6tables`` on the daemon."""


def published_ports(args: ProxyArgs) -> list[docker.ContainerPortArgs]:
    """Container port 80 (and 443 with TLS) on ``httpPort``/``httpsPort`` of every host address
    (IPv4 only with ``publish_ipv6`` off)."""
    addresses = BIND_ADDRESSES if args.publish_ipv6 else BIND_ADDRESSES[:1]
    mapping = [(80, args.http_port)]
    if args.tls != "off":
        mapping.append((443, args.https_port))
    return [
        docker.ContainerPortArgs(internal=internal, external=external, ip=address, protocol="tcp")
        for internal, external in sorted(mapping)
        for address in addresses
    ]


def proxy_files(args: ProxyArgs, config: str) -> list[FileUpload]:
    files = [FileUpload(CONFIG_PATH, config, mode="0444")]
    if args.tls == "provided" and args.certificate is not None and args.private_key is not None:
        # nginx's master process (root) reads both before it starts the workers.
        files += [
            FileUpload(PRODUCTION.certificate_path, args.certificate, mode="0400", secret=True),
            FileUpload(PRODUCTION.key_path, args.private_key, mode="0400", secret=True),
        ]
    return files


def proxy_memory_bytes(args: ProxyArgs) -> int:
    """``proxyMemory`` plus every microcache (tmpfs full plus keys zone): tmpfs pages are charged to
    the container's cgroup and, without swap, cannot be reclaimed, so they would otherwise eat
    the memory nginx's buffers need and end in an OOM kill."""
    return args.memory_bytes + microcache_memory_bytes(args.routes)


def proxy_memory_reservation_bytes(args: ProxyArgs) -> int | None:
    """``proxyMemoryReservation`` plus the microcaches, like the limit."""
    if args.memory_reservation_bytes is None:
        return None
    return args.memory_reservation_bytes + microcache_memory_bytes(args.routes)


class Proxy(pulumi.ComponentResource):
    """nginx in front of every app, on the edge network."""

    config: pulumi.Output[str]
    """The rendered nginx.conf (no secrets in it)."""
    config_sha256: pulumi.Output[str]
    http_port: pulumi.Output[int]
    https_port: pulumi.Output[int | None]
    container_name: pulumi.Output[str]

    def __init__(self, name: str, args: ProxyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:Proxy", name, None, opts)
        check_proxy_args(args)
        text = render_nginx_config(args.routes, args.tls_settings, PublicPorts(args.http_port, args.https_port))

        mounts: list[Mount] = []
        if args.tls == "letsencrypt" and args.acme_volume_name:
            volume = data_volume(f"{name}-acme-state", args.acme_volume_name, args.state, parent=self)
            mounts.append(Mount(volume.name, PRODUCTION.acme_state_dir))

        container = args.runtime.run(
            f"{name}-container",
            ServiceSpec(
                container_name=args.container_name,
                image=images.pull(name, images.NGINX, parent=self),
                memory_bytes=proxy_memory_bytes(args),
                memory_reservation_bytes=proxy_memory_reservation_bytes(args),
                tmpfs=microcache_tmpfs(args.routes) or None,
                healthcheck=HEALTHCHECK,
                networks=[Attachment(args.edge_network)],
                files=proxy_files(args, text),
                mounts=mounts,
                ports=published_ports(args),
                wait_timeout_seconds=60,
                stop_grace_seconds=15,
                # It publishes the host's ports, which two containers cannot bind at once (Docker refuses the
                # second: "port is already allocated"), so a new proxy can only start once the old one has
                # stopped; the old one drains on the image's STOPSIGNAL SIGQUIT (nginx's graceful shutdown).
                # docs/operations.md, "Replacing containers", has what that costs and what changes it.
                replacement="stop-first",
            ),
            parent=self,
        )

        self.config = pulumi.Output.from_input(text)
        self.config_sha256 = pulumi.Output.from_input(hashlib.sha256(text.encode()).hexdigest())
        self.http_port = pulumi.Output.from_input(args.http_port)
        self.https_port = pulumi.Output.from_input(args.https_port if args.tls != "off" else None)
        self.container_name = created_name(container)
        self.register_outputs(
            {
                "config": self.config,
                "config_sha256": self.config_sha256,
                "http_port": self.http_port,
                "https_port": self.https_port,
                "container_name": self.container_name,
            }
        )
