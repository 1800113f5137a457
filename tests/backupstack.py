"""A stack's backup containers, for real, on this machine: the tier-3 backup tests, the docs test, the bench.

Two apps as the program would have them: ``blog`` (WordPress: a MariaDB 11.8 ``db``, the
``html`` volume) and ``cloud`` (Nextcloud: a PostgreSQL 18 ``db``, the ``html`` and ``data``
volumes, maintenance mode through ``php occ``, a stub here that records its calls). Every
container of components/backups is a ``tests.backupboxes.Box`` with the binds Docker would
give it; every volume is a directory under the test's ``tmp`` named like the Docker volume.
``describe()`` writes that mapping as JSON for tests/docker_shim.py, so the documented
``docker exec`` / ``docker run`` commands find the same containers and volumes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.backups import scripts
from components.backups.plan import (
    APP_BACKUP_DIR,
    LOCAL_REPOSITORY_DIR,
    SCHEDULER_STATE_DIR,
    SECRETS_DIR,
    AppBackup,
    BackedUpVolume,
    BackupPlan,
    DatabaseDump,
    LocalTarget,
    Quiesce,
    QuiesceMount,
    Retention,
    Schedule,
    scheduler_app_dir,
    scheduler_source_dir,
)
from components.core.images import MARIADB, NEXTCLOUD, POSTGRES
from tests.backupboxes import Bind, Box, Network, Process, owned_file, passwd_ids

PREFIX = "selfhost-dev"
"""The dev stack's prefix, so docs/backups.md's commands (written for dev) run here as written."""
REPOSITORY_VOLUME = f"{PREFIX}-backup-repository"
"""Pulumi.dev.yaml: ``backups.target`` is this local volume."""
PG_BIN = "/usr/lib/postgresql/18/bin"
DB_PASSWORD = "s3cr:et'\\\"pw"
"""Quotes, a colon and a backslash: what the dumpers must pass through their option files intact."""
OCC = ("php", "/var/www/html/occ")
STUB_PHP = """#!/bin/sh
# Test stub for `php /var/www/html/occ ...`: records each call, keeps the maintenance state.
printf '%s\\n' "$*" >>/occ-log/calls
case "$*" in
    *"maintenance:mode --on")
        [ ! -e /occ-log/fail-on ] || exit 1
        echo on >/occ-log/state ;;
    *"maintenance:mode --off") echo off >/occ-log/state ;;
