"""The stack's ``backups`` config key: where the repository lives, when backups run, what is kept.

Validated with the rest of the stack's settings, so bad input stops the program before any
resource. Credentials are ``SecretStr`` values set with ``pulumi config set --secret --path``:
the loader (config/loading.py) refuses them in plain text, and the Backups component uploads
them to the scheduler as 0400 files, never as environment values.

One flat ``target`` object with a ``kind`` rather than a union of models: a missing credential is
then reported at its own key (``selfhost:backups.target.secretAccessKey``) with the command that
sets it.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator

from components.backups.plan import CredentialName
from components.core.fields import TIME_OF_DAY, ConfigModel, Port

TargetKind = Literal["local", "s3", "sftp", "rest"]
TARGET_KINDS: Final[tuple[TargetKind, ...]] = ("local", "s3", "sftp", "rest")

_FIELDS_OF_KIND: Final[dict[TargetKind, tuple[str, ...]]] = {
    "local": ("host_path", "volume"),
    "s3": ("endpoint", "bucket", "prefix", "region", "access_key_id", "secret_access_key"),
    "sftp": ("user", "host", "port", "path", "ssh_private_key", "known_hosts"),
    "rest": ("url", "username", "password"),
}
"""Which target keys each kind reads (snake_case); any other key set for the kind is refused."""
_REQUIRED: Final[dict[TargetKind, tuple[str, ...]]] = {
    "local": (),
    "s3": ("endpoint", "bucket"),
    "sftp": ("user", "host", "path", "known_hosts"),
    "rest": ("url",),
}
_CREDENTIALS: Final[dict[TargetKind, tuple[str, ...]]] = {
    "local": (),
    "s3": ("access_key_id", "secret_access_key"),
    "sftp": ("ssh_private_key",),
    "rest": ("username", "password"),
}
_CAMEL: Final[dict[str, str]] = {
    "host_path": "hostPath",
    "access_key_id": "accessKeyId",
    "secret_access_key": "secretAccessKey",
    "ssh_private_key": "sshPrivateKey",
    "known_hosts": "knownHosts",
}

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
"""S3 bucket naming rules (3-63 characters, lower case, digits, dots, hyphens)."""
_PREFIX = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
_REGION = re.compile(r"[a-z0-9-]{1,32}")
_VOLUME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")
_USER = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_HTTP_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")
_SUBSET_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)%")
_SUBSET_FRACTION = re.compile(r"([0-9]+)/([0-9]+)")


def _absolute_path(value: str) -> str:
    if not value.startswith("/") or value == "/" or posixpath.normpath(value) != value or "\n" in value:
        raise ValueError(f"{value!r} is not a normalised absolute path: write it as /a/b, not / itself")
    return value


def _shown(value: str) -> str:
    """A URL as an error message may quote it: user info (``user:password@``) cut out, as it may be a credential."""
    scheme, found, rest = value.partition("://")
    if "@" not in value:
        return repr(value)
    if not found:
        return "the value (not shown: it contains '@', maybe a credential)"
    authority, slash, path = rest.partition("/")
    return repr(f"{scheme}://<credentials>@{authority.rpartition('@')[2]}{slash}{path}")


def _endpoint(value: str) -> str:
    if not _HTTP_URL.fullmatch(value) or "@" in value:
        raise ValueError(
            f"{_shown(value)} is not an endpoint URL: write https://host[:port] without credentials in it, "
            "e.g. https://fsn1.your-objectstorage.com"
        )
    return value.rstrip("/")


def _rest_url(value: str) -> str:
    if not _HTTP_URL.fullmatch(value) or "@" in value:
        raise ValueError(
            f"{_shown(value)} is not a REST server URL: write https://host[:port]/path/ without credentials in it "
            "(set username and password with --secret --path), e.g. https://backup.example.com:8000/selfhost/"
        )
    return value


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


def _time_of_day(value: str) -> str:
    if not TIME_OF_DAY.fullmatch(value):
        raise ValueError(f"{value!r} is not a time of day: write HH:MM, 24-hour, UTC (e.g. 03:30)")
    return value


def _iso_weekday(value: int) -> int:
    if not 1 <= value <= 7:
        raise ValueError(f"{value!r} is not an ISO weekday: write 1 (Monday) to 7 (Sunday); the check would never run")
    return value


def read_subset_problem(value: str) -> str | None:
    """Why ``value`` is no ``restic check --read-data-subset`` that reads something, or None.

    restic accepts ``n/t`` (the n-th of t parts) and ``x%`` (a random x percent) (restic
    cmd/restic/cmd_check.go, ``stringToIntSlice`` and ``parsePercentage``, v0.19.1); 0% or a part
    outside 1..t would check nothing, so they are refused here rather than at 03:00 on a Sunday.
    """
    percent = _SUBSET_PERCENT.fullmatch(value)
    if percent:
        share = float(percent.group(1))
        if not 0 < share <= 100:
            return f"{value!r}: a percentage of the data from more than 0% to 100%"
        return None
    fraction = _SUBSET_FRACTION.fullmatch(value)
    if fraction:
        part, parts = int(fraction.group(1)), int(fraction.group(2))
        if not 1 <= part <= parts:
            return f"{value!r}: part n of t needs 1 <= n <= t (e.g. 1/7)"
        return None
    return f"{value!r} is not a read subset: write a percentage (5%) or a part n/t (1/7)"


def _read_subset(value: str) -> str:
    problem = read_subset_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class BackupTarget(ConfigModel):
    """Where the restic repository lives; which keys apply depends on ``kind``."""

    kind: TargetKind = Field(description="local (a host directory or a volume), s3, sftp or rest")
    host_path: Annotated[str, AfterValidator(_absolute_path)] | None = Field(
        default=None, description="kind local: the repository in this directory of the Docker host"
    )
    volume: Annotated[str, _matching(_VOLUME, "a Docker volume name")] | None = Field(
        default=None,
        description="kind local: the repository on this Docker volume (made, retained and protected by the stack)",
    )
    endpoint: Annotated[str, AfterValidator(_endpoint)] | None = Field(
        default=None, description="kind s3: the S3-compatible endpoint, e.g. https://fsn1.your-objectstorage.com"
    )
    bucket: Annotated[str, _matching(_BUCKET, "an S3 bucket name (3-63 of a-z 0-9 . -)")] | None = Field(
        default=None, description="kind s3: the bucket"
    )
    prefix: Annotated[str, _matching(_PREFIX, "a key prefix of a-z A-Z 0-9 . _ - separated by /")] | None = Field(
        default=None, description="kind s3: the repository's key prefix in the bucket; unset: the stack's name"
    )
    region: Annotated[str, _matching(_REGION, "a region name (a-z 0-9 -)")] | None = Field(
        default=None, description="kind s3: the region, when the endpoint needs one (e.g. fsn1)"
    )
    access_key_id: SecretStr | None = Field(default=None, description="kind s3: the access key (set with --secret)")
    secret_access_key: SecretStr | None = Field(default=None, description="kind s3: the secret key (set with --secret)")
    user: Annotated[str, _matching(_USER, "a user name (a-z 0-9 _ . -)")] | None = Field(
        default=None, description="kind sftp: the SSH user"
    )
    host: Annotated[str, _matching(_HOST, "a host name or address")] | None = Field(
        default=None, description="kind sftp: the SSH server"
    )
    port: Port | None = Field(default=None, description="kind sftp: the SSH port (22 when unset)")
    path: Annotated[str, AfterValidator(_absolute_path)] | None = Field(
        default=None, description="kind sftp: the repository's directory on the server"
    )
    ssh_private_key: SecretStr | None = Field(
        default=None, description="kind sftp: the private key (OpenSSH format, set with --secret)"
    )
    known_hosts: str | None = Field(
        default=None, description="kind sftp: the server's known_hosts line(s), so its key is checked"
    )
    url: Annotated[str, AfterValidator(_rest_url)] | None = Field(
        default=None, description="kind rest: the rest-server URL, without credentials"
    )
    username: SecretStr | None = Field(default=None, description="kind rest: the user (set with --secret)")
    password: SecretStr | None = Field(default=None, description="kind rest: the password (set with --secret)")

    @model_validator(mode="after")
    def _keys_of_the_kind(self) -> BackupTarget:
        allowed = _FIELDS_OF_KIND[self.kind]
        for name in sorted(type(self).model_fields):
            if name == "kind" or name in allowed or getattr(self, name) is None:
                continue
            raise ValueError(
                f"{_key(name)}: is not used by a target of kind {self.kind}; it reads "
                f"{', '.join(_key(n) for n in allowed)} (remove it with `pulumi config rm --path "
                f"'backups.target.{_key(name)}'`)"
            )
        for name in _REQUIRED[self.kind]:
            if getattr(self, name) is None:
                raise ValueError(f"{_key(name)}: is required for a target of kind {self.kind}")
        for name in _CREDENTIALS[self.kind]:
            if getattr(self, name) is None:
                raise ValueError(
                    f"{_key(name)}: a target of kind {self.kind} needs it; set it with "
                    f"`pulumi config set --secret --path 'backups.target.{_key(name)}' <value>`"
                )
        if self.kind == "local" and (self.host_path is None) == (self.volume is None):
            raise ValueError(
                "hostPath: a local target needs exactly one of hostPath (a directory of the Docker host) and volume "
                "(a Docker volume the stack makes)"
            )
        if self.known_hosts is not None and not self.known_hosts.strip():
            raise ValueError("knownHosts: is empty; write the line(s) `ssh-keyscan -p <port> <host>` prints")
        return self


def _key(name: str) -> str:
    return _CAMEL.get(name, name)


class BackupSchedule(ConfigModel):
    time: Annotated[str, AfterValidator(_time_of_day)] = Field(
        default="03:30", description="the daily backup's time of day, HH:MM UTC"
    )
    check_weekday: Annotated[int, AfterValidator(_iso_weekday)] = Field(
        default=7, description="ISO weekday (1 = Monday, 7 = Sunday) of the weekly restic check"
    )
    check_read_subset: Annotated[str, AfterValidator(_read_subset)] = Field(
        default="5%", description="how much of the data the weekly check reads back: a percentage (5%) or n/t (1/7)"
    )


class BackupRetention(ConfigModel):
    keep_daily: int = Field(default=7, ge=0, le=3660, description="daily snapshots to keep")
    keep_weekly: int = Field(default=4, ge=0, le=520, description="weekly snapshots to keep")
    keep_monthly: int = Field(default=6, ge=0, le=1200, description="monthly snapshots to keep")

    @model_validator(mode="after")
    def _keeps_something(self) -> BackupRetention:
        if self.keep_daily == self.keep_weekly == self.keep_monthly == 0:
            raise ValueError(
                "keepDaily: with keepDaily, keepWeekly and keepMonthly all 0 restic forget would keep no "
                "snapshot at all; keep at least one (the defaults are 7, 4 and 6)"
            )
        return self


class BackupsSettings(ConfigModel):
    """``selfhost:backups``: one encrypted restic repository for the whole stack."""

    target: BackupTarget = Field(description="where the repository lives: {kind: local, s3, sftp or rest; its keys}")
    schedule: BackupSchedule = Field(
        default_factory=BackupSchedule, description="when: {time, checkWeekday, checkReadSubset}"
    )
    retention: BackupRetention = Field(
        default_factory=BackupRetention, description="what restic forget keeps: {keepDaily, keepWeekly, keepMonthly}"
    )


def credentials(target: BackupTarget) -> dict[CredentialName, str | SecretStr]:
    """The target's credential files (plan.CredentialName -> value) the scheduler gets under SECRETS_DIR.

    ``knownHosts`` is public (the server's host keys), but it is a file ssh reads, so it goes the same way."""
    values: dict[CredentialName, str | SecretStr | None] = {}
    if target.kind == "s3":
        values = {"aws-access-key-id": target.access_key_id, "aws-secret-access-key": target.secret_access_key}
    elif target.kind == "sftp":
        known_hosts = None if target.known_hosts is None else target.known_hosts.strip() + "\n"
        key = target.ssh_private_key
        # `config set -- "$(cat key)"` drops the final newline, without which OpenSSH refuses a key file.
        key = None if key is None else SecretStr(key.get_secret_value().rstrip("\n") + "\n")
        values = {"ssh-private-key": key, "ssh-known-hosts": known_hosts}
    elif target.kind == "rest":
        values = {"rest-username": target.username, "rest-password": target.password}
    return {name: value for name, value in values.items() if value is not None}
