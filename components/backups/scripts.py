"""What runs inside the backup containers: the scripts rendered from a BackupPlan (templates/).

Three POSIX sh scripts, each a file the stack uploads into its container (``SCRIPTS_DIR``):

- ``scheduler.sh`` (scheduler_script) in the scheduler, on the restic image. That image
  (restic/restic, docker/Dockerfile.release at v0.19.1) is Alpine: busybox ``sh``, ``jq``,
  ``openssh-client``, restic at ``/usr/bin/restic``, no ``USER`` (root), and
  ``ENTRYPOINT ["/entrypoint.sh"]`` which runs restic with the command as its arguments, so the
  container needs ``entrypoint=["/bin/sh"]`` with ``scheduler_command()`` (SCHEDULER_ENTRYPOINT).
  restic/restic is the project's own image on Docker Hub, not a Docker official image (there is
  no ``library/restic`` in docker-library/official-images): it is pinned like the others.
- ``helper.sh`` (dumper_script) in each dumper, on the database's own image: MariaDB's image
  (MariaDB/mariadb-docker 11.8/Dockerfile: Ubuntu noble, ``mariadb-server`` with its client,
  ``mariadb-dump``; user ``mysql``), Postgres's (docker-library/postgres 18/trixie/Dockerfile:
  Debian, ``pg_dump`` on PATH via ``/usr/lib/postgresql/18/bin``, user ``postgres`` uid 999),
  Mongo's (docker-library/mongo 8.0/Dockerfile: Ubuntu noble, ``mongodb-org-tools`` with
  ``mongodump``; user ``mongodb`` uid 999). Run as the uid that owns the password file.
- ``helper.sh`` (quiesce_script) in the quiesce container on the app's image (nextcloud/docker
  33/apache: ``php /var/www/html/occ``, www-data is uid 33), as ``Quiesce.user``.

The protocol (no network between them, no Docker socket): files in the app's backup volume.
The scheduler writes ``control/<step>.request`` (the run's id and a deadline, atomically: temp
name, then rename); the helper that owns the step answers ``control/<step>.done`` (the same id,
then ``ok`` or ``failed: why``). Every helper touches ``control/<name>.alive`` each second: the
scheduler fails a step at once when that heartbeat is stale, and the helper's healthcheck is
that heartbeat. Steps: ``quiesce-on``, ``dump-<role>``, ``quiesce-off``. The quiesce helper
switches maintenance back off on ``quiesce-off``, at the deadline the scheduler gave, and when
it is stopped (trap), whichever comes first.

Modes (the script's first argument), the same in the container and in docs/backups.md:
``scheduler.sh [loop]`` waits for the daily time; ``once [check]`` runs one backup now (and the weekly
check if today is check day); ``check``; ``status``; ``next`` (seconds until the next run);
``health`` (the healthcheck);
``restic ARGS...`` (restic with the repository's credentials loaded from their files);
``restore APP [SNAPSHOT]`` (the app's snapshot into ``restore/`` of its backup volume).
``helper.sh [loop]``, ``health``, ``dump`` (dumper: one dump now), ``restore [FILE]`` (dumper:
load a dump into the database), ``on``/``off`` (quiesce).

Restic facts used (restic/restic at v0.19.1): exit code 10 means "repository does not exist"
(cmd/restic/main.go, ErrNoRepository), so ``restic init`` runs only then and never after another
error; ``backup --json`` ends with a ``summary`` line holding ``data_added`` and ``snapshot_id``
(internal/ui/backup/json.go); exit code 3 is an incomplete snapshot; ``RESTIC_PASSWORD_FILE``
(internal/global/global.go); ``RESTIC_REST_USERNAME``/``RESTIC_REST_PASSWORD`` apply when the URL
has no credentials (internal/backend/rest/config.go); ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION`` (internal/backend/s3); ``-o sftp.args`` is
appended to ``ssh HOST -p PORT -l USER`` (internal/backend/sftp/sftp.go buildSSHCommand);
``check --read-data-subset`` takes ``n/t``, ``x%`` or a size (cmd/restic/cmd_check.go).
"""

