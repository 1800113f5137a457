"""A MongoDB for one app: a single-member replica set with authentication, on that app's internal network.

Why a replica set: Rocket.Chat watches its collections with change streams, which MongoDB serves
only on replica-set members. Why these pieces (docker-library/mongo 8.0/Dockerfile and
docker-entrypoint.sh, MongoDB 8.0 manual):

- ``--keyFile``: a replica set with access control needs internal authentication, and a key file
  implies ``security.authorization``. The key is a generated 32-character password (letters and
  digits are base64 characters; 6 to 1024 allowed), uploaded 0400 and owned by uid 999, the
  image's ``mongodb`` user, which mongod must own it as (the entrypoint drops to it with gosu).
- No ``MONGO_INITDB_*`` variables and no ``/docker-entrypoint-initdb.d`` script: the entrypoint's
  first-start step would run only on an empty data directory (it skips when ``WiredTiger``,
  ``journal``, ``local.0`` or ``storage.bson`` exist), and a start that failed half-way would
  leave a data directory that is never initialised again. Instead the healthcheck runs
  ``templates/mongodb-ensure.js`` on every check: it initiates the set through the localhost
  exception, waits for the primary, creates the root user and then the app's user, each only if
  missing. So a first start, a restart on existing data and an interrupted first start converge
  alike, and the container is healthy (the app waits for that) only once both users exist.
- The member is ``localhost:27017``: it needs no name that resolves inside the container, and
  clients connect with ``directConnection=true`` (``connection``) so that they never try to
  reach the member under that name.
- ``--wiredTigerCacheSizeGB``: MongoDB's default (half of RAM minus 1 GB, at least 0.25 GB) is
  taken from the host's memory; in a container with a limit the manual asks for an explicit
  size. The same rule, applied to the container's limit.
- ``/etc/mongosh.conf``: the healthcheck's mongosh writes no log file per run and sends no
  telemetry (mongodb-js/mongosh packages/cli-repl/src/config-directory.ts ``getGlobalConfigPaths``,
  cli-repl.ts ``disableLogging``, ``forceDisableTelemetry``; at d5426f4).
- Only ``/data/db`` is a volume. The image also declares ``/data/configdb``, which only a sharded
  cluster's config server uses (the entrypoint's ``_dbPath``): it stays an anonymous volume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

import pulumi

from components.core import images
from components.core.container import Attachment, FileUpload, Healthcheck, Mount, ServiceSpec
from components.core.container import secret_file as secret_upload
from components.core.runtime import ENGINE, ServiceRuntime
from components.core.secrets import generated_password
from components.core.templating import templates_of
from components.core.volumes import StatePolicy, data_volume
from components.services.kinds import (
    DATA_VOLUME,
    BuiltService,
    Placement,
    ServiceKind,
    StateDump,
    standard_connection,
)
from components.services.spec import Backing, Connection

SERVICE_UID: Final = 999
"""The image's ``mongodb`` user and group (``groupadd --gid 999``, ``useradd --uid 999``)."""
PORT: Final = 27017
DATA_PATH: Final = "/data/db"
ROOT_USER: Final = "root"
PASSWORD_FILE: Final = "/run/secrets/mongo_password"
"""The app user's password."""
ROOT_PASSWORD_FILE: Final = "/run/secrets/mongo_root_password"
KEY_FILE: Final = "/run/secrets/mongo_keyfile"
ENSURE_SCRIPT: Final = "/usr/local/share/selfhost/mongodb-ensure.js"
MONGOSH_CONFIG_FILE: Final = "/etc/mongosh.conf"
MONGOSH_CONFIG: Final = "mongosh:\n  disableLogging: true\n  forceDisableTelemetry: true\n"
DEFAULT_REPLICA_SET: Final = "rs0"
MEMBER_HOST: Final = f"localhost:{PORT}"
PRIMARY_WAIT_MILLISECONDS: Final = 8000
"""Within the healthcheck's 10 s timeout; a later check goes on where this one stopped."""
APP_ROLES: Final = ("readWrite", "clusterMonitor")
"""``readWrite`` on the app's database; ``clusterMonitor`` on admin, which Rocket.Chat asks for to
read ``serverStatus`` (apps/meteor/app/utils/server/functions/getMongoInfo.ts prints the grant)."""
_LOCAL_URL: Final = f"mongodb://127.0.0.1:{PORT}/admin?directConnection=true&serverSelectionTimeoutMS=5000"
_TEMPLATES = templates_of(__file__)
GiB = 1024**3


def ensure_script(database: str, user: str, replica_set: str = DEFAULT_REPLICA_SET) -> str:
    """The healthcheck's script with its settings (no secret: only the paths of the password files)."""
    config = {
        "replicaSet": replica_set,
        "memberHost": MEMBER_HOST,
        "rootUser": ROOT_USER,
        "rootPasswordFile": ROOT_PASSWORD_FILE,
        "database": database,
        "user": user,
        "passwordFile": PASSWORD_FILE,
        "roles": [{"role": "readWrite", "db": database}, {"role": "clusterMonitor", "db": "admin"}],
        "primaryWaitMilliseconds": PRIMARY_WAIT_MILLISECONDS,
    }
    return _TEMPLATES.get_template("mongodb-ensure.js").render(config=json.dumps(config, indent=2, sort_keys=True))


def healthcheck_test() -> tuple[str, ...]:
    """mongosh with ``HOME=/tmp``: the image sets ``HOME=/data/db``, and mongosh keeps its config
    directory (``~/.mongodb/mongosh``) under HOME, which would put root-owned files on the data volume."""
    return ("CMD", "env", "HOME=/tmp", "mongosh", "--quiet", "--norc", _LOCAL_URL, ENSURE_SCRIPT)


