"""The Backups component: registers a BackupPlan (components/backups/plan.py) on the stack's Docker host.

Children (resource names are API, as everywhere: renaming one needs an alias):

- ``<name>-repository-password``: the restic repository's password, generated once, protected with
  the stack's state (every snapshot is encrypted with it), exported as a secret stack output;
- ``<name>-state``: the scheduler's volume (status file, restic's cache), ``<prefix>-backup-state``;
  ``<name>-repository``: a local target's volume, when the target is one (it holds the repository);
  ``<name>-<app>``: each app's backup volume ``<prefix>-<app>-backup`` (its dumps, the helpers' control files);
- ``<name>-network``: the scheduler's own network ``<prefix>-backup``, internal (no route out) for a
  local target, with a route out for a remote one; nothing else joins it, so the scheduler reaches no app;
- ``<name>-scheduler``: container ``<prefix>-backup`` on the pinned restic image, no Docker socket:
  the app volumes read-only under SCHEDULER_SOURCE_DIR, each app's backup volume read-write under
  SCHEDULER_APPS_DIR, its state volume, a local target at LOCAL_REPOSITORY_DIR; the repository
  password and the target's credentials as 0400 files under SECRETS_DIR, never environment values;
- ``<name>-<app>-<role>-dump``: container ``<prefix>-<app>-<role>-dump`` per database, on that
  database's own image, on the app's internal network only, with the service's password as a file;
- ``<name>-<app>-quiesce``: container ``<prefix>-<app>-quiesce`` for an app that declares a quiesce,
  on the app's image with its volumes, environment and password files, as the declared user.

Every container is a ``service_container`` (components/core/container.py). Every mount of an app's
volume takes that volume resource's ``name`` output (``AppHandles.volume_names``), so no container
can be created before the volume it mounts: an engine would otherwise make an unmanaged volume of
that name (on the root disk of a Hetzner server, not on its data volume).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_docker as docker

from components.backups import scripts
from components.backups.derive import scheduler_container_name, state_volume_name
from components.backups.memory import HELPER_MEMORY, HELPER_RESERVATION, SCHEDULER_MEMORY, SCHEDULER_RESERVATION
from components.backups.plan import (
    APP_BACKUP_DIR,
    LOCAL_REPOSITORY_DIR,
    SCHEDULER_STATE_DIR,
    SECRETS_DIR,
    AppBackup,
    BackupPlan,
    CredentialName,
    DatabaseDump,
    LocalTarget,
    scheduler_app_dir,
    scheduler_source_dir,
)
from components.core import images
from components.core.container import (
    Attachment,
    FileUpload,
    Healthcheck,
    Mount,
    ServiceSpec,
    secret_file,
    service_container,
)
from components.core.images import ImagePin
from components.core.network import Network, NetworkArgs
from components.core.secrets import generated_password
from components.core.volumes import StatePolicy, data_volume

SHELL: Final = ("/bin/sh",)
"""The images' entrypoints would start restic, a database server or Apache: every backup container runs
the shell (scripts.SCHEDULER_ENTRYPOINT is the same for the scheduler)."""
SCRIPT_MODE: Final = "0555"


def network_name(prefix: str) -> str:
    return f"{prefix}-backup"


def dumper_name(prefix: str, app: str, dump: DatabaseDump) -> str:
    return f"{prefix}-{app}-{dump.role}-dump"


def quiesce_name(prefix: str, app: str) -> str:
    return f"{prefix}-{app}-quiesce"


@dataclass(frozen=True)
class AppHandles:
    """What the component needs of one registered App (components/apps/app.py exposes it)."""

    backend_network: pulumi.Input[str] | None
    volume_names: Mapping[str, pulumi.Input[str]]
    """The app's volumes by role, as outputs of the volume resources."""
    service_passwords: Mapping[str, pulumi.Input[str]]
    """Backing services' passwords by role (secret)."""
    images: Mapping[ImagePin, docker.RemoteImage] = field(default_factory=dict)
    """The app's own pulls: the quiesce runs on the app's pull of its image, never on one of its own, so
    it waits for the app's upgrade guard (a refused Nextcloud major pulls nothing)."""


@dataclass(frozen=True)
class BackupsArgs:
    plan: BackupPlan
    apps: Mapping[str, AppHandles]
    """Every app of the plan, by name."""
    credentials: Mapping[CredentialName, pulumi.Input[str]] = field(default_factory=dict)
    """The target's credentials (secret), each uploaded to SECRETS_DIR/<name>."""
    state: StatePolicy = field(default_factory=StatePolicy)
    scheduler_memory_bytes: int = SCHEDULER_MEMORY
    scheduler_reservation_bytes: int = SCHEDULER_RESERVATION
    helper_memory_bytes: int = HELPER_MEMORY
    helper_reservation_bytes: int = HELPER_RESERVATION

    @property
    def prefix(self) -> str:
        return self.plan.stack


