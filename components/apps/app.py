"""The one App component: registers any ``AppSpec`` (components/apps/spec.py) on a Docker host.

A kind says *what* its app is, as plain data; this module alone turns roles into resources
and names (the naming rules are in spec.py's docstring), so every kind gets the same care:
retained and protected volumes, generated passwords kept in state, secrets as 0400 files
owned by the service's user, one internal network for the backing services, and the
pinned images of components/core/images.py. The component's type token is the kind's
(``selfhost:index:WordPress``): part of every child's URN, so it never changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.apps.spec import (
    AppSecret,
    AppSpec,
    ConfigSecret,
    File,
    SecretFile,
    SecretSource,
    Service,
    ServiceSecret,
)
from components.core import images
from components.core.container import Attachment, FileUpload, Mount, ServiceSpec, secret_file
from components.core.images import ImagePin
from components.core.network import Network, NetworkArgs
from components.core.records import previous_record
from components.core.runtime import ENGINE, ServiceRuntime, created_name
from components.core.secrets import generated_password
from components.core.volumes import StatePolicy, data_volume
from components.services import registry
from components.services.kinds import BuiltService, Placement

SecretValue = Callable[[SecretSource], pulumi.Output[str]]
"""Resolves where a secret file's value comes from to the value (an output, secret)."""
APP_ROLE = "app"
"""The service whose container resource is ``<app>-container`` (the stack has always named it so)."""
BACKUP_VOLUME_ROLE = "backup"
"""``<prefix>-<app>-backup`` is the app's backup volume (components/backups/plan.py): no app volume takes it."""


def spec_problems(spec: AppSpec) -> list[str]:
    """What in ``spec`` the App component cannot register: a defect of the kind, not of config."""
    problems: list[str] = []
    service_roles = [s.role for s in spec.services]
    backing_roles = [b.role for b in spec.backing]
    roles = service_roles + backing_roles
    for role in sorted({r for r in roles if roles.count(r) > 1}):
        problems.append(f"role {role!r} is used twice")
    volume_roles = {v.role for v in spec.volumes}
    secret_roles = {s.role for s in spec.secrets}
    # Host names are <prefix>-<app>-<role>: the backend network and the backing services' volumes too.
    unknown = [b.kind for b in spec.backing if b.kind not in registry.SERVICES]
    problems.extend(f"no backing service of kind {kind!r}" for kind in unknown)
    backing_volumes = [name for b in spec.backing if b.kind not in unknown for name in registry.volume_names(b, b.role)]
    taken = {*roles, "backend", BACKUP_VOLUME_ROLE, *backing_volumes}
    for role in sorted(volume_roles & taken):
        problems.append(f"volume {role!r} would share its Docker name with a service, network or volume of the app")
    for volume in spec.volumes:
        if volume.backup == (volume.no_backup_reason is not None):
            problems.append(
                f"volume {volume.role!r}: a volume left out of the backups needs a no_backup_reason, "
                "and only such a volume has one"
            )
    quiesce = spec.backup_quiesce
    if quiesce is not None and quiesce.service not in service_roles:
        problems.append(f"the backup quiesce runs on service {quiesce.service!r}, which is not a service of the app")
    if quiesce is not None and not (quiesce.on and quiesce.off):
        problems.append("the backup quiesce needs both its on and its off command")
    if "backend" in roles:
        problems.append("role 'backend' is the name of the app's internal network")
    routed = [s.role for s in spec.services if s.edge == "routed"]
    if len(routed) > 1:
        problems.append(f"only one service may be routed, not {', '.join(routed)}")
    known_services = set(roles)
    for service in spec.services:
        for needed in service.depends_on:
            if needed not in known_services or needed == service.role:
                problems.append(f"{service.role}: depends on {needed!r}, which is not another service of the app")
        for mount in service.mounts:
            if mount.volume not in volume_roles:
                problems.append(f"{service.role}: mounts {mount.volume!r}, which is not one of the app's volumes")
        for file in service.files:
            if isinstance(file, SecretFile):
                source = file.source
                if isinstance(source, AppSecret) and source.role not in secret_roles:
                    problems.append(
                        f"{service.role}: {file.path} reads secret {source.role!r}, which it does not generate"
                    )
                if isinstance(source, ServiceSecret) and source.role not in backing_roles:
                    problems.append(
                        f"{service.role}: {file.path} reads the password of {source.role!r}, not a backing service"
                    )
    if spec.admin_password is not None and spec.admin_password not in secret_roles:
        problems.append(f"admin_password {spec.admin_password!r} is not a generated secret")
    if spec.upgrade_guard is not None and spec.upgrade_guard.gates not in service_roles:
        problems.append(f"the upgrade guard gates {spec.upgrade_guard.gates!r}, which is not a service")
    return problems


