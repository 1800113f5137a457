"""A database server (MariaDB or Postgres) for one app, on that app's internal network."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi

from components.core import images
from components.core.container import Attachment, Healthcheck, Mount, ServiceSpec, secret_file
from components.core.runtime import ENGINE, ServiceRuntime
from components.core.secrets import generated_password
from components.core.volumes import StatePolicy, data_volume
from components.services.kinds import (
    DATA_VOLUME,
    BuiltService,
    Placement,
    ServiceKind,
    StateDump,
    standard_connection,
)
from components.services.spec import Backing

Engine = Literal["mariadb", "postgres"]
SERVICE_UID = 999
"""Both official images run the server as uid 999 (mysql / postgres)."""
PASSWORD_FILE = "/run/secrets/db_password"
"""Inside the database container; an app mounts its copy where its own client reads it."""
ROOT_PASSWORD_FILE = "/run/secrets/db_root_password"
PORTS: dict[Engine, int] = {"mariadb": 3306, "postgres": 5432}
IMAGES: dict[Engine, images.ImagePin] = {"mariadb": images.MARIADB, "postgres": images.POSTGRES}
DUMP_EXTENSIONS: dict[Engine, str] = {"mariadb": "sql", "postgres": "pgdump"}
"""``mariadb-dump`` writes SQL; ``pg_dump --format=custom`` its own archive format, which pg_restore reads."""

MARIADB_HEALTHCHECK = ("CMD", "healthcheck.sh", "--connect", "--innodb_initialized")
"""The image's own script (MariaDB/mariadb-docker 11.8/healthcheck.sh). ``--connect`` asks the
server for ``@@skip_networking`` over its socket and fails while it is 1: the entrypoint's
first-start server runs with ``--skip-networking`` (docker-entrypoint.sh,
``docker_temp_server_start``), so the temporary server never reports healthy."""


def postgres_healthcheck(user: str, database: str) -> tuple[str, ...]:
    """``pg_isready`` over TCP to 127.0.0.1, not the socket.

    The image's first-start server (initdb, then the init scripts) listens on its socket only:
    docker-library/postgres 18/*/docker-entrypoint.sh, ``docker_temp_server_start``, starts it
    with ``-c listen_addresses=''``. Over the socket pg_isready would report that temporary
    server ready, and dependants would start against a server about to restart; the final
    server listens on ``*`` (the image's postgresql.conf.sample). pg_isready does not
    authenticate, so no password is needed. Measured on PostgreSQL 18: tests/test_database_live.py.
    """
    return ("CMD", "pg_isready", "--host", "127.0.0.1", "--username", user, "--dbname", database)


@dataclass(frozen=True)
class DatabaseArgs:
    engine: Engine
    container_name: str
    volume_name: str
    network: pulumi.Input[str]
    """The app's internal network: the only one the database joins."""
    database_name: str
    user: str
    memory_bytes: int
    state: StatePolicy = field(default_factory=StatePolicy)
    server_args: Sequence[str] = ()
    """Extra server flags, e.g. MariaDB's --transaction-isolation=READ-COMMITTED for Nextcloud."""
    memory_reservation_bytes: int | None = None
    host_alias: str = "db"
    """Its DNS name on the app's network (the ``Backing.role``)."""
    runtime: ServiceRuntime = ENGINE
    """What runs its container: one Docker engine, or a swarm (components/core/runtime.py)."""


class Database(pulumi.ComponentResource):
    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database_name: pulumi.Output[str]
    user: pulumi.Output[str]
    password: pulumi.Output[str]
    volume_name: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:Database", name, None, opts)
        self.password = generated_password(f"{name}-password", parent=self, protect=args.state.protect)
        volume = data_volume(f"{name}-data", args.volume_name, args.state, parent=self)
        if args.engine == "mariadb":
            spec = self._mariadb(name, args, volume.name)
        else:
            spec = self._postgres(name, args, volume.name)
        args.runtime.run(f"{name}-container", spec, parent=self)

        self.host = pulumi.Output.from_input(args.host_alias)
        self.port = pulumi.Output.from_input(PORTS[args.engine])
        self.database_name = pulumi.Output.from_input(args.database_name)
        self.user = pulumi.Output.from_input(args.user)
        self.volume_name = volume.name
        self.register_outputs(
            {
                "host": self.host,
                "port": self.port,
                "database_name": self.database_name,
                "user": self.user,
                "password": self.password,
                "volume_name": self.volume_name,
            }
        )

    def _mariadb(self, name: str, args: DatabaseArgs, volume: pulumi.Input[str]) -> ServiceSpec:
        pin = images.MARIADB
        root_password = generated_password(f"{name}-root-password", parent=self, protect=args.state.protect)
        return ServiceSpec(
            container_name=args.container_name,
            image=images.pull(name, pin, parent=self),
            memory_bytes=args.memory_bytes,
            memory_reservation_bytes=args.memory_reservation_bytes,
            networks=[Attachment(args.network, aliases=[args.host_alias])],
            mounts=[Mount(volume, "/var/lib/mysql")],
            envs={
                "MARIADB_AUTO_UPGRADE": "1",
                "MARIADB_DATABASE": args.database_name,
                "MARIADB_USER": args.user,
                "MARIADB_PASSWORD_FILE": PASSWORD_FILE,
                "MARIADB_ROOT_PASSWORD_FILE": ROOT_PASSWORD_FILE,
            },
            files=[
                secret_file(PASSWORD_FILE, self.password, SERVICE_UID),
                secret_file(ROOT_PASSWORD_FILE, root_password, SERVICE_UID),
            ],
            command=["mariadbd", *args.server_args],
            healthcheck=Healthcheck(test=MARIADB_HEALTHCHECK),
            stop_grace_seconds=60,
        )

    def _postgres(self, name: str, args: DatabaseArgs, volume: pulumi.Input[str]) -> ServiceSpec:
        pin = images.POSTGRES
        return ServiceSpec(
            container_name=args.container_name,
            image=images.pull(name, pin, parent=self),
            memory_bytes=args.memory_bytes,
            memory_reservation_bytes=args.memory_reservation_bytes,
            networks=[Attachment(args.network, aliases=[args.host_alias])],
            mounts=[Mount(volume, images.postgres_data_path(pin))],
            envs={
                "POSTGRES_DB": args.database_name,
                "POSTGRES_USER": args.user,
                "POSTGRES_PASSWORD_FILE": PASSWORD_FILE,
            },
            files=[secret_file(PASSWORD_FILE, self.password, SERVICE_UID)],
            command=["postgres", *args.server_args],
            healthcheck=Healthcheck(test=postgres_healthcheck(args.user, args.database_name)),
            stop_grace_seconds=60,
        )


def _server_args(backing: Backing) -> tuple[str, ...]:
    value = backing.options.get("server_args", ())
    return (value,) if isinstance(value, str) else tuple(value)


def _builder(engine: Engine) -> ServiceKind:
    def build(resource_name: str, backing: Backing, placement: Placement) -> BuiltService:
        if backing.database is None or backing.user is None:
            raise ValueError(f"{placement.container_name}: a {engine} backing service needs a database and a user")
        database = Database(
            resource_name,
            DatabaseArgs(
                engine=engine,
                container_name=placement.container_name,
                volume_name=placement.volume_name(DATA_VOLUME),
                network=placement.network,
                database_name=backing.database,
                user=backing.user,
                memory_bytes=backing.memory,
                memory_reservation_bytes=backing.memory_reservation,
                state=placement.state,
                server_args=_server_args(backing),
                host_alias=backing.role,
                runtime=placement.runtime,
            ),
            pulumi.ResourceOptions(parent=placement.parent),
        )
        return BuiltService(resource=database, password=database.password, volume_names=(database.volume_name,))

    return ServiceKind(
        port=PORTS[engine],
        connection=standard_connection(PORTS[engine]),
        build=build,
        volume_suffixes=(DATA_VOLUME,),
        dump=StateDump(engine, IMAGES[engine], DUMP_EXTENSIONS[engine]),
    )


MARIADB = _builder("mariadb")
POSTGRES = _builder("postgres")