class Backups(pulumi.ComponentResource):
    repository_password: pulumi.Output[str]
    """Secret: with the repository alone it restores everything (docs/backups.md)."""
    repository: pulumi.Output[str]
    """restic's repository address (``RESTIC_REPOSITORY``), without credentials."""
    scheduler: pulumi.Output[str]
    """The scheduler container's name: ``docker exec <it> /bin/sh <script> status``."""
    volumes: pulumi.Output[list[str]]

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:Backups", name, None, opts)
        plan, prefix = args.plan, args.prefix
        missing = sorted(app.app for app in plan.apps if app.app not in args.apps)
        if missing:
            raise ValueError(f"backups: no handles for apps {', '.join(missing)}")
        self.repository_password = generated_password(
            f"{name}-repository-password", parent=self, protect=args.state.protect
        )
        state = data_volume(f"{name}-state", state_volume_name(prefix), args.state, parent=self)
        volumes: list[docker.Volume] = [state]
        repository: docker.Volume | None = None
        if isinstance(plan.target, LocalTarget) and plan.target.volume_name is not None:
            repository = data_volume(f"{name}-repository", plan.target.volume_name, args.state, parent=self)
            volumes.append(repository)
        backup_volumes = {
            app.app: data_volume(f"{name}-{app.app}", app.backup_volume, args.state, parent=self) for app in plan.apps
        }
        volumes.extend(backup_volumes.values())
        pulled = self._images(name, plan)

        remote = not isinstance(plan.target, LocalTarget)
        network = Network(
            f"{name}-network",
            NetworkArgs(network_name=network_name(prefix), internal=not remote),
            pulumi.ResourceOptions(parent=self),
        )
        mounts = [Mount(state.name, SCHEDULER_STATE_DIR)]
        if isinstance(plan.target, LocalTarget):
            if repository is not None:
                mounts.append(Mount(repository.name, LOCAL_REPOSITORY_DIR))
            elif plan.target.host_path is not None:
                mounts.append(Mount(plan.target.host_path, LOCAL_REPOSITORY_DIR, host_directory=True))
        for app in plan.apps:
            handles = args.apps[app.app]
            mounts.append(Mount(backup_volumes[app.app].name, scheduler_app_dir(app.app)))
            mounts.extend(
                Mount(handles.volume_names[v.role], scheduler_source_dir(app.app, v.role), read_only=True)
                for v in app.volumes
            )
        secrets = [secret_file(scripts.REPOSITORY_PASSWORD_FILE, self.repository_password, 0)] + [
            secret_file(f"{SECRETS_DIR}/{credential}", value, 0)
            for credential, value in sorted(args.credentials.items())
        ]
        script = FileUpload(scripts.SCHEDULER_SCRIPT, scripts.scheduler_script(plan), mode=SCRIPT_MODE)
        scheduler = service_container(
            f"{name}-scheduler",
            ServiceSpec(
                container_name=scheduler_container_name(prefix),
                image=pulled[images.RESTIC],
                memory_bytes=args.scheduler_memory_bytes,
                memory_reservation_bytes=args.scheduler_reservation_bytes,
                networks=[Attachment(network.name)],
                envs=scripts.repository_env(plan.target),
                files=[script, *secrets],
                mounts=mounts,
                entrypoint=scripts.SCHEDULER_ENTRYPOINT,
                command=scripts.scheduler_command(),
                healthcheck=Healthcheck(
                    test=scripts.scheduler_healthcheck(plan), interval="1m", start_period="30s", retries=3
                ),
                # A snapshot under way gets time to write its index before SIGKILL.
                stop_grace_seconds=120,
            ),
            parent=self,
        )
        for app in plan.apps:
            self._helpers(name, args, app, backup_volumes[app.app], pulled, scheduler)

        self.repository = pulumi.Output.from_input(scripts.repository_env(plan.target)["RESTIC_REPOSITORY"])
        self.scheduler = scheduler.name
        self.volumes = pulumi.Output.all(*(v.name for v in volumes)).apply(lambda found: sorted(map(str, found)))
        self.register_outputs(
            {
                "repository_password": self.repository_password,
                "repository": self.repository,
                "scheduler": self.scheduler,
                "volumes": self.volumes,
            }
        )

    def _images(self, name: str, plan: BackupPlan) -> dict[ImagePin, docker.RemoteImage]:
        """Each distinct pin once: ``<name>-restic-image``, then by dump engine (``<name>-mariadb-image``)."""
        labels: dict[ImagePin, str] = {images.RESTIC: "restic"}
        for app in plan.apps:
            for dump in app.dumps:
                labels.setdefault(dump.image, dump.engine)
        if len(set(labels.values())) < len(labels):
            raise ValueError(f"backups: two images would share a resource name: {sorted(labels.values())}")
        return {pin: images.pull(f"{name}-{label}", pin, parent=self) for pin, label in labels.items()}

    def _helpers(
        self,
        name: str,
        args: BackupsArgs,
        app: AppBackup,
        backup_volume: docker.Volume,
        pulled: Mapping[ImagePin, docker.RemoteImage],
        scheduler: docker.Container,
    ) -> None:
        """The app's dumpers and quiesce, each started after the scheduler: its first act makes the backup
        volume's ``control/`` and ``dumps/`` writable for the helpers' users (the quiesce runs as uid 33 and
        could not create them in the fresh volume's root-owned top directory)."""
        prefix, handles = args.prefix, args.apps[app.app]
        backup_mount = Mount(backup_volume.name, APP_BACKUP_DIR)
        for dump in app.dumps:
            if handles.backend_network is None:
                raise ValueError(f"backups of {app.app}: {dump.role} is dumped, but the app has no internal network")
            service_container(
                f"{name}-{app.app}-{dump.role}-dump",
                ServiceSpec(
                    container_name=dumper_name(prefix, app.app, dump),
                    image=pulled[dump.image],
                    memory_bytes=args.helper_memory_bytes,
                    memory_reservation_bytes=args.helper_reservation_bytes,
                    # The database's own network, nothing else: it reaches that database and no other.
                    networks=[Attachment(handles.backend_network)],
                    files=[
                        FileUpload(scripts.HELPER_SCRIPT, scripts.dumper_script(app.app, dump), mode=SCRIPT_MODE),
                        secret_file(dump.password_file, handles.service_passwords[dump.role], 0),
                    ],
                    mounts=[backup_mount],
                    entrypoint=SHELL,
                    command=scripts.helper_command(),
                    healthcheck=Healthcheck(test=scripts.helper_healthcheck(), start_period="30s"),
                ),
                parent=self,
                depends_on=[scheduler],
            )
        quiesce = app.quiesce
        if quiesce is None:
            return
        volume_of = {**{v.role: v.volume_name for v in app.volumes}, **{v.role: v.volume_name for v in app.excluded}}
        unknown = [m.volume for m in quiesce.mounts if m.volume not in volume_of]
        if unknown:
            raise ValueError(f"backups of {app.app}: the quiesce mounts unknown volumes {unknown}")
        if quiesce.image not in handles.images:
            raise ValueError(f"backups of {app.app}: the quiesce's image {quiesce.image.ref} is not one the app pulls")
        if handles.backend_network is None:
            # Never Docker's default bridge (a route out, other containers): the app's own network or none.
            raise ValueError(f"backups of {app.app}: the quiesce needs the app's internal network, which it lacks")
        uid, _, gid = quiesce.user.partition(":")
        service_container(
            f"{name}-{app.app}-quiesce",
            ServiceSpec(
                container_name=quiesce_name(prefix, app.app),
                image=handles.images[quiesce.image],
                memory_bytes=args.helper_memory_bytes,
                memory_reservation_bytes=args.helper_reservation_bytes,
                networks=[Attachment(handles.backend_network)],
                envs=dict(quiesce.env),
                files=[
                    FileUpload(scripts.HELPER_SCRIPT, scripts.quiesce_script(app.app, quiesce), mode=SCRIPT_MODE),
                    *(
                        FileUpload(
                            p.path,
                            handles.service_passwords[p.service],
                            owner=str(p.owner),
                            group=str(p.owner),
                            mode="0400",
                            secret=True,
                        )
                        for p in quiesce.passwords
                    ),
                ],
                mounts=[Mount(handles.volume_names[m.volume], m.path) for m in quiesce.mounts] + [backup_mount],
                entrypoint=SHELL,
                command=scripts.helper_command(),
                user=f"{uid}:{gid or uid}",
                healthcheck=Healthcheck(test=scripts.helper_healthcheck(), start_period="30s"),
            ),
            parent=self,
            depends_on=[scheduler],
        )