def image_resource_names(app_name: str, services: Sequence[Service]) -> dict[ImagePin, str]:
    """One RemoteImage per distinct pin, named by the first service that runs it (spec.py's docstring)."""
    names: dict[ImagePin, str] = {}
    for service in services:
        if service.image in names:
            continue
        suffix = (
            service.image_name if service.image_name is not None else ("" if service.role == APP_ROLE else service.role)
        )
        names[service.image] = f"{app_name}-{suffix}" if suffix else app_name
    if len(set(names.values())) < len(names):
        raise ValueError(f"{app_name}: two images would share a resource name; give services an image_name")
    return names


def start_order(services: Sequence[Service]) -> list[Service]:
    """Services after those of them they depend on, otherwise in spec order."""
    ordered: list[Service] = []
    pending = list(services)
    while pending:
        done = {s.role for s in ordered}
        ready = [s for s in pending if all(d in done or d not in {p.role for p in pending} for d in s.depends_on)]
        if not ready:
            raise ValueError(f"services depend on each other in a cycle: {', '.join(s.role for s in pending)}")
        ordered.append(ready[0])
        pending.remove(ready[0])
    return ordered


def host_name(name_prefix: str, app_name: str, role: str) -> str:
    """Name on the Docker host of an app's container, volume or network: ``selfhost-dev-blog-db``."""
    return f"{name_prefix}-{app_name}-{role}"


def spec_volume_names(name_prefix: str, app_name: str, spec: AppSpec) -> list[str]:
    """Every Docker volume the App component makes for ``spec``, its backing services' too: pure, so the
    composition can have the host prepare them before any resource (``DockerHost.prepare_volumes``)."""
    own = [host_name(name_prefix, app_name, volume.role) for volume in spec.volumes]
    backing = [
        name
        for service in spec.backing
        for name in registry.volume_names(service, host_name(name_prefix, app_name, service.role))
    ]
    return sorted(own + backing)


@dataclass(frozen=True)
class AppArgs:
    app_name: str
    spec: AppSpec
    type_token: str
    """The kind's component token (``Kind.component``)."""
    name_prefix: str
    """Prefix of container, volume and network names on the host, e.g. ``selfhost-dev``."""
    edge_network: pulumi.Input[str]
    state: StatePolicy = field(default_factory=StatePolicy)
    runtime: ServiceRuntime = ENGINE
    """What runs its services' containers: one Docker engine, or a swarm (components/core/runtime.py)."""

    def host_name(self, role: str) -> str:
        return host_name(self.name_prefix, self.app_name, role)


