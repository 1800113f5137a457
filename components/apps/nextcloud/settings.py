"""A Nextcloud app's settings: ``apps.<name>`` with ``kind: nextcloud``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from components.apps.nextcloud.countries import ISO_3166_ALPHA2
from components.core.fields import ConfigModel, HostName, MemorySize, upload_limit, user_name_problem
from components.core.memory import MiB, Reservation, effective_reservation

NEXTCLOUD_USER_MAX = 64
"""``IUser::MAX_USERID_LENGTH``, checked by ``Manager::validateUserId()``
(nextcloud/server, lib/private/User/Manager.php)."""
NEXTCLOUD_RESERVED_USERS = frozenset({"files_external", "owncloud.log", "nextcloud.log", "updater.log", "audit.log"})
"""Names of files in Nextcloud's data directory that ``Manager::verifyUid()`` refuses as user ids
(with ``.htaccess``, ``.ncdata``, ``__groupfolders`` and ``appdata_<instanceid>``, which the
first-character rule or the ``appdata_`` check below already refuse)."""
NEXTCLOUD_UPLOAD_MAX = 16 * 1024**3


def _check_nextcloud_user(value: str) -> str:
    problem = user_name_problem(value, NEXTCLOUD_USER_MAX)
    if problem:
        raise ValueError(problem)
    if value in NEXTCLOUD_RESERVED_USERS or value.startswith("appdata_"):
        raise ValueError(
            f"{value!r} is the name of a file in Nextcloud's data directory, which Nextcloud refuses as a "
            "user name; choose another, e.g. admin"
        )
    return value


def _check_phone_region(value: str) -> str:
    if value not in ISO_3166_ALPHA2:
        hint = f"; write it in capitals: {value.upper()!r}" if value.upper() in ISO_3166_ALPHA2 else ""
        raise ValueError(
            f"{value!r} is not an ISO 3166-1 alpha-2 country code (two capital letters, e.g. DE, FR, US){hint}"
        )
    return value


def _check_hour(value: int) -> int:
    if not 0 <= value <= 23:
        raise ValueError(f"{value} is not an hour of the day: use a whole number from 0 to 23 (UTC)")
    return value


NextcloudUploadLimit = Annotated[
    int,
    upload_limit(
        NEXTCLOUD_UPLOAD_MAX,
        "Nextcloud's clients upload large files in chunks, so this bounds single-request uploads only, "
        "which PHP spools to the container's /tmp on the server's root disk (16G is the figure of "
        "Nextcloud's admin manual for big files)",
    ),
]
NextcloudUser = Annotated[str, AfterValidator(_check_nextcloud_user)]


class NextcloudMemory(ConfigModel):
    """Memory limits of a Nextcloud app's containers."""

    app: MemorySize = Field(default=1024 * MiB, description="Nextcloud (Apache + PHP)")
    cron: MemorySize = Field(default=512 * MiB, description="its background-jobs container")
    database: MemorySize = Field(default=512 * MiB, description="its database")
    cache: MemorySize = Field(default=128 * MiB, description="its Redis")


class NextcloudMemoryReservation(Reservation):
    """What a Nextcloud app's containers need to run (Docker's memory reservation)."""

    app: MemorySize = Field(default=512 * MiB, description="Nextcloud (Apache + PHP)")
    cron: MemorySize = Field(default=128 * MiB, description="its background-jobs container")
    database: MemorySize = Field(default=256 * MiB, description="its database")
    cache: MemorySize = Field(default=128 * MiB, description="its Redis; unset: its memory.cache limit")


class NextcloudApp(ConfigModel):
    """A Nextcloud with its own database, Redis and background-jobs container."""

    kind: Literal["nextcloud"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name the proxy routes to this Nextcloud")
    admin_user: NextcloudUser = Field(default="admin", description="administrator's login name")
    database: Literal["postgres", "mariadb"] = Field(default="postgres", description="database engine")
    upload_limit: NextcloudUploadLimit = Field(
        default=16 * 1024**3, description="largest single-request upload (clients chunk larger files), at most 16Gi"
    )
    php_memory_limit: MemorySize = Field(default=512 * 1024**2, description="PHP memory_limit")
    default_phone_region: Annotated[str, AfterValidator(_check_phone_region)] = Field(
        default="DE",
        description="ISO 3166-1 alpha-2 country for phone numbers written without a country code",
    )
    maintenance_window_start: Annotated[int, AfterValidator(_check_hour)] = Field(
        default=1,
        description="hour (0-23, UTC) from which Nextcloud may run heavy background jobs, for four hours",
    )
    memory: NextcloudMemory = Field(default_factory=NextcloudMemory, description="memory limits of its containers")
    memory_reservation: NextcloudMemoryReservation = Field(
        default_factory=NextcloudMemoryReservation,
        description="memory its containers need to run (Docker's memory reservation); unset: at most the limit",
    )

    @property
    def reserved(self) -> NextcloudMemoryReservation:
        """The reservations its containers get (unset ones never above their limits)."""
        return effective_reservation(self.memory_reservation, self.memory)
