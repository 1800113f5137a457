"""What a stack backs up, as plain data: derived from the apps' specs, rendered into scripts.

The shape (issue 12). No container gets the Docker socket, and the schedule needs no engine:

- one **scheduler** container per stack, on the pinned restic image, runs a shell loop: at the
  scheduled time it asks each app to get ready, snapshots the app's volumes (mounted read-only)
  and its dumps into one restic repository, releases the app, applies retention, and once a
  week runs ``restic check`` on a subset of the data. It records the time, size and result of
  the last backup and the last check in a status file; its healthcheck turns unhealthy when the
  last success is older than twice the interval or the last run failed;
- per app with a database, one **dumper** container per database on that database's own image,
  on the app's internal network, holding that service's password as a file: asked, it dumps
  (``mariadb-dump --single-transaction``, ``pg_dump``, ``mongodump``) into the app's backup volume;
- per app that needs it (Nextcloud), one **quiesce** container on the app's own image and
  volumes that turns maintenance mode on before the dump and always back off after the snapshot,
  also when any step fails or times out;
- the scheduler and an app's helpers talk through files on that app's **backup volume**
  (``<prefix>-<app>-backup``: ``control/`` for requests and answers, ``dumps/`` for the dumps),
  mounted at ``APP_BACKUP_DIR`` in the app's helpers and at ``scheduler_app_dir(app)`` in the
  scheduler. So no helper can reach another app's files or network.

Contract between the plan (derived in components/backups/derive.py from the AppSpecs) and the
scripts (components/backups/scripts.py renders them from these types): change it only
additively, and say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from components.core.images import ImagePin

# --- the layout inside the containers -----------------------------------------------------------

APP_BACKUP_DIR = "/backup"
"""Where an app's dumper and quiesce containers mount the app's backup volume."""
CONTROL_SUBDIR = "control"
DUMPS_SUBDIR = "dumps"
SCHEDULER_APPS_DIR = "/backup/apps"
"""The scheduler mounts each app's backup volume at ``/backup/apps/<app>`` (read-write)."""
SCHEDULER_SOURCE_DIR = "/backup/source"
"""... and each of the app's data volumes at ``/backup/source/<app>/<role>`` (read-only)."""
SCHEDULER_STATE_DIR = "/backup/state"
"""The scheduler's own volume (``<prefix>-backup-state``): status file, restic cache."""
STATUS_FILE = "/backup/state/status.json"
LOCAL_REPOSITORY_DIR = "/backup/repository"
"""Where a local target (a host directory or a volume) is mounted in the scheduler."""
SCRIPTS_DIR = "/usr/local/lib/selfhost-backup"
"""Where the rendered scripts are uploaded in every backup container."""
SECRETS_DIR = "/run/secrets/selfhost-backup"
"""Where the repository password and the target's credentials are uploaded (0400) in the scheduler."""


def scheduler_app_dir(app: str) -> str:
    return f"{SCHEDULER_APPS_DIR}/{app}"


def scheduler_source_dir(app: str, role: str) -> str:
    return f"{SCHEDULER_SOURCE_DIR}/{app}/{role}"


# --- what is backed up ----------------------------------------------------------------------------

DumpEngine = Literal["mariadb", "postgres", "mongodb"]


@dataclass(frozen=True)
class DatabaseDump:
    """One database of an app, dumped by a container on the database's own image."""

    role: str
    """The backing service's role (``db``, ``mongo``): dumper container ``<prefix>-<app>-<role>-dump``."""
    engine: DumpEngine
    image: ImagePin
    host: str
    """The service's name on the app's internal network."""
    port: int
    user: str | None
    database: str | None
    password_file: str
    """Where the stack mounts the service's password (0400) inside the dumper."""
    dump_file: str
    """The dump's name under the app's ``dumps/`` (``db.sql``, ``db.pgdump``, ``mongo.archive``)."""


@dataclass(frozen=True)
class QuiesceMount:
    volume: str
    """The role of one of the app's volumes."""
    path: str


@dataclass(frozen=True)
class QuiescePassword:
    """A backing service's password that the app's config reads from a file at run time (Nextcloud's
    config/redis.config.php reads ``REDIS_HOST_PASSWORD_FILE``: nextcloud/docker 33/apache/config,
    at 4de1eed), uploaded (0400, owned by ``owner``) into the quiesce container. Added by bkstack."""

    path: str
    service: str
    """The backing service's role (``redis``)."""
    owner: int


