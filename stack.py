"""The whole stack from validated settings: host, edge network, apps, proxy; and its outputs."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from pydantic import SecretStr

from components.apps.app import App, AppArgs, spec_volume_names
from components.apps.registry import KINDS, proxy_routes
from components.apps.spec import AppSpec, Site
from components.backups.component import AppHandles, Backups, BackupsArgs
from components.backups.derive import backup_plan, plan_volume_names
from components.backups.plan import BackupPlan
from components.backups.settings import credentials
from components.core import images
from components.core.network import Network, NetworkArgs
from components.core.records import own_stack_name
from components.core.volumes import StatePolicy
from components.edge.proxy import Proxy, ProxyArgs
from components.hosts.hetzner.host import HetznerHost, HetznerHostArgs
from components.hosts.local import DockerHost, LocalDockerHost, LocalDockerHostArgs
from config.loading import ConfigError
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
    return settings.site(app_name, app)


def app_specs(settings: StackSettings) -> dict[str, AppSpec]:
    """Every app as plain data, from its kind's pure ``spec()``: what the apps and the proxy are built from."""
    return {
        name: KINDS[app.kind].spec(name, app, site(settings, name, app)) for name, app in sorted(settings.apps.items())
    }


def acme_volume_name(settings: StackSettings, name_prefix: str) -> str | None:
    return f"{name_prefix}-proxy-acme" if settings.tls == "letsencrypt" else None


def stack_backup_plan(settings: StackSettings, name_prefix: str, specs: Mapping[str, AppSpec]) -> BackupPlan | None:
    """What the stack backs up (None without ``backups``), derived from the same specs as the apps."""
    return None if settings.backups is None else backup_plan(name_prefix, specs, settings.backups)


def volume_names(settings: StackSettings, name_prefix: str, specs: Mapping[str, AppSpec]) -> list[str]:
    """Every Docker volume the stack makes (the apps', the proxy's, the backups'), for the host to prepare first.

    A name made twice is a config error (a local backup target's ``volume`` naming an app's volume):
    refused here, before any resource."""
    names = [volume for name, spec in specs.items() for volume in spec_volume_names(name_prefix, name, spec)]
    acme = acme_volume_name(settings, name_prefix)
    plan = stack_backup_plan(settings, name_prefix, specs)
    backups = plan_volume_names(plan) if plan is not None else []
    taken = set(names) | ({acme} if acme else set())
    clashes = sorted(set(backups) & taken)
    if clashes:
        raise ConfigError(
            f"invalid stack configuration:\n  selfhost:backups.target.volume: {clashes[0]!r} is already a volume of "
            "the stack; the repository needs a volume of its own (e.g. <project>-<stack>-backup-repository)"
        )
    return sorted(names + ([acme] if acme else []) + backups)


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
    # Pure derivations first: a config error in them stops the program before any resource.
    specs = app_specs(settings)
    plan = stack_backup_plan(settings, name_prefix, specs)
    prepared = volume_names(settings, name_prefix, specs)
    host = build_host(settings, name_prefix)
    digests = image_digests(settings, host.provider)
    # Every RemoteImage on the host runs its tag at the stack's recorded digest (components/core/images.py).
    on_host = pulumi.ResourceOptions(providers=[host.provider], transformations=[digests.transformation])
    # Explicit: the host prepares exactly the volumes the stack makes (a directory each on Hetzner).
    placement = host.prepare_volumes(prepared)
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
    backups = None
    if plan is not None and settings.backups is not None:
        backups = Backups(
            "backups",
            BackupsArgs(
                plan=plan,
                apps={
                    name: AppHandles(
                        backend_network=app.backend_network,
                        volume_names=app.volume_names,
                        service_passwords=app.service_passwords,
                        images=app.images,
                    )
                    for name, app in apps.items()
                },
                credentials={
                    credential: pulumi.Output.secret(value if isinstance(value, str) else value.get_secret_value())
                    for credential, value in credentials(settings.backups.target).items()
                },
                state=state,
            ),
            on_host,
        )
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
    if backups is not None:
        # The one key to every snapshot: keep a copy away from the stack (docs/backups.md).
        outputs["backupRepositoryPassword"] = backups.repository_password
        outputs["backupRepository"] = backups.repository
        outputs["backupVolumes"] = backups.volumes
    if isinstance(host, HetznerHost):
        outputs["serverIp"] = host.server_ip
        outputs["sshCommand"] = host.ssh_command
    return outputs