esac
"""
BLOG_DUMP = DatabaseDump(
    role="db",
    engine="mariadb",
    image=MARIADB,
    host="blog-db",
    port=3306,
    user="wordpress",
    database="wordpress",
    password_file="/run/secrets/db-password",
    dump_file="db.sql",
)
CLOUD_DUMP = DatabaseDump(
    role="db",
    engine="postgres",
    image=POSTGRES,
    host="cloud-db",
    port=5432,
    user="nextcloud",
    database="nextcloud",
    password_file="/run/secrets/db-password",
    dump_file="db.pgdump",
)
QUIESCE = Quiesce(
    image=NEXTCLOUD,
    user="www-data",
    on=(*OCC, "maintenance:mode", "--on"),
    off=(*OCC, "maintenance:mode", "--off"),
    mounts=(QuiesceMount("html", "/var/www/html"),),
)


def plan(*, step_timeout: int = 60) -> BackupPlan:
    return BackupPlan(
        stack=PREFIX,
        apps=(
            AppBackup("blog", "wordpress", (BackedUpVolume("html", f"{PREFIX}-blog-html", "WordPress"),), (BLOG_DUMP,)),
            AppBackup(
                "cloud",
                "nextcloud",
                (
                    BackedUpVolume("html", f"{PREFIX}-cloud-html", "Nextcloud's code, config and apps"),
                    BackedUpVolume("data", f"{PREFIX}-cloud-data", "the users' files"),
                ),
                (CLOUD_DUMP,),
                QUIESCE,
            ),
        ),
        schedule=Schedule("03:30", 7, "100%", step_timeout_seconds=step_timeout),
        retention=Retention(),
        target=LocalTarget(volume_name=REPOSITORY_VOLUME),
    )


@dataclass
class Container:
    name: str
    binds: dict[str, tuple[str, bool]]
    """Path inside -> (volume name or host file, read-only)."""
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    busybox: bool = False


class BackupStack:
    """The volumes, the servers and the backup containers of one test stack under ``tmp``."""

    def __init__(
        self, root: Path, tmp: Path, *, step_timeout: int = 60, repository_password: str = "correct horse battery"
    ) -> None:
        self.root = root
        self.tmp = tmp
        self.network = Network()
        self.scratch = tmp / "scratch"
        self.scratch.mkdir(parents=True)
        self.repository_password = repository_password
        self.plan = plan(step_timeout=step_timeout)
        self.volumes: dict[str, Path] = {}
        self.repository = self.volume(REPOSITORY_VOLUME)
        self.processes: dict[str, Process] = {}
        self.stop_signals: dict[str, signal.Signals] = {}
        self.servers: dict[str, Box] = {}
        self.hosts = "127.0.0.1 localhost blog-db cloud-db\n"
        self.files = tmp / "files"
        self.files.mkdir()
        self.mysql = passwd_ids(root, "mysql")
        self.postgres = passwd_ids(root, "postgres")
        self.www = passwd_ids(root, "www-data")
        self.occ_log = tmp / "occ-log"
        self.occ_log.mkdir()
        os.chmod(self.occ_log, 0o777)
        self.containers = self._containers()

    # --- volumes and files ---------------------------------------------------------------------

    def volume(self, name: str) -> Path:
        if name not in self.volumes:
            path = self.tmp / "volumes" / name
            path.mkdir(parents=True)
            self.volumes[name] = path
        return self.volumes[name]

    def _file(self, name: str, text: str, owner: tuple[int, int], mode: int = 0o400) -> str:
        return str(owned_file(self.files / name, text, owner[0], owner[1], mode))

    def _containers(self) -> dict[str, Container]:
        plan = self.plan
        password = self._file("repository-password", self.repository_password, (0, 0))
        scheduler_binds: dict[str, tuple[str, bool]] = {
            SCHEDULER_STATE_DIR: (f"{PREFIX}-backup-state", False),
            LOCAL_REPOSITORY_DIR: (REPOSITORY_VOLUME, False),
            f"{SECRETS_DIR}/repository-password": (password, True),
            scripts.SCHEDULER_SCRIPT: (self._file("scheduler.sh", scripts.scheduler_script(plan), (0, 0), 0o555), True),
        }
        containers: dict[str, Container] = {}
        for app in plan.apps:
            backup_volume = f"{PREFIX}-{app.app}-backup"
            scheduler_binds[scheduler_app_dir(app.app)] = (backup_volume, False)
            for volume in app.volumes:
                scheduler_binds[scheduler_source_dir(app.app, volume.role)] = (volume.volume_name, True)
            for dump in app.dumps:
                owner = self.mysql if dump.engine == "mariadb" else self.postgres
                name = f"{PREFIX}-{app.app}-{dump.role}-dump"
                script = self._file(f"{name}.sh", scripts.dumper_script(app.app, dump), (0, 0), 0o555)
                containers[name] = Container(
                    name,
                    {
                        APP_BACKUP_DIR: (backup_volume, False),
                        dump.password_file: (self._file(f"{name}-password", DB_PASSWORD, owner), True),
                        scripts.HELPER_SCRIPT: (script, True),
                    },
                    user="mysql" if dump.engine == "mariadb" else "postgres",
                )
            if app.quiesce is not None:
                name = f"{PREFIX}-{app.app}-quiesce"
                script = self._file(f"{name}.sh", scripts.quiesce_script(app.app, app.quiesce), (0, 0), 0o555)
                binds = {
                    APP_BACKUP_DIR: (backup_volume, False),
                    scripts.HELPER_SCRIPT: (script, True),
                    "/usr/local/bin/php": (self._file("php", STUB_PHP, (0, 0), 0o555), True),
                    "/occ-log": (str(self.occ_log), False),
                }
                for mount in app.quiesce.mounts:
                    binds[mount.path] = (f"{PREFIX}-{app.app}-{mount.volume}", False)
                containers[name] = Container(name, binds, user=app.quiesce.user)
        containers[f"{PREFIX}-backup"] = Container(
            f"{PREFIX}-backup", scheduler_binds, env=scripts.repository_env(plan.target), busybox=True
        )
        return containers

    def bind_source(self, source: str) -> Path:
        return Path(source) if source.startswith("/") else self.volume(source)

    def box(self, name: str) -> Box:
        container = self.containers[name]
        return Box(
            self.root,
            self.network,
            self.scratch,
            {inside: Bind(self.bind_source(src), ro) for inside, (src, ro) in container.binds.items()},
            user=container.user,
            env=container.env,
            busybox=container.busybox,
            hosts=self.hosts,
        )

    def describe(self, path: Path) -> None:
        """The containers and volumes as JSON, for tests/docker_shim.py."""
        for container in self.containers.values():
            for source, _ in container.binds.values():
                self.bind_source(source)
        path.write_text(
            json.dumps(
                {
                    "root": str(self.root),
                    "network_pid": self.network.process.pid,
                    "scratch": str(self.scratch),
                    "hosts": self.hosts,
                    "volumes": {name: str(p) for name, p in self.volumes.items()},
                    "containers": {
                        c.name: {"binds": c.binds, "user": c.user, "env": c.env, "busybox": c.busybox}
                        for c in self.containers.values()
                    },
                    "events": str(self.tmp / "docker-events"),
                },
                indent=2,
            )
        )

    # --- the databases ---------------------------------------------------------------------------

    def start_mariadb(self, volume: str) -> Box:
        data = self.volume(volume)
        run = self.volume(f"{volume}-run")
        os.chown(data, *self.mysql)
        os.chown(run, *self.mysql)
        box = Box(
            self.root,
            self.network,
            self.scratch,
            {"/var/lib/mysql": Bind(data), "/run/mysqld": Bind(run)},
            hosts=self.hosts,
        )
        result = box.run(
            "mariadb-install-db",
            "--no-defaults",
            "--user=mysql",
            "--datadir=/var/lib/mysql",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
        )
        assert result.returncode == 0, result.stderr[-2000:]
        process = box.start(
            "mariadbd",
            "--no-defaults",
            "--user=mysql",
            "--datadir=/var/lib/mysql",
            "--socket=/run/mysqld/mysqld.sock",
            "--port=3306",
            "--bind-address=127.0.0.1",
            log=self.tmp / f"{volume}.log",
        )
        self.processes[volume] = process
        self.servers[volume] = box
        process.wait_until(lambda: self.mariadb_status(box) == 0, "mariadbd")
        self.mariadb(
            box,
            "create database wordpress; "
            f"create user 'wordpress'@'%' identified by {sql_string(DB_PASSWORD)}; "
            "grant all on wordpress.* to 'wordpress'@'%';",
        )
        return box

    @staticmethod
    def mariadb_status(box: Box) -> int:
        return box.run("mariadb", "--no-defaults", "--socket=/run/mysqld/mysqld.sock", "-e", "select 1").returncode

    @staticmethod
    def mariadb(box: Box, query: str) -> str:
        result = box.run(
            "mariadb",
            "--no-defaults",
            "--socket=/run/mysqld/mysqld.sock",
            "--user=root",
            "--batch",
            "--skip-column-names",
            "--default-character-set=utf8mb4",
            "-e",
            query,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def start_postgres(self, volume: str) -> Box:
        data = self.volume(volume)
        run = self.volume(f"{volume}-run")
        os.chown(data, *self.postgres)
        os.chmod(data, 0o700)
        os.chown(run, *self.postgres)
        box = Box(
            self.root,
            self.network,
            self.scratch,
            {"/var/lib/postgresql/data": Bind(data), "/run/postgresql": Bind(run)},
            user="postgres",
            hosts=self.hosts,
        )
        result = box.run(
            f"{PG_BIN}/initdb",
            "--no-sync",
            "--username=postgres",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-D",
            "/var/lib/postgresql/data",
        )
        assert result.returncode == 0, result.stderr[-2000:]
        process = box.start(
            f"{PG_BIN}/postgres",
            "-D",
            "/var/lib/postgresql/data",
            "-c",
            "listen_addresses=127.0.0.1",
            log=self.tmp / f"{volume}.log",
        )
        self.processes[volume] = process
        self.stop_signals[volume] = signal.SIGINT
        self.servers[volume] = box
        process.wait_until(lambda: box.run("test", "-S", "/run/postgresql/.s.PGSQL.5432").returncode == 0, "postgres")
        process.wait_until(lambda: self.psql_status(box, "select 1") == 0, "postgres")
        self.psql(box, f"create user nextcloud password {pg_string(DB_PASSWORD)}", database="postgres")
        self.psql(box, "create database nextcloud owner nextcloud", database="postgres")
        return box

    @staticmethod
    def psql_status(box: Box, query: str) -> int:
        return box.run("psql", "--no-psqlrc", "-U", "postgres", "-d", "postgres", "-c", query).returncode

    @staticmethod
    def psql(box: Box, query: str, *, database: str = "nextcloud", user: str = "postgres") -> str:
        result = box.run("psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", database, "-At", "-c", query)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def box_of_server(self, volume: str) -> Box:
        return self.servers[volume]

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.stop(self.stop_signals.pop(name, signal.SIGTERM))

    # --- the helpers -------------------------------------------------------------------------------

    def start_helpers(self) -> None:
        for name in self.containers:
            if name.endswith("-dump") or name.endswith("-quiesce"):
                self.start_helper(name)

    def start_helper(self, name: str) -> Process:
        process = self.box(name).start("/bin/sh", scripts.HELPER_SCRIPT, "loop", log=self.tmp / f"{name}.log")
        self.processes[name] = process
        return process

    def scheduler(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self.box(f"{PREFIX}-backup").run("/bin/sh", scripts.SCHEDULER_SCRIPT, *args, timeout=timeout)

    def status(self) -> Any:
        """status.json as the scheduler last wrote it."""
        return json.loads((self.volume(f"{PREFIX}-backup-state") / "status.json").read_text())

    def close(self) -> None:
        for name in list(self.processes):
            self.stop(name)
        self.network.close()


BLOG_ROWS = [(1, "Hello world", "first post"), (2, "Ünïcødé ✓", None), (3, "quote ' and \\ backslash", "x" * 5000)]


def write_data(stack: BackupStack, *, rows: int = 1000) -> None:
    """The test data set: rows in both databases, random files in the three volumes."""
    blog = stack.start_mariadb("blog-db-data")
    stack.mariadb(
        blog,
        "create table wordpress.posts (id int primary key, title varchar(200), body text) "
        "character set utf8mb4; "
        + " ".join(
            f"insert into wordpress.posts values ({i}, {sql_string(t)}, {sql_string(b) if b is not None else 'null'});"
            for i, t, b in BLOG_ROWS
        ),
    )
    cloud = stack.start_postgres("cloud-db-data")
    stack.psql(
        cloud,
        "create table files (id serial primary key, path text not null, size bigint, meta jsonb); "
        "insert into files (path, size, meta) select 'files/' || i || '.txt', i * 1024, "
        f"jsonb_build_object('n', i) from generate_series(1, {rows}) i; alter table files owner to nextcloud",
    )
    fill_volume(stack.volume(f"{PREFIX}-blog-html"), seed=1)
    fill_volume(stack.volume(f"{PREFIX}-cloud-html"), seed=2)
    fill_volume(stack.volume(f"{PREFIX}-cloud-data"), seed=3, files=60)


def blog_rows(stack: BackupStack, box: Box) -> str:
    return stack.mariadb(box, "select id, title, coalesce(body, 'NULL') from wordpress.posts order by id")


def cloud_rows(stack: BackupStack, box: Box) -> str:
    return stack.psql(box, "select id, path, size, meta::text from files order by id")


def sql_string(text: str) -> str:
    """A MariaDB string literal (backslash escapes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def pg_string(text: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings: a backslash is itself)."""
    return "'" + text.replace("'", "''") + "'"


def fill_volume(path: Path, seed: int, files: int = 40, size: int = 64 * 1024) -> None:
    """Files of random bytes in nested directories, a symlink, an empty file, a dotfile and an awkward name."""
    rng = random.Random(seed)
    for index in range(files):
        folder = path / f"dir{index % 5}" / f"sub{index % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file-{index}.bin").write_bytes(rng.randbytes(rng.randint(0, size)))
    (path / "empty").write_bytes(b"")
    (path / ".htaccess").write_text("# a dotfile: the restore's rm and cp must see it\n")
    (path / "name with spaces & 'quotes'.txt").write_text("hello\n")
    (path / "link").symlink_to("dir0/sub0/file-0.bin")
    os.chmod(path / "dir1", 0o750)


def tree(path: Path) -> dict[str, tuple[str, int, bytes]]:
    """Every entry under ``path``: kind, mode and content (a symlink's target)."""
    entries: dict[str, tuple[str, int, bytes]] = {}
    for entry in sorted(path.rglob("*")):
        relative = str(entry.relative_to(path))
        info = entry.lstat()
        if entry.is_symlink():
            entries[relative] = ("link", info.st_mode, os.readlink(entry).encode())
        elif entry.is_dir():
            entries[relative] = ("dir", info.st_mode, b"")
        else:
            entries[relative] = ("file", info.st_mode, entry.read_bytes())
    return entries