from __future__ import annotations

from typing import Final

from components.backups.plan import (
    APP_BACKUP_DIR,
    CONTROL_SUBDIR,
    DUMPS_SUBDIR,
    LOCAL_REPOSITORY_DIR,
    SCHEDULER_APPS_DIR,
    SCHEDULER_STATE_DIR,
    SECRETS_DIR,
    STATUS_FILE,
    AppBackup,
    BackupPlan,
    DatabaseDump,
    LocalTarget,
    Quiesce,
    RestTarget,
    S3Target,
    SftpTarget,
    Target,
    scheduler_app_dir,
    scheduler_source_dir,
)
from components.core.shell import shell_literal
from components.core.templating import templates_of

_TEMPLATES = templates_of(__file__)

SCHEDULER_SCRIPT: Final = "/usr/local/lib/selfhost-backup/scheduler.sh"
"""Where scheduler_script's text goes in the scheduler container (under plan.SCRIPTS_DIR)."""
HELPER_SCRIPT: Final = "/usr/local/lib/selfhost-backup/helper.sh"
"""Where dumper_script's or quiesce_script's text goes in a dumper or quiesce container."""
SCHEDULER_ENTRYPOINT: Final = ("/bin/sh",)
"""The restic image's entrypoint runs restic itself: the scheduler replaces it with the shell."""
REPOSITORY_PASSWORD_FILE: Final = f"{SECRETS_DIR}/repository-password"
RESTIC_CACHE_DIR: Final = f"{SCHEDULER_STATE_DIR}/cache"
RESTORE_SUBDIR: Final = "restore"
"""``restore APP`` puts the snapshot's files under the app's backup volume, in ``restore/``."""
POLL_SECONDS: Final = 1
"""How often helpers look for requests and the scheduler for answers."""
HEARTBEAT_STALE_SECONDS: Final = 30
"""A helper whose heartbeat is older than this is not running: its step fails at once."""


def scheduler_command() -> tuple[str, ...]:
    """The scheduler container's command (with SCHEDULER_ENTRYPOINT): the daily loop."""
    return (SCHEDULER_SCRIPT, "loop")


def helper_command() -> tuple[str, ...]:
    """A dumper's or quiesce container's command (entrypoint ``/bin/sh``: the images' entrypoints
    would start a database server or Apache)."""
    return (HELPER_SCRIPT, "loop")


def dump_step(dump: DatabaseDump) -> str:
    return f"dump-{dump.role}"


def dumper_name(dump: DatabaseDump) -> str:
    return f"{dump.role}-dump"


QUIESCE_NAME: Final = "quiesce"


def repository_url(target: Target) -> str:
    """``RESTIC_REPOSITORY`` for a target (restic's doc/030_preparing_a_new_repo.rst: ``s3:``,
    ``sftp://user@host:port//absolute``, ``rest:``)."""
    if isinstance(target, LocalTarget):
        return LOCAL_REPOSITORY_DIR
    if isinstance(target, S3Target):
        prefix = target.prefix.strip("/")
        return f"s3:{target.endpoint.rstrip('/')}/{target.bucket}" + (f"/{prefix}" if prefix else "")
    if isinstance(target, SftpTarget):
        return f"sftp://{target.user}@{target.host}:{target.port}/{target.path}"
    if isinstance(target, RestTarget):
        return f"rest:{target.url}"
    raise TypeError(f"unknown backup target {target!r}")


def repository_env(target: Target) -> dict[str, str]:
    """The scheduler's environment for restic: nothing secret. The password and the target's
    credentials stay files under SECRETS_DIR, read by scheduler.sh when it runs restic."""
    env = {
        "RESTIC_REPOSITORY": repository_url(target),
        "RESTIC_PASSWORD_FILE": REPOSITORY_PASSWORD_FILE,
        "RESTIC_CACHE_DIR": RESTIC_CACHE_DIR,
    }
    if isinstance(target, S3Target) and target.region:
        env["AWS_DEFAULT_REGION"] = target.region
    return env


