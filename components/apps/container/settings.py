"""Settings of a ``container`` app: any image, the lab's plain ``docker run`` case.

Every rule here is checked before any resource is registered; messages name the key's last
part first (``path: ...``) when a check spans fields, so the config loader puts it in the path
(``selfhost:apps.tool.healthcheck.path: ...``). Secret values never appear in a message.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, ClassVar, Final, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator

from components.core.container import NO_ENV_IN_LOGS
from components.core.durations import SECOND, healthcheck_duration_problem, nanoseconds
from components.core.fields import APP_NAME, ConfigModel, HostName, MemorySize, Port, upload_limit
from components.core.image_reference import ImageReferenceError, parse_image_reference
from components.core.images import ImagePin
from components.core.memory import Reservation, effective_reservation
from components.core.secret_names import SECRET_FLAG, plain_secret_variable_problem

MiB: Final = 1024**2
KIND: Final = "container"
SECRETS_DIR: Final = "/run/secrets"
"""Where each secret is a file (``/run/secrets/<name in lower case>``); no volume may cover it."""
DEFAULT_READ_TIMEOUT: Final = 60
DEFAULT_WEBSOCKET_READ_TIMEOUT: Final = 3600
"""An idle WebSocket stays open this long without a frame (nginx closes it after the read timeout)."""
BODY_LIMIT_MAX: Final = 16 * 1024**3
READ_TIMEOUT_MAX: Final = 24 * 3600

ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
"""POSIX's portable variable names (letters, digits, ``_``, not starting with a digit; POSIX.1-2017
XBD 8.1), lower case allowed as Docker allows it, at most 128 characters."""
ENV_NAME_HELP: Final = "1-128 letters, digits and '_', not starting with a digit, e.g. LOG_LEVEL"
RESERVED_ENV: Final = frozenset({NO_ENV_IN_LOGS})
"""Set by the stack itself (components/core/container.py: the log options name it)."""

_NUMERIC_USER = re.compile(r"(?P<uid>[0-9]{1,10})(?::(?P<gid>[0-9]{1,10}))?")
_NAMED_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}(?::[a-z_][a-z0-9_-]{0,31})?")
"""Debian's useradd NAME_REGEX (``[a-z_][-a-z0-9_]*``, 32 characters at most) for a user and a group."""
ID_MAX: Final = 2**31 - 1
USER_HELP = "a uid, uid:gid (e.g. 1000 or 1000:1000), or a user name from the image (e.g. node or node:node)"

_PATH_COMPONENT = re.compile(r"[A-Za-z0-9._@+-]+")
_URL_PATH = re.compile(r"/[A-Za-z0-9._~!&'()*+,;=:@%/?-]*")
"""An HTTP request target: RFC 3986 path and query characters (all but the dollar sign), starting with '/'."""


# --- memory ------------------------------------------------------------------------------


class ContainerMemory(ConfigModel):
    """Memory limit of a container app's one container."""

    app: MemorySize = Field(default=256 * MiB, description="the container")


class ContainerMemoryReservation(Reservation):
    """What the container needs to run (Docker's memory reservation)."""

    follows_limit: ClassVar[frozenset[str]] = frozenset()
    """None: an unset reservation is the default, capped at the limit."""

    app: MemorySize = Field(default=64 * MiB, description="the container; unset: 64Mi, at most memory.app")


# --- field rules ---------------------------------------------------------------------------


def _check_image(value: str) -> str:
    """A reference Docker accepts, that names a version: refused untagged and ``latest`` unless pinned by digest."""
    try:
        reference = parse_image_reference(value)
    except ImageReferenceError as error:
        raise ValueError(str(error)) from None
    if reference.digest is None:
        why = (
            "so the image is whatever was pushed last: a new server or an imageRefresh may run another version "
            "than the one tested, which is not reproducible"
        )
        if reference.tag is None:
            raise ValueError(
                f"{value!r} has no tag: Docker would pull 'latest', {why}; name a version tag "
                f"(e.g. {reference.familiar_name}:1.2.3) or pin a digest ({reference.familiar_name}@sha256:<digest>)"
            )
        if not any(char.isdigit() for char in reference.tag):
            # The policy pack's rule too (policy/rules.py images_pinned): a tag without a digit names no version.
            raise ValueError(
                f"{value!r}: tag {reference.tag!r} names no version (latest, stable, lts, alpine and other tags "
                f"without a digit move), {why}; name a version tag (e.g. {reference.familiar_name}:1.2.3) or "
                f"add the digest it runs at ({value}@sha256:<digest>)"
            )
    return str(reference)