def wired_tiger_cache_gb(memory_bytes: int) -> str:
    """MongoDB's default cache rule on the container's limit: max(0.25, (limit - 1 GiB) / 2), in GB."""
    size = max(0.25, (memory_bytes / GiB - 1) / 2)
    return f"{size:.2f}"


def server_command(replica_set: str, memory_bytes: int) -> tuple[str, ...]:
    return (
        "mongod",
        "--replSet",
        replica_set,
        "--keyFile",
        KEY_FILE,
        "--bind_ip_all",
        "--wiredTigerCacheSizeGB",
        wired_tiger_cache_gb(memory_bytes),
    )


def connection(backing: Backing) -> Connection:
    """How the app reaches its MongoDB: pure, from the app's request alone (the role is the host alias).

    The client must add ``url_options(backing)`` to its URL: the member's own name is
    ``localhost:27017``, which means nothing in the app's container, so it connects directly.
    """
    return standard_connection(PORT)(backing)


def replica_set(backing: Backing) -> str:
    value = backing.options.get("replica_set", DEFAULT_REPLICA_SET)
    if not isinstance(value, str):
        raise ValueError(f"mongodb backing {backing.role!r}: replica_set must be one name, not {value!r}")
    return value


def url_options(backing: Backing) -> str:
    """The query string every client of this MongoDB needs (see ``connection``)."""
    return f"replicaSet={replica_set(backing)}&directConnection=true"


@dataclass(frozen=True)
class MongoDBArgs:
    container_name: str
    volume_name: str
    network: pulumi.Input[str]
    """The app's internal network: the only one MongoDB joins."""
    database_name: str
    user: str
    memory_bytes: int
    host_alias: str = "mongo"
    state: StatePolicy = field(default_factory=StatePolicy)
    replica_set: str = DEFAULT_REPLICA_SET
    memory_reservation_bytes: int | None = None
    runtime: ServiceRuntime = ENGINE
    """What runs its container: one Docker engine, or a swarm (components/core/runtime.py)."""


class MongoDB(pulumi.ComponentResource):
    """Children: ``<name>-password`` (the app user's), ``<name>-root-password``, ``<name>-keyfile``
    (all protected with the stack's state), ``<name>-data`` (the volume on /data/db),
    ``<name>-image``, ``<name>-container``."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    database_name: pulumi.Output[str]
    user: pulumi.Output[str]
    password: pulumi.Output[str]
    root_password: pulumi.Output[str]
    volume_name: pulumi.Output[str]

    def __init__(self, name: str, args: MongoDBArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("selfhost:index:MongoDB", name, None, opts)
        protect = args.state.protect
        self.password = generated_password(f"{name}-password", parent=self, protect=protect)
        self.root_password = generated_password(f"{name}-root-password", parent=self, protect=protect)
        key = generated_password(f"{name}-keyfile", parent=self, protect=protect)
        volume = data_volume(f"{name}-data", args.volume_name, args.state, parent=self)
        args.runtime.run(
            f"{name}-container",
            ServiceSpec(
                container_name=args.container_name,
                image=images.pull(name, images.MONGODB, parent=self),
                memory_bytes=args.memory_bytes,
                memory_reservation_bytes=args.memory_reservation_bytes,
                networks=[Attachment(args.network, aliases=[args.host_alias])],
                mounts=[Mount(volume.name, DATA_PATH)],
                files=[
                    secret_upload(PASSWORD_FILE, self.password, SERVICE_UID),
                    secret_upload(ROOT_PASSWORD_FILE, self.root_password, SERVICE_UID),
                    secret_upload(KEY_FILE, key, SERVICE_UID),
                    FileUpload(ENSURE_SCRIPT, ensure_script(args.database_name, args.user, args.replica_set)),
                    FileUpload(MONGOSH_CONFIG_FILE, MONGOSH_CONFIG),
                ],
                command=list(server_command(args.replica_set, args.memory_bytes)),
                healthcheck=Healthcheck(test=healthcheck_test(), start_period="60s"),
                stop_grace_seconds=60,
            ),
            parent=self,
        )

        self.host = pulumi.Output.from_input(args.host_alias)
        self.port = pulumi.Output.from_input(PORT)
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
                "root_password": self.root_password,
                "volume_name": self.volume_name,
            }
        )


def build(resource_name: str, backing: Backing, placement: Placement) -> BuiltService:
    """The registry's builder (components/services/registry.py): ``MongoDB`` named after the placement."""
    if backing.database is None or backing.user is None:
        raise ValueError(f"{placement.container_name}: a mongodb backing service needs a database and a user")
    mongo = MongoDB(
        resource_name,
        MongoDBArgs(
            container_name=placement.container_name,
            volume_name=placement.volume_name(DATA_VOLUME),
            network=placement.network,
            database_name=backing.database,
            user=backing.user,
            memory_bytes=backing.memory,
            memory_reservation_bytes=backing.memory_reservation,
            host_alias=backing.role,
            state=placement.state,
            replica_set=replica_set(backing),
            runtime=placement.runtime,
        ),
        pulumi.ResourceOptions(parent=placement.parent),
    )
    return BuiltService(resource=mongo, password=mongo.password, volume_names=(mongo.volume_name,))


MONGODB = ServiceKind(
    port=PORT,
    connection=connection,
    build=build,
    volume_suffixes=(DATA_VOLUME,),
    dump=StateDump("mongodb", images.MONGODB, "archive"),
)
"""The registry's entry: ``"mongodb": mongodb.MONGODB``."""
