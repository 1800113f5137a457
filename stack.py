"""The whole stack from validated settings: host, edge network, apps, proxy; and its outputs."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from pydantic import SecretStr

from components.apps.app import App, AppArgs, spec_volume_names
from components.apps.registry import KINDS, proxy_routes
from components.apps.spec import AppSpec, Site
from components.core import images
from components.core.network import Network, NetworkArgs
from components.core.records import own_stack_name
from components.core.volumes import StatePolicy
from components.edge.proxy import Proxy, ProxyArgs
from components.hosts.hetzner.host import HetznerHost, HetznerHostArgs
from components.hosts.local import DockerHost, LocalDockerHost, LocalDockerHostArgs
from config.memory import total_reservation
from config.settings import AppSettings, StackSettings


def hetzner_host_args(settings: StackSettings) -> HetznerHostArgs:
    hetzner = settings.hetzner
    if hetzner is None:
        raise ValueError("host=hetzner needs selfhost:hetzner (validated settings always have it)")
    public_ports = [settings.http_port] if settings.tls == "off" else [settings.http_port, settings.https_port]
    return HetznerHostArgs(
        server_name=hetzner.server_name,
        server_type=hetzner.server_type,
        location=hetzner.location,
        image=hetzner.image,
        ssh_public_keys=list(hetzner.ssh_public_keys),
        admin_cidrs=list(hetzner.admin_cidrs),
        public_ports=public_ports,
        volume_size_gb=hetzner.volume_size_gb,
        backups=hetzner.backups,
        reverse_dns=hetzner.reverse_dns,
        labels=dict(hetzner.labels),
        automatic_reboot_time=hetzner.automatic_reboot_time,
        protect=settings.protect,
        reserved_memory_bytes=total_reservation(settings.memory_budgets()),
    )


def build_host(settings: StackSettings, name_prefix: str) -> DockerHost:
    if settings.host == "hetzner":
        return HetznerHost("host", hetzner_host_args(settings))
    return LocalDockerHost("host", LocalDockerHostArgs(docker_host=settings.docker_host))


def _secret(value: SecretStr | None) -> pulumi.Output[str] | None:
    return None if value is None else pulumi.Output.secret(value.get_secret_value())


def site(settings: StackSettings, app_name: str, app: AppSettings) -> Site:
    """What every kind needs of the stack's address settings, derived once per app."""
    return Site(
        app=app_name,
        hostname=app.hostname,
        public_url=settings.public_url(app.hostname),
        scheme=settings.scheme,
        public_host=settings.public_host(app.hostname),
        trusted_proxies=settings.edge_subnet,
    )


def app_specs(settings: StackSettings) -> dict[str, AppSpec]:
    """Every app as plain data, from its kind's pure ``spec()``: what the apps and the proxy are built from."""
    return {
        name: KINDS[app.kind].spec(name, app, site(settings, name, app)) for name, app in sorted(settings.apps.items())
    }


def acme_volume_name(settings: StackSettings, name_prefix: str) -> str | None:
    return f"{name_prefix}-proxy-acme" if settings.tls == "letsencrypt" else None


def volume_names(settings: StackSettings, name_prefix: str, specs: Mapping[str, AppSpec]) -> list[str]:
    """Every Docker volume the stack makes (the apps' and the proxy's), for the host to prepare first."""
    names = [volume for name, spec in specs.items() for volume in spec_volume_names(name_prefix, name, spec)]
    acme = acme_volume_name(settings, name_prefix)
    return sorted(names + ([acme] if acme else []))


def proxy_args(
    settings: StackSettings,
    name_prefix: str,
    edge_network: pulumi.Input[str],
    state: StatePolicy,
    specs: Mapping[str, AppSpec],
) -> ProxyArgs:
    """The proxy's args, derived from the same specs as the apps: they cannot drift apart."""
    return ProxyArgs(
        routes=proxy_routes(specs),
        edge_network=edge_network,
        container_name=f"{name_prefix}-proxy",
        memory_bytes=settings.proxy_memory,
        memory_reservation_bytes=settings.proxy_reserved,
        http_port=settings.http_port,
        https_port=settings.https_port,
        publish_ipv6=settings.publish_ipv6,
        tls=settings.tls,
        acme_email=settings.acme_email,
        acme_staging=settings.acme_staging,
        certificate=_secret(settings.tls_certificate),
        private_key=_secret(settings.tls_key),
        state=state,
        acme_volume_name=acme_volume_name(settings, name_prefix),
    )


def image_digests(settings: StackSettings, provider: pulumi.ProviderResource) -> images.DigestPins:
    """The digests this deploy runs: the last deploy's record, unless ``imageRefresh`` changed since."""
    reference = pulumi.StackReference("image-digests", stack_name=own_stack_name())
    return images.DigestPins(
        refresh=settings.image_refresh,
        # Secret only if the engine says this output is (see components/apps/nextcloud/upgrades.py).
        recorded=reference.get_output(images.DIGESTS_OUTPUT),
        provider=provider,
    )


def build_stack(settings: StackSettings, name_prefix: str) -> dict[str, pulumi.Input[object]]:
    """Register every resource; return the stack outputs."""
    host = build_host(settings, name_prefix)
    digests = image_digests(settings, host.provider)
    # Every RemoteImage on the host runs its tag at the stack's recorded digest (components/core/images.py).
    on_host = pulumi.ResourceOptions(providers=[host.provider], transformations=[digests.transformation])
    specs = app_specs(settings)
    # Explicit: the host prepares exactly the volumes the stack makes (a directory each on Hetzner).
    placement = host.prepare_volumes(volume_names(settings, name_prefix, specs))
    state = StatePolicy(placement=placement, protect=settings.protect)
    edge = Network(
        "edge", NetworkArgs(network_name=f"{name_prefix}-edge", internal=False, subnet=settings.edge_subnet), on_host
    )

    apps = {
        name: App(
            name,
            AppArgs(
                app_name=name,
                spec=spec,
                type_token=KINDS[spec.kind].component,
                name_prefix=name_prefix,
                edge_network=edge.name,
                state=state,
            ),
            on_host,
        )
        for name, spec in specs.items()
    }

    Proxy("proxy", proxy_args(settings, name_prefix, edge.name, state, specs), on_host)
    # Read back by the next deploy: each app's upgrade record (components/apps/nextcloud/upgrades.py:
    # one Nextcloud major at a time).
    records: dict[str, dict[str, pulumi.Output[object]]] = {
        output: {} for kind in KINDS.values() for output in kind.records
    }
    for name, spec in specs.items():
        recorded = apps[name].recorded
        if spec.upgrade_guard is not None and recorded is not None:
            records.setdefault(spec.upgrade_guard.output, {})[name] = recorded

    outputs: dict[str, pulumi.Input[object]] = {
        "address": host.address,
        "urls": {name: app.url for name, app in apps.items()},
        "adminUsers": {name: app.admin_user for name, app in apps.items()},
        "adminPasswords": pulumi.Output.secret(
            {name: app.admin_password for name, app in apps.items() if app.admin_password is not None}
        ),
        "volumes": {name: app.volumes for name, app in apps.items()},
        **records,
        # Read back by the next deploy: the same digests until imageRefresh changes.
        images.DIGESTS_OUTPUT: digests.record(),
    }
    if isinstance(host, HetznerHost):
        outputs["serverIp"] = host.server_ip
        outputs["sshCommand"] = host.ssh_command
    return outputs
