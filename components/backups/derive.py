"""The backup plan, derived from the apps' specs and the ``backups`` settings: pure, no resource.

What is backed up follows from what each kind declares, so a new kind is covered without an
edit here:

- every ``Volume`` of an app, unless the kind set ``backup=False`` with a ``no_backup_reason``
  (then the plan lists it under ``excluded``, with the reason);
- every backing service whose kind holds state (``ServiceKind.dump``: MariaDB, PostgreSQL,
  MongoDB) is dumped while it runs; one whose kind does not (Redis, ``stateless_reason``) is left
  out, and its volumes, if a kind ever had any, would be refused by ``ServiceKind`` itself;
- the app's ``backup_quiesce`` (Nextcloud's maintenance mode) becomes the plan's ``Quiesce``,
  on the image, mounts, environment and backing-service password files of the service it names.

An app with none of these (the static kind: its files come from the stack's own directory) has
no entry. ``stack_state`` lists every piece of state an app has, for the coverage tests.
"""

from __future__ import annotations

from collections.abc import Mapping

from components.apps.app import BACKUP_VOLUME_ROLE, host_name
from components.apps.spec import AppSpec, SecretFile, ServiceSecret
from components.backups.plan import (
    AppBackup,
    BackedUpVolume,
    BackupPlan,
    DatabaseDump,
    ExcludedVolume,
    LocalTarget,
    Quiesce,
    QuiesceMount,
    QuiescePassword,
    RestTarget,
    Retention,
    S3Target,
    Schedule,
    SftpTarget,
    Target,
)
from components.backups.settings import BackupsSettings, BackupTarget
from components.services import registry
from components.services.spec import Backing

DUMP_PASSWORD_FILE = "/run/secrets/selfhost-backup/service-password"
"""Where a dumper holds its database's password (0400, root: the dumper runs as root)."""
SFTP_DEFAULT_PORT = 22


def backup_volume_name(prefix: str, app: str) -> str:
    return host_name(prefix, app, BACKUP_VOLUME_ROLE)


def dumps_of(spec: AppSpec) -> tuple[DatabaseDump, ...]:
    """One dump per backing service whose kind holds state, in spec order."""
    return tuple(_dump(backing) for backing in spec.backing if registry.service_kind(backing).dump is not None)


def _dump(backing: Backing) -> DatabaseDump:
    dump = registry.service_kind(backing).dump
    assert dump is not None
    link = registry.connection(backing)
    return DatabaseDump(
        role=backing.role,
        engine=dump.engine,
        image=dump.image,
        host=link.host,
        port=link.port,
        user=link.user,
        database=link.database,
        password_file=DUMP_PASSWORD_FILE,
        dump_file=f"{backing.role}.{dump.extension}",
    )


def quiesce_of(spec: AppSpec) -> Quiesce | None:
    declared = spec.backup_quiesce
    if declared is None:
        return None
    service = next((s for s in spec.services if s.role == declared.service), None)
    if service is None:
        raise ValueError(f"{spec.kind}: the backup quiesce names service {declared.service!r}, which the app lacks")
    passwords = tuple(
        QuiescePassword(path=file.path, service=file.source.role, owner=file.owner)
        for file in service.files
        if isinstance(file, SecretFile) and isinstance(file.source, ServiceSecret) and file.render is None
    )
    # The app's other secret files (its admin password...) stay with the app; so do variables naming them.
    withheld = {f.path for f in service.files if isinstance(f, SecretFile)} - {p.path for p in passwords}
    env = {key: value for key, value in sorted(service.env.items()) if value not in withheld}
    return Quiesce(
        image=service.image,
        user=declared.user,
        on=declared.on,
        off=declared.off,
        mounts=tuple(QuiesceMount(mount.volume, mount.path) for mount in service.mounts),
        backend=service.backend and bool(spec.backing),
        env=env,
        passwords=passwords,
    )


def app_backup(prefix: str, app: str, spec: AppSpec) -> AppBackup | None:
    volumes = tuple(
        BackedUpVolume(role=v.role, volume_name=host_name(prefix, app, v.role), holds=v.holds)
        for v in spec.volumes
        if v.backup
    )
    excluded = tuple(
        ExcludedVolume(role=v.role, volume_name=host_name(prefix, app, v.role), reason=v.no_backup_reason or "")
        for v in spec.volumes
        if not v.backup
    )
    dumps = dumps_of(spec)
    if not volumes and not dumps:
        return None
    return AppBackup(
        app=app,
        kind=spec.kind,
        volumes=volumes,
        dumps=dumps,
        quiesce=quiesce_of(spec),
        excluded=excluded,
        backup_volume=backup_volume_name(prefix, app),
    )


def target_of(prefix: str, target: BackupTarget) -> Target:
    """The plan's target: plain facts, no credential (those go to the scheduler as files)."""
    if target.kind == "local":
        return LocalTarget(host_path=target.host_path, volume_name=target.volume)
    if target.kind == "s3":
        assert target.endpoint is not None and target.bucket is not None
        return S3Target(
            endpoint=target.endpoint, bucket=target.bucket, prefix=target.prefix or prefix, region=target.region
        )
    if target.kind == "sftp":
        assert target.user is not None and target.host is not None and target.path is not None
        return SftpTarget(user=target.user, host=target.host, port=target.port or SFTP_DEFAULT_PORT, path=target.path)
    assert target.url is not None
    return RestTarget(url=target.url)


def backup_plan(prefix: str, specs: Mapping[str, AppSpec], settings: BackupsSettings) -> BackupPlan:
    """Everything the stack backs up and how, in app-name order (deterministic)."""
    apps = tuple(backup for name in sorted(specs) if (backup := app_backup(prefix, name, specs[name])) is not None)
    return BackupPlan(
        stack=prefix,
        apps=apps,
        schedule=Schedule(
            time_of_day=settings.schedule.time,
            check_weekday=settings.schedule.check_weekday,
            check_read_subset=settings.schedule.check_read_subset,
        ),
        retention=Retention(
            keep_daily=settings.retention.keep_daily,
            keep_weekly=settings.retention.keep_weekly,
            keep_monthly=settings.retention.keep_monthly,
        ),
        target=target_of(prefix, settings.target),
    )


def plan_volume_names(plan: BackupPlan) -> list[str]:
    """The Docker volumes the Backups component makes: each app's backup volume, the scheduler's state,
    and a local target's volume; for the host to prepare with the others."""
    names = [app.backup_volume for app in plan.apps] + [state_volume_name(plan.stack)]
    if isinstance(plan.target, LocalTarget) and plan.target.volume_name is not None:
        names.append(plan.target.volume_name)
    return sorted(names)


def state_volume_name(prefix: str) -> str:
    return f"{prefix}-backup-state"


def scheduler_container_name(prefix: str) -> str:
    return f"{prefix}-backup"


def stack_state(prefix: str, app: str, spec: AppSpec) -> dict[str, str]:
    """Every Docker volume of the app that holds state -> how the plan covers it, for the coverage tests:
    ``volume`` (copied), ``dump:<role>`` (a backing service's volume, covered by its dump) or ``excluded``."""
    covered: dict[str, str] = {}
    for volume in spec.volumes:
        covered[host_name(prefix, app, volume.role)] = "volume" if volume.backup else "excluded"
    for backing in spec.backing:
        kind = registry.service_kind(backing)
        for name in registry.volume_names(backing, host_name(prefix, app, backing.role)):
            covered[name] = f"dump:{backing.role}" if kind.dump is not None else "uncovered"
    return covered