def _check_env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name: use {ENV_NAME_HELP}")
    if value in RESERVED_ENV:
        raise ValueError(f"{value!r} is reserved: the stack's log options name it so that no environment is logged")
    return value


def _env_problem(value: object) -> str | None:
    """Plain values: strings only (a YAML number or boolean is quoted, so what reaches the container is plain)."""
    if not isinstance(value, dict):
        return None  # pydantic refuses it as "must be an object"
    for name, text in value.items():
        if not isinstance(text, str):
            return (
                f"env: {name}: {text!r} is not a string; quote it in the stack file ({name}: {str(text)!r}): "
                "environment values are text"
            )
        if "\x00" in text:
            return f"env: {name}: holds a NUL character, which no environment value can hold"
        secret_like = plain_secret_variable_problem(str(name), text)
        if secret_like is not None:
            return (
                f"env: {name}: {secret_like}: put the value under secrets instead (`pulumi config set --secret "
                f"--path 'apps.<app>.secrets.{name}' <value>`): the container then reads it from a file named by "
                f"{name}_FILE, for images that support it"
            )
    return None


def _secrets_problem(value: object) -> str | None:
    """Names as in ``env``; values strings, never shown: pydantic's own errors would print the input."""
    if not isinstance(value, dict):
        return "secrets: must be an object (a YAML map) of NAME: value, each set with --secret --path"
    for name, secret in value.items():
        if not isinstance(secret, str):
            return (
                f"secrets: {name}: is not a string; set it with `pulumi config set --secret --path "
                f"'apps.<app>.secrets.{name}' <value>`"
            )
        if "\x00" in secret:
            return f"secrets: {name}: holds a NUL character"
    return None


def _check_volume_path(value: str) -> str:
    parts = value.split("/")[1:]
    if not value.startswith("/") or value == "/" or posixpath.normpath(value) != value:
        raise ValueError(
            f"{value!r} is not a normalised absolute path: write it as /a/b (no trailing '/', no '//', '.' or '..'), "
            "and not / itself"
        )
    if not all(_PATH_COMPONENT.fullmatch(part) for part in parts):
        raise ValueError(f"{value!r}: a path holds letters, digits and . _ @ + - between its slashes")
    if value in ("/run", SECRETS_DIR) or value.startswith(SECRETS_DIR + "/"):
        raise ValueError(
            f"{value!r} would hold the secret files ({SECRETS_DIR}/<name>): they would be written onto the volume, "
            "on disk and in every backup; mount the volume elsewhere"
        )
    return value


def _check_volume_name(value: str) -> str:
    if not APP_NAME.fullmatch(value):
        raise ValueError(
            f"volume name {value!r} is not allowed: use 1-20 lower-case letters and digits, starting with a letter "
            "(it becomes part of the Docker volume's name, <project>-<stack>-<app>-<volume>)"
        )
    if value == "backup":
        raise ValueError(
            "volume name 'backup' is taken: <project>-<stack>-<app>-backup is the app's backup volume "
            "(dumps for the stack's backups); choose another name"
        )
    return value


def _check_user(value: str) -> str:
    numeric = _NUMERIC_USER.fullmatch(value)
    if numeric:
        if any(int(part) > ID_MAX for part in numeric.groups() if part is not None):
            raise ValueError(f"{value!r}: a uid or gid is at most {ID_MAX}")
        return value
    if not _NAMED_USER.fullmatch(value):
        raise ValueError(f"{value!r} is not a user: write {USER_HELP}")
    return value


def _check_arguments(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("is empty: leave the key out to keep the image's own, or list the program and its arguments")
    if not value[0]:
        raise ValueError("the first element (the program) is empty")
    if any("\x00" in argument for argument in value):
        raise ValueError("an argument holds a NUL character, which no program argument can hold")
    for argument in value:
        if SECRET_FLAG.fullmatch(argument):
            flag = argument.split("=", 1)[0]
            raise ValueError(
                f"{flag} passes a secret on the command line, where `ps` and `docker inspect` show it: give the "
                "program the secret as a file (secrets) if it reads one"
            )
    return value


def _check_duration(value: str) -> str:
    problem = healthcheck_duration_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _check_read_timeout(value: str) -> str:
    total = nanoseconds(value)
    if total % SECOND or not SECOND <= total <= READ_TIMEOUT_MAX * SECOND:
        raise ValueError(f"{value!r}: write whole seconds from 1s to 24h (nginx's proxy_read_timeout), e.g. 60s or 1h")
    return value


def _check_url_path(value: str) -> str:
    if not _URL_PATH.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an HTTP path: start it with '/' and use URL characters only (no spaces), e.g. /health"
        )
    return value