class App(pulumi.ComponentResource):
    url: pulumi.Output[str]
    admin_user: pulumi.Output[str | None]
    admin_password: pulumi.Output[str] | None
    """Secret; None when the kind has no admin password."""
    volumes: pulumi.Output[list[str]]
    """Every volume of the app, its backing services' too, sorted."""
    recorded: pulumi.Output[object] | None
    """The upgrade guard's value, known once its ``gates`` service is up and healthy (None without a guard)."""

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(args.type_token, name, None, opts)
        spec = args.spec
        problems = spec_problems(spec)
        if problems:
            raise ValueError(f"{args.app_name} ({spec.kind}): " + "; ".join(problems))

        backend, backing = self._backing(name, args)
        volumes = {
            v.role: data_volume(f"{name}-{v.role}", args.host_name(v.role), args.state, parent=self)
            for v in spec.volumes
        }
        secrets = {
            s.role: generated_password(f"{name}-{s.role}", parent=self, protect=args.state.protect and s.protect)
            for s in spec.secrets
        }

        def secret_value(source: SecretSource) -> pulumi.Output[str]:
            if isinstance(source, AppSecret):
                return secrets[source.role]
            if isinstance(source, ServiceSecret):
                return backing[source.role].password
            assert isinstance(source, ConfigSecret)
            return pulumi.Output.secret(source.value.get_secret_value())

        pulled = self._images(name, args)
        started: dict[str, pulumi.Resource] = {role: built.resource for role, built in backing.items()}
        containers: dict[str, pulumi.CustomResource] = {}
        for service in start_order(spec.services):
            networks = []
            if service.edge == "routed":
                networks.append(Attachment(args.edge_network, aliases=[spec.route.upstream_host]))
            elif service.edge == "outbound":
                networks.append(Attachment(args.edge_network))
            if backend is not None and service.backend:
                networks.append(Attachment(args.runtime.network_ref(backend)))
            container = args.runtime.run(
                f"{name}-container" if service.role == APP_ROLE else f"{name}-{service.role}",
                ServiceSpec(
                    container_name=args.host_name(service.role),
                    image=pulled[service.image],
                    memory_bytes=service.memory,
                    memory_reservation_bytes=service.memory_reservation,
                    networks=networks,
                    mounts=[Mount(volumes[m.volume].name, m.path, m.read_only) for m in service.mounts],
                    envs=dict(service.env),
                    files=[_upload(file, secret_value) for file in service.files],
                    command=service.command,
                    entrypoint=service.entrypoint,
                    user=service.user,
                    healthcheck=service.healthcheck,
                    wait_timeout_seconds=service.wait_timeout_seconds,
                    stop_grace_seconds=service.stop_grace_seconds,
                    keep_anonymous_volumes=service.keep_anonymous_volumes,
                    replacement=service.replacement,
                ),
                parent=self,
                depends_on=[started[role] for role in service.depends_on],
            )
            started[service.role] = containers[service.role] = container

        # Python-only handles for the backups (issue 12), not outputs: annotated here, not on the class, so
        # the package's schema analyzer (components/package) does not take them for outputs.
        self.backend_network: pulumi.Output[str] | None = backend.name if backend is not None else None
        """The app's internal network's name (None without backing services): where its backup helpers go."""
        self.volume_names: dict[str, pulumi.Output[str]] = {role: volume.name for role, volume in volumes.items()}
        """Each of the app's own volumes by role: the Docker name, as an output of the volume resource, so a
        container mounting it (a backup helper) is created after the volume."""
        self.service_passwords: dict[str, pulumi.Output[str]] = {
            role: built.password for role, built in backing.items()
        }
        """Each backing service's password by role (secret)."""
        self.images: Mapping[ImagePin, docker.RemoteImage] = pulled
        """The app's pulled images: a helper on the app's image uses the same pull, so it waits for the
        upgrade guard's check like the app does (Nextcloud: one major at a time)."""
        self.url = pulumi.Output.from_input(spec.url)
        self.admin_user = pulumi.Output.from_input(spec.admin_user)
        self.admin_password = secrets[spec.admin_password] if spec.admin_password is not None else None
        names = [v.name for v in volumes.values()] + [n for built in backing.values() for n in built.volume_names]
        self.volumes = pulumi.Output.all(*names).apply(lambda found: sorted(str(n) for n in found))
        guard = spec.upgrade_guard
        # Known only once the gated container's create (or replace) has returned, and with
        # wait=True the provider returns only after the container reported healthy: a deploy that
        # fails there never records the new value (see components/apps/nextcloud/upgrades.py). A
        # property, not `id`: when the engine reports the resource failed (`up --continue-on-error`)
        # the SDK resolves its properties as unknown but may still hand back an id.
        self.recorded = None if guard is None else _recorded_once_up(containers[guard.gates], guard.value)
        outputs: dict[str, pulumi.Input[object] | None] = {
            "url": self.url,
            "admin_user": self.admin_user,
            "admin_password": self.admin_password,
            "volumes": self.volumes,
        }
        if self.recorded is not None:
            outputs["recorded"] = self.recorded
        self.register_outputs(outputs)

    def _backing(self, name: str, args: AppArgs) -> tuple[Network | None, dict[str, BuiltService]]:
        """The app's internal network and its backing services on it, named ``<name>-backend|<role>``."""
        if not args.spec.backing:
            return None, {}
        network = Network(
            f"{name}-backend",
            args.runtime.network(NetworkArgs(network_name=args.host_name("backend"), internal=True)),
            pulumi.ResourceOptions(parent=self),
        )
        built = {
            backing.role: registry.build(
                f"{name}-{backing.role}",
                backing,
                Placement(
                    args.host_name(backing.role),
                    args.runtime.network_ref(network),
                    parent=self,
                    state=args.state,
                    runtime=args.runtime,
                ),
            )
            for backing in args.spec.backing
        }
        return network, built

    def _images(self, name: str, args: AppArgs) -> Mapping[ImagePin, docker.RemoteImage]:
        """Every pin of the app, pulled once; the guarded service's pull waits for the guard's check."""
        guard = args.spec.upgrade_guard
        checked: pulumi.Output[object] | None = None
        gated: ImagePin | None = None
        if guard is not None:
            # The pull, and so every container on the image, waits for the check; a refusal stops the deploy.
            checked = previous_record(f"{name}-deployed", guard.output, parent=self).apply(guard.check)
            gated = next(s.image for s in args.spec.services if s.role == guard.gates)
        return {
            pin: images.pull(resource, pin, parent=self, after=checked if pin == gated else None)
            for pin, resource in image_resource_names(name, args.spec.services).items()
        }


def _recorded_once_up(container: pulumi.CustomResource, value: object) -> pulumi.Output[object]:
    def record(_: object) -> object:
        return value

    # A container's image, a swarm service's name: either is known once the resource is created (and healthy).
    signal = container.image if isinstance(container, docker.Container) else created_name(container)
    return signal.apply(record)


def _upload(file: File | SecretFile, secret_value: SecretValue) -> FileUpload:
    if isinstance(file, SecretFile):
        value = secret_value(file.source)
        return secret_file(file.path, value if file.render is None else value.apply(file.render), file.owner)
    owner, group = str(file.owner), str(file.group)
    if file.content_base64 is not None:
        return FileUpload(file.path, "", owner=owner, group=group, mode=file.mode, content_base64=file.content_base64)
    return FileUpload(file.path, file.content, owner=owner, group=group, mode=file.mode)