@dataclass(frozen=True)
class Quiesce:
    """Commands that make an app's files and dumps consistent while its snapshot is taken
    (Nextcloud: ``occ maintenance:mode --on`` / ``--off``), run by a container on the app's image."""

    image: ImagePin
    user: str
    """``www-data``, ``33``: who runs the commands (occ refuses any user but the config's owner)."""
    on: tuple[str, ...]
    off: tuple[str, ...]
    mounts: tuple[QuiesceMount, ...]
    backend: bool = True
    """On the app's internal network (occ reads its database)."""
    env: Mapping[str, str] = field(default_factory=dict)
    """The app service's environment, which its config files read (``REDIS_HOST``...). Added by bkstack."""
    passwords: tuple[QuiescePassword, ...] = ()
    """Added by bkstack."""


@dataclass(frozen=True)
class BackedUpVolume:
    role: str
    """The app's volume role (``html``, ``data``)."""
    volume_name: str
    """The Docker volume's name on the host (``selfhost-dev-cloud-html``)."""
    holds: str


@dataclass(frozen=True)
class ExcludedVolume:
    """A volume of the app left out on purpose (``Volume.backup`` False), with the kind's reason. Added by bkstack."""

    role: str
    volume_name: str
    reason: str


@dataclass(frozen=True)
class AppBackup:
    app: str
    kind: str
    volumes: tuple[BackedUpVolume, ...]
    dumps: tuple[DatabaseDump, ...] = ()
    quiesce: Quiesce | None = None
    excluded: tuple[ExcludedVolume, ...] = ()
    """Added by bkstack: what is not in the backup and why, so the plan documents all of the app's state."""
    backup_volume: str = ""
    """``<prefix>-<app>-backup``: the Docker name of the app's backup volume. Added by bkstack."""


# --- when, how long, where --------------------------------------------------------------------------


@dataclass(frozen=True)
class Retention:
    """restic forget: ``--keep-daily 7 --keep-weekly 4 --keep-monthly 6`` by default (Nextcloud AIO's)."""

    keep_daily: int = 7
    keep_weekly: int = 4
    keep_monthly: int = 6


@dataclass(frozen=True)
class Schedule:
    time_of_day: str
    """``HH:MM``, UTC: the daily backup."""
    check_weekday: int
    """ISO weekday (1 = Monday) of the weekly ``restic check``, right after that day's backup."""
    check_read_subset: str
    """``restic check --read-data-subset``: ``5%``, ``1/7``."""
    interval_seconds: int = 86400
    """Between two backups: the healthcheck turns unhealthy after twice this without a success."""
    step_timeout_seconds: int = 1800
    """How long the scheduler waits for an app's helpers to answer before it fails that app's run."""


@dataclass(frozen=True)
class LocalTarget:
    """A host directory (``host_path``) or a Docker volume (``volume_name``) mounted at LOCAL_REPOSITORY_DIR."""

    host_path: str | None = None
    volume_name: str | None = None
    kind: Literal["local"] = "local"


@dataclass(frozen=True)
class S3Target:
    endpoint: str
    """``https://fsn1.your-objectstorage.com``."""
    bucket: str
    prefix: str
    region: str | None = None
    kind: Literal["s3"] = "s3"


@dataclass(frozen=True)
class SftpTarget:
    user: str
    host: str
    port: int
    path: str
    kind: Literal["sftp"] = "sftp"


@dataclass(frozen=True)
class RestTarget:
    url: str
    """``https://backup.example.com:8000/selfhost-prod/`` (no credentials in it)."""
    kind: Literal["rest"] = "rest"


Target = LocalTarget | S3Target | SftpTarget | RestTarget

CredentialName = Literal[
    "aws-access-key-id", "aws-secret-access-key", "ssh-private-key", "ssh-known-hosts", "rest-username", "rest-password"
]
"""The target's credential files under SECRETS_DIR, by target kind: s3 the two AWS keys; sftp the key
and known_hosts; rest the user name and password. The repository password is ``repository-password``."""


@dataclass(frozen=True)
class BackupPlan:
    stack: str
    """The name prefix (``selfhost-dev``): restic's ``--host``, so snapshots say which stack they are."""
    apps: tuple[AppBackup, ...]
    schedule: Schedule
    retention: Retention
    target: Target
