"""The whole stack from validated settings: host, edge network, apps, proxy; and its outputs."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable, Collection, Mapping

import pulumi
from pydantic import SecretStr

from components.apps.app import App, AppArgs, spec_volume_names
from components.apps.registry import KINDS, proxy_routes
from components.apps.spec import AppSpec, File, Site
from components.backups.component import AppHandles, Backups, BackupsArgs
from components.backups.derive import backup_plan, plan_volume_names
from components.backups.plan import BackupPlan
from components.backups.settings import credentials
from components.core import images
from components.core.network import Network, NetworkArgs
from components.core.records import own_stack_name, previous_record
from components.core.runtime import ENGINE, ServiceRuntime
from components.core.volumes import StatePolicy
from components.edge.proxy import Proxy, ProxyArgs
from components.hosts.hetzner.host import HetznerHost, HetznerHostArgs
from components.hosts.local import DockerHost, LocalDockerHost, LocalDockerHostArgs
from components.hosts.swarm.host import LocalSwarmHost, LocalSwarmHostArgs, SwarmHost, SwarmHostArgs, SwarmNodeArgs
from components.swarm.service import DATA_LIMIT, EDGE_CONSTRAINT, SwarmRuntime, node_constraint
from config.loading import ConfigError
from config.memory import total_reservation
from config.settings import AppSettings, StackSettings
from config.swarm import LOCATION_ZONES


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


SWARM_PLACEMENT_OUTPUT = "swarmPlacement"
"""Stack output ``{app: node}`` on a swarm, read back by the next deploy: an app never silently moves."""


def placement_check(placement: Mapping[str, str], moved: Collection[str] = ()) -> Callable[[object], None]:
    """Refuse a deploy that would run an app on another node than the last one did: its data would stay behind.
    ``moved``: apps whose data the operator has copied to the new node (``swarm.moved``)."""

    def check(record: object) -> None:
        if not isinstance(record, dict):
            return
        for app, node in sorted(placement.items()):
            before = record.get(app)
            if app in moved:
                continue
            if isinstance(before, str) and before != node:
                raise pulumi.RunError(
                    f"selfhost:swarm.placement.{app}: app {app!r} ran on node {before!r} at the last deploy and "
                    f"its volumes are there; this deploy would run it on {node!r} and leave its data behind. "
                    f"Keep it where it is: `pulumi config set --path swarm.placement.{app} {before}`. To move it "
                    'with its data, follow docs/swarm.md, "Moving an app to another node" (copy its volumes, then '
                    f"`pulumi config set --path 'swarm.moved[0]' {app}` for one deploy)."
                )

    return check


def _constraint_after(checked: pulumi.Output[None], node: str) -> pulumi.Output[str]:
    """The app's placement on ``node``, known only once the placement check passed."""
    return checked.apply(lambda _: node_constraint(node))


def swarm_host_args(settings: StackSettings, name_prefix: str) -> SwarmHostArgs:
    swarm = settings.swarm
    if swarm is None:
        raise ValueError("host=swarm needs selfhost:swarm (validated settings always have it)")
    public_ports = [settings.http_port] if settings.tls == "off" else [settings.http_port, settings.https_port]
    edge = set(swarm.edge_nodes)
    nodes = [
        SwarmNodeArgs(
            name=name,
            role=swarm.nodes[name].role,
            server_type=swarm.nodes[name].server_type,
            location=swarm.node_location(name),
            volume_size_gb=swarm.nodes[name].volume_size_gb,
            edge=name in edge,
            labels=dict(swarm.nodes[name].labels),
        )
        for name in [*swarm.managers, *swarm.workers]
    ]
    return SwarmHostArgs(
        nodes=nodes,
        image=swarm.image,
        ssh_public_keys=list(swarm.ssh_public_keys),
        admin_cidrs=list(swarm.admin_cidrs),
        public_ports=public_ports,
        private_network=swarm.private_network,
        network_zone=LOCATION_ZONES[swarm.location],
        labels=dict(swarm.labels),
        name_prefix=name_prefix,
        protect=settings.protect,
    )


def build_apps(
    specs: Mapping[str, AppSpec],
    name_prefix: str,
    edge_network: pulumi.Input[str],
    state: StatePolicy,
    opts: pulumi.ResourceOptions,
    runtime: Callable[[str], ServiceRuntime] | None = None,
) -> dict[str, App]:
    """One App per spec, on one host or (with ``runtime`` per app) as a swarm's services."""
    return {
        name: App(
            name,
            AppArgs(
                app_name=name,
                spec=spec,
                type_token=KINDS[spec.kind].component,
                name_prefix=name_prefix,
                edge_network=edge_network,
                state=state,
                runtime=ENGINE if runtime is None else runtime(name),
            ),
            opts,
        )
        for name, spec in specs.items()
    }


