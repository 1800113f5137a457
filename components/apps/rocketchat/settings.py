"""The settings of a Rocket.Chat app (``kind: rocketchat``).

Memory defaults, per container (not measured here: no image can be pulled on this machine):

- Rocket.Chat (Node 22 running Meteor, plus the Apps-Engine's Deno runtime the image ships,
  RocketChat/Docker.Official.Image 8.5/Dockerfile): reservation 1Gi, limit 2Gi. Rocket.Chat's own
  readiness probe reports unhealthy at 85% of the V8 heap (apps/meteor/server/routes/health.ts):
  the limit leaves the heap room to grow past the reservation.
- Its MongoDB: reservation 512Mi, limit 1Gi. At 1Gi the WiredTiger cache is MongoDB's minimum,
  0.25 GB (components/services/mongodb.py applies MongoDB's default rule to the container's limit),
  plus mongod itself and the healthcheck's mongosh, a Node process started for every check.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from components.core.fields import ConfigModel, EmailAddress, HostName, MemorySize, email_problem, upload_limit
from components.core.memory import Reservation, effective_reservation

MiB = 1024**2
ROCKETCHAT_USER = re.compile(r"[0-9A-Za-z_.-]{1,64}")
"""Rocket.Chat checks ADMIN_USERNAME against ``UTF8_User_Names_Validation`` (default
``[0-9a-zA-Z-_.]+``, apps/meteor/server/settings/general.ts) and silently falls back to ``admin``
when it does not match (apps/meteor/server/startup/initialData.ts); the length bound is ours."""
RESERVED_USERS = frozenset({"all", "here", "rocket.cat"})
"""``all`` and ``here`` are always blocked (checkUsernameAvailability.ts, case-insensitive);
``rocket.cat`` is the bot Rocket.Chat creates before the admin (initialData.ts)."""
UPLOAD_DEFAULT = 100 * MiB
"""Rocket.Chat's own default ``FileUpload_MaxFileSize``, 104857600 (apps/meteor/server/settings/file-upload.ts)."""
UPLOAD_MAX = 1024 * MiB


def _check_user(value: str) -> str:
    if not ROCKETCHAT_USER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a Rocket.Chat user name: use 1-64 letters, digits, '.', '_' or '-' "
            "(Rocket.Chat would silently ignore it and name the administrator 'admin')"
        )
    if value.lower() in RESERVED_USERS:
        raise ValueError(f"{value!r} is reserved by Rocket.Chat (all, here, rocket.cat); choose another, e.g. admin")
    return value


RocketChatUser = Annotated[str, AfterValidator(_check_user)]
RocketChatUploadLimit = Annotated[
    int,
    upload_limit(
        UPLOAD_MAX,
        "Rocket.Chat keeps uploads in MongoDB (GridFS, its default storage) and the proxy spools each upload "
        "to its own disk first",
    ),
]


class RocketChatMemory(ConfigModel):
    """Memory limits of a Rocket.Chat app's containers."""

    app: MemorySize = Field(default=2048 * MiB, description="Rocket.Chat (Node)")
    mongo: MemorySize = Field(default=1024 * MiB, description="its MongoDB")


class RocketChatMemoryReservation(Reservation):
    """What a Rocket.Chat app's containers need to run (Docker's memory reservation)."""

    follows_limit: ClassVar[frozenset[str]] = frozenset()

    app: MemorySize = Field(default=1024 * MiB, description="Rocket.Chat (Node)")
    mongo: MemorySize = Field(default=512 * MiB, description="its MongoDB")


class RocketChatApp(ConfigModel):
    """Rocket.Chat with its own MongoDB (a single-member replica set)."""

    kind: Literal["rocketchat"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name the proxy routes to this Rocket.Chat")
    admin_user: RocketChatUser = Field(default="admin", description="first administrator's user name")
    admin_email: EmailAddress | None = Field(
        default=None, description="first administrator's e-mail; default admin@<hostname>"
    )
    upload_limit: RocketChatUploadLimit = Field(
        default=UPLOAD_DEFAULT,
        description="largest file upload (Rocket.Chat's FileUpload_MaxFileSize, the proxy's body limit), at most 1Gi",
    )
    memory: RocketChatMemory = Field(default_factory=RocketChatMemory, description="memory limits of its containers")
    memory_reservation: RocketChatMemoryReservation = Field(
        default_factory=RocketChatMemoryReservation,
        description="memory its containers need to run (Docker's memory reservation); unset: at most the limit",
    )

    @property
    def reserved(self) -> RocketChatMemoryReservation:
        """The reservations its containers get: an unset one is its default, never above its limit."""
        return effective_reservation(self.memory_reservation, self.memory)

    @property
    def default_admin_email(self) -> str:
        return f"admin@{self.hostname}"

    @property
    def effective_admin_email(self) -> str:
        return self.admin_email or self.default_admin_email

    @model_validator(mode="after")
    def _default_email_valid(self) -> RocketChatApp:
        if self.admin_email is None and email_problem(self.default_admin_email):
            raise ValueError(
                f"adminEmail: the default, {self.default_admin_email!r}, is not an address the shared e-mail rule "
                "accepts (it needs a letter-only top-level label and at most 100 characters); set adminEmail"
            )
        return self