Image = Annotated[str, AfterValidator(_check_image)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
VolumeName = Annotated[str, AfterValidator(_check_volume_name)]
VolumePath = Annotated[str, AfterValidator(_check_volume_path)]
Arguments = Annotated[list[str], AfterValidator(_check_arguments)]
Duration = Annotated[str, AfterValidator(_check_duration)]


# --- healthcheck ---------------------------------------------------------------------------


class ContainerHealthcheck(ConfigModel):
    """How Docker knows the container is ready: an HTTP path (needs curl in the image) or a command."""

    path: Annotated[str, AfterValidator(_check_url_path)] | None = Field(
        default=None,
        description="HTTP path that answers a non-error status on the container's port (runs curl in the image)",
    )
    command: list[str] | None = Field(
        default=None,
        description=(
            "a Docker healthcheck test instead: ['CMD', program, args...] or ['CMD-SHELL', 'a shell command'], "
            "for images without curl"
        ),
    )
    interval: Duration = Field(default="30s", description="time between checks (Go duration)")
    timeout: Duration = Field(default="10s", description="time one check may take (Go duration)")
    retries: int = Field(default=5, ge=1, le=100, description="failed checks in a row that make it unhealthy")
    start_period: Duration = Field(
        default="60s", description="time to start during which failures do not count (Go duration)"
    )

    @model_validator(mode="after")
    def _one_test(self) -> ContainerHealthcheck:
        if (self.path is None) == (self.command is None):
            raise ValueError(
                "path: set either path (an HTTP path, e.g. /health, checked with curl inside the image) or "
                "command (e.g. ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://localhost:8080/health'] for an "
                "image without curl), not both and not neither"
            )
        if self.command is not None:
            test = self.command
            if not test or test[0] not in ("CMD", "CMD-SHELL"):
                raise ValueError(
                    "command: must start with 'CMD' (then the program and its arguments) or 'CMD-SHELL' (then one "
                    "shell command line), as Docker's HEALTHCHECK does"
                )
            if test[0] == "CMD" and (len(test) < 2 or not test[1]):
                raise ValueError("command: 'CMD' needs the program to run after it, e.g. ['CMD', 'pg_isready']")
            if test[0] == "CMD-SHELL" and (len(test) != 2 or not test[1].strip()):
                raise ValueError("command: 'CMD-SHELL' takes exactly one shell command line after it")
            if any("\x00" in part for part in test):
                raise ValueError("command: an argument holds a NUL character")
        return self


# --- the app -------------------------------------------------------------------------------


class ContainerApp(ConfigModel):
    """Any image, routed by host name on its internal port: the ``docker run`` case."""

    kind: Literal["container"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name the proxy routes to this container")
    image: Image = Field(
        description=(
            "image reference with a version tag or a digest (e.g. ghcr.io/owner/app:2.4.1); never latest or untagged"
        )
    )
    port: Port = Field(description="port the container listens on inside the edge network (never published)")
    healthcheck: ContainerHealthcheck = Field(
        description="{path: /health} (HTTP, needs curl in the image) or {command: ['CMD', ...]}"
    )
    env: dict[EnvName, str] = Field(
        default_factory=dict, description="plain environment variables (NAME: value); never secrets"
    )
    secrets: dict[EnvName, SecretStr] = Field(
        default_factory=dict,
        description=(
            "NAME: value set with `pulumi config set --secret --path 'apps.<app>.secrets.NAME' ...`; each becomes "
            "the file /run/secrets/<name> and the variable NAME_FILE (for images that read *_FILE)"
        ),
    )
    volumes: dict[VolumeName, VolumePath] = Field(
        default_factory=dict,
        description="named volumes and where they are mounted (name: /container/path); retained and protected",
    )
    command: Arguments | None = Field(default=None, description="arguments replacing the image's CMD")
    entrypoint: Arguments | None = Field(default=None, description="program and arguments replacing its ENTRYPOINT")
    user: Annotated[str, AfterValidator(_check_user)] | None = Field(
        default=None, description=f"user to run as: {USER_HELP}; unset: the image's"
    )
    websocket: bool = Field(default=False, description="the app upgrades connections to WebSocket")
    read_timeout: Annotated[str, AfterValidator(_check_read_timeout)] | None = Field(
        default=None,
        description="how long the proxy waits for a response or a frame (Go duration); unset: 60s, 1h with websocket",
    )
    body_limit: Annotated[int, upload_limit(BODY_LIMIT_MAX, "the proxy buffers request bodies to its own disk")] = (
        Field(default=16 * MiB, description="largest request body the proxy passes on, at most 16Gi")
    )
    memory: ContainerMemory = Field(default_factory=ContainerMemory, description="memory limit of its container")
    memory_reservation: ContainerMemoryReservation = Field(
        default_factory=ContainerMemoryReservation,
        description="memory its container needs to run (Docker's memory reservation); unset: at most the limit",
    )

    @model_validator(mode="before")
    @classmethod
    def _plain_maps(cls, data: object) -> object:
        """``env`` and ``secrets`` checked before pydantic sees them, so no message shows a secret's value."""
        if isinstance(data, dict):
            problem = _env_problem(data.get("env"))
            if problem is None and "secrets" in data:
                problem = _secrets_problem(data["secrets"])
            if problem is not None:
                raise ValueError(problem)
        return data

    @property
    def reserved(self) -> ContainerMemoryReservation:
        """The reservation it gets: an unset one is the default, never above the limit."""
        return effective_reservation(self.memory_reservation, self.memory)

    @property
    def image_pin(self) -> ImagePin:
        reference = parse_image_reference(self.image)
        return ImagePin(reference.familiar_name, reference.tag or "", reference.digest)

    @property
    def uid(self) -> int | None:
        """The numeric uid it runs as, or None (the image's user, or a user name)."""
        numeric = _NUMERIC_USER.fullmatch(self.user) if self.user is not None else None
        return int(numeric.group("uid")) if numeric else None

    @property
    def proxy_read_timeout(self) -> int:
        if self.read_timeout is not None:
            return nanoseconds(self.read_timeout) // SECOND
        return DEFAULT_WEBSOCKET_READ_TIMEOUT if self.websocket else DEFAULT_READ_TIMEOUT

    @model_validator(mode="after")
    def _names_do_not_collide(self) -> ContainerApp:
        files: dict[str, str] = {}
        for name in sorted(self.secrets):
            if name.upper().endswith("_FILE"):
                raise ValueError(
                    f"secrets: {name!r} ends in _FILE; name the variable the image reads the value from "
                    f"({name[:-5]!r}): the stack sets {name[:-5]}_FILE to the file's path"
                )
            if name.lower() in files:
                raise ValueError(
                    f"secrets: {files[name.lower()]!r} and {name!r} would both be the file "
                    f"{SECRETS_DIR}/{name.lower()}; rename one"
                )
            files[name.lower()] = name
            for clash in (name, f"{name}_FILE"):
                if clash in self.env:
                    raise ValueError(
                        f"env: {clash} is also set by secret {name} (the stack sets {name}_FILE to its file, and "
                        f"images refuse {name} and {name}_FILE together); remove it from env"
                    )
        paths: dict[str, str] = {}
        for volume, path in sorted(self.volumes.items()):
            if path in paths:
                raise ValueError(f"volumes: {paths[path]!r} and {volume!r} are both mounted at {path}; one per path")
            paths[path] = volume
        return self

    @model_validator(mode="after")
    def _secrets_readable(self) -> ContainerApp:
        if not self.secrets or self.user is None:
            return self
        numeric = _NUMERIC_USER.fullmatch(self.user)
        if numeric is None:
            raise ValueError(
                f"user: {self.user!r} is a name, but the secret files are made readable by the container's uid, "
                "which for a name is known only inside the image; write the number "
                f"(`docker run --rm --entrypoint id {self.image} {self.user.split(':')[0]}` prints it), e.g. 1000"
            )
        gid = numeric.group("gid")
        if gid is not None and gid != numeric.group("uid"):
            raise ValueError(
                f"user: {self.user!r} has a gid other than its uid; with secrets write uid or uid:uid "
                "(the secret files are owned uid:uid, mode 0400, which the uid reads whatever its group)"
            )
        return self


def config_secret_key(app_name: str, name: str) -> str:
    """The config path of one secret, as messages and ``pulumi config set --path`` spell it."""
    return f"apps.{app_name}.secrets.{name}"