def _sftp_args() -> str:
    """ssh options for ``-o sftp.args``: the uploaded key and known_hosts, no prompt, host key checked."""
    return (
        f"-i {SECRETS_DIR}/ssh-private-key -o UserKnownHostsFile={SECRETS_DIR}/ssh-known-hosts "
        "-o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes"
    )


def _app_view(app: AppBackup) -> dict[str, object]:
    return {
        "name": app.app,
        "kind": app.kind,
        "dir": scheduler_app_dir(app.app),
        "sources": [scheduler_source_dir(app.app, volume.role) for volume in app.volumes],
        "dumps": [{"step": dump_step(dump), "helper": dumper_name(dump), "file": dump.dump_file} for dump in app.dumps],
        "quiesce": app.quiesce is not None,
    }


def scheduler_script(plan: BackupPlan) -> str:
    """The scheduler's script: the daily loop, one-shot runs, status, health, restic, restore."""
    return _TEMPLATES.get_template("scheduler.sh.j2").render(
        plan=plan,
        apps=[_app_view(app) for app in plan.apps],
        env=repository_env(plan.target),
        target_kind=plan.target.kind,
        local_repository=LOCAL_REPOSITORY_DIR,
        secrets_dir=SECRETS_DIR,
        sftp_args=_sftp_args(),
        status_file=STATUS_FILE,
        state_dir=SCHEDULER_STATE_DIR,
        apps_dir=SCHEDULER_APPS_DIR,
        control=CONTROL_SUBDIR,
        dumps=DUMPS_SUBDIR,
        restore=RESTORE_SUBDIR,
        poll=POLL_SECONDS,
        stale=HEARTBEAT_STALE_SECONDS,
        script=SCHEDULER_SCRIPT,
    )


def dumper_script(app: str, dump: DatabaseDump) -> str:
    """One database's dumper: on request, a consistent dump into ``dumps/`` (temp name, fsync, rename)."""
    if dump.engine == "postgres" and dump.database is None:
        raise ValueError(f"backups of {app}: the postgres dump of {dump.role!r} needs a database name")
    return _TEMPLATES.get_template("dumper.sh.j2").render(
        app=app,
        dump=dump,
        step=dump_step(dump),
        name=dumper_name(dump),
        backup_dir=APP_BACKUP_DIR,
        control=CONTROL_SUBDIR,
        dumps=DUMPS_SUBDIR,
        restore_file=f"{APP_BACKUP_DIR}/{RESTORE_SUBDIR}{scheduler_app_dir(app)}/{DUMPS_SUBDIR}/{dump.dump_file}",
        poll=POLL_SECONDS,
        stale=HEARTBEAT_STALE_SECONDS,
    )


def quiesce_script(app: str, quiesce: Quiesce) -> str:
    """The quiesce helper: ``on`` before the dumps, ``off`` after the snapshot, and ALWAYS off in the
    end: on request, at the deadline the scheduler set, or when the container stops."""
    return _TEMPLATES.get_template("quiesce.sh.j2").render(
        app=app,
        on=_command(quiesce.on),
        off=_command(quiesce.off),
        name=QUIESCE_NAME,
        backup_dir=APP_BACKUP_DIR,
        control=CONTROL_SUBDIR,
        poll=POLL_SECONDS,
        stale=HEARTBEAT_STALE_SECONDS,
    )


def _command(argv: tuple[str, ...]) -> str:
    if not argv:
        raise ValueError("a quiesce command cannot be empty")
    return " ".join(shell_literal(word) for word in argv)


def scheduler_healthcheck(plan: BackupPlan) -> tuple[str, ...]:
    """Unhealthy when a run or a check since the scheduler started failed, or when neither the last success
    nor the scheduler's start is within twice the interval. Results from before the start (the status is on
    the kept state volume) do not count: a new scheduler is healthy until its first run."""
    return ("CMD", "/bin/sh", SCHEDULER_SCRIPT, "health")


def helper_healthcheck() -> tuple[str, ...]:
    """Healthy while the helper's loop touches its heartbeat."""
    return ("CMD", "/bin/sh", HELPER_SCRIPT, "health")