def swarm_file_problems(specs: Mapping[str, AppSpec]) -> list[str]:
    """Files of the apps that a Swarm secret or config cannot hold (more than ``DATA_LIMIT``), by config key:
    found before any resource, where the single host would upload them (a static site's big asset)."""
    problems = []
    for app, spec in sorted(specs.items()):
        for service in spec.services:
            for file in service.files:
                if isinstance(file, File):
                    content = file.content_base64
                    size = len(base64.b64decode(content)) if content is not None else len(file.content.encode())
                    if size > DATA_LIMIT:
                        problems.append(
                            f"selfhost:apps.{app}: {file.path} ({service.role}) is {size} bytes; a Swarm secret or "
                            f'config holds at most {DATA_LIMIT} bytes (docs/swarm.md, "Limits"): run this app on '
                            "one host, or serve the file from a volume"
                        )
    return problems


def build_swarm_stack(settings: StackSettings, name_prefix: str) -> dict[str, pulumi.Input[object]]:
    """The same apps and proxy, from the same specs, as Swarm services (docs/swarm.md)."""
    problems = swarm_file_problems(app_specs(settings))
    if problems:
        raise pulumi.RunError("\n".join(problems))
    host: SwarmHost | LocalSwarmHost = (
        SwarmHost("host", swarm_host_args(settings, name_prefix))
        if settings.host == "swarm"
        else LocalSwarmHost("host", LocalSwarmHostArgs(docker_host=settings.docker_host))
    )
    digests = image_digests(settings, host.provider)
    on_manager = pulumi.ResourceOptions(providers=[host.provider], transformations=[digests.transformation])
    specs = app_specs(settings)
    placement = settings.swarm_placement()
    moved = settings.swarm.moved if settings.swarm is not None else []
    checked = previous_record("swarm-placement", SWARM_PLACEMENT_OUTPUT).apply(placement_check(placement, moved))
    # Each app's volumes on its node; the proxy's ACME state on the first edge node. Nothing of an app is
    # made before the check that it has not moved.
    edge_nodes = settings.swarm.edge_nodes if settings.swarm is not None else [placement[next(iter(specs))]]
    volume_nodes = {
        volume: placement[name] for name, spec in specs.items() for volume in spec_volume_names(name_prefix, name, spec)
    }
    acme = acme_volume_name(settings, name_prefix)
    if acme:
        volume_nodes[acme] = edge_nodes[0]
    prepared = host.prepare_volumes(volume_nodes, dict.fromkeys(volume_nodes, checked))
    state = StatePolicy(placement=prepared, protect=settings.protect)
    edge_runtime = SwarmRuntime(constraints=[EDGE_CONSTRAINT], global_service=True)
    edge = Network(
        "edge",
        edge_runtime.network(
            NetworkArgs(network_name=f"{name_prefix}-edge", internal=False, subnet=settings.edge_subnet)
        ),
        on_manager,
    )
    apps = build_apps(
        specs,
        name_prefix,
        edge_runtime.network_ref(edge),
        state,
        on_manager,
        runtime=lambda name: SwarmRuntime(constraints=[_constraint_after(checked, placement[name])]),
    )
    proxy = proxy_args(settings, name_prefix, edge_runtime.network_ref(edge), state, specs)
    Proxy("proxy", dataclasses.replace(proxy, runtime=edge_runtime), on_manager)
    outputs = stack_outputs(host.address, apps, specs, digests)
    outputs[SWARM_PLACEMENT_OUTPUT] = dict(placement)
    if isinstance(host, SwarmHost):
        outputs["nodeIps"] = host.node_ips
        outputs["sshCommand"] = host.ssh_command
    return outputs


def build_stack(settings: StackSettings, name_prefix: str) -> dict[str, pulumi.Input[object]]:
    """Register every resource; return the stack outputs."""
    if settings.host in ("swarm", "local-swarm"):
        return build_swarm_stack(settings, name_prefix)
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

    apps = build_apps(specs, name_prefix, edge.name, state, on_host)

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
    outputs = stack_outputs(host.address, apps, specs, digests)
    if backups is not None:
        # The one key to every snapshot: keep a copy away from the stack (docs/backups.md).
        outputs["backupRepositoryPassword"] = backups.repository_password
        outputs["backupRepository"] = backups.repository
        outputs["backupVolumes"] = backups.volumes
    if isinstance(host, HetznerHost):
        outputs["serverIp"] = host.server_ip
        outputs["sshCommand"] = host.ssh_command
    return outputs


def stack_outputs(
    address: pulumi.Output[str], apps: Mapping[str, App], specs: Mapping[str, AppSpec], digests: images.DigestPins
) -> dict[str, pulumi.Input[object]]:
    """What every stack exports, whatever it runs on."""
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
        "address": address,
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
    return outputs
