"""Field types and the base model that every settings object shares.

They live apart from ``config.settings`` so that host-specific settings
(``config.hetzner``) can use them while ``StackSettings`` holds those settings.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from components.core.units import MEMORY_FORMAT_HELP, format_memory, parse_memory

DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
"""One label of a host name, lower case: also the rule for Hetzner server names.

Every pattern in this project is applied with ``fullmatch``: ``re.match`` with ``$`` also
accepts a trailing newline (``$`` matches before a final ``\\n``), which then lands in a file.
"""

TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
"""HH:MM, 24-hour (hetzner.automaticRebootTime, the server's unattended-upgrades reboot time)."""

MAX_HOSTNAME_LENGTH = 253
"""RFC 1035's limit for a whole name (labels of at most 63). The one length rule for host names:
nginx sizes its server-names hash from the names it is given (components/edge/nginx/config.py)."""

EMAIL_MAX_LENGTH = 100
"""WordPress keeps ``user_email`` in a ``varchar(100)`` (wp-admin/includes/schema.php, 7.1)."""
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9%+_-]+(\.[A-Za-z0-9%+_-]+)*")
_EMAIL_DOMAIN = re.compile(r"([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
EMAIL_HELP = (
    "an address of letters, digits and . % + _ - before the @ (not starting with '-' or '.'), "
    f"a domain with a letter-only top-level label after it, at most {EMAIL_MAX_LENGTH} characters, "
    "e.g. admin@example.com"
)


def email_problem(value: str) -> str | None:
    """Why ``value`` is not an e-mail address every consumer accepts, or None.

    One rule, the strictest of the places an address goes:
    - WordPress's ``is_email()`` (wp-includes/formatting.php, 7.1), which ``wp core install``
      checks (wp-cli/core-command, Core_Command.php): local part of ``a-zA-Z0-9!#$%&'*+/=?^_`{|}~.-``,
      domain labels of ``a-z0-9-`` (no hyphen at either end), two labels or more, 6 characters or more;
    - ``user_email varchar(100)`` in WordPress's schema;
    - nginx's ``acme_issuer { contact ...; }`` (nginx-acme, src/conf.rs): a bare token in the
      config file, so nothing of ``;{}#"'$`` or space, and no ``scheme:``;
    - Let's Encrypt (boulder, policy/pa.go ``ValidEmail``) parses it with Go's ``net/mail``:
      a dot-atom, so no leading, trailing or doubled dot;
    - wp-cli reads a positional argument starting with ``--`` as an option
      (``wp option update admin_email ...``): the first character is a letter, digit, ``%``, ``+`` or ``_``.
    """
    local, at, domain = value.partition("@")
    if (
        not at
        or len(value) > EMAIL_MAX_LENGTH
        or len(value) < 6
        or local.startswith("-")
        or not _EMAIL_LOCAL.fullmatch(local)
        or not _EMAIL_DOMAIN.fullmatch(domain)
    ):
        return f"{value!r} is not an e-mail address WordPress, nginx and Let's Encrypt all accept: write {EMAIL_HELP}"
    return None


def is_email_address(value: str) -> bool:
    return email_problem(value) is None


APP_NAME = re.compile(r"[a-z][a-z0-9]{0,19}")
"""An app's name in config: it becomes part of container, volume and network names and of nginx
upstream names (checked with fullmatch in config.settings and components/edge/nginx/config.py)."""


def is_hostname(value: str) -> bool:
    """A lower-case DNS name of two or more labels, 1-63 characters each, at most 253 in all."""
    labels = value.split(".")
    if len(value) > MAX_HOSTNAME_LENGTH or len(labels) < 2:
        return False
    return all(DNS_LABEL.fullmatch(label) for label in labels)


def _check_hostname(value: str) -> str:
    if not is_hostname(value):
        raise ValueError(
            f"{value!r} is not a host name: write a lower-case DNS name of two or more labels "
            f"(letters, digits, inner hyphens; 1-63 characters each, {MAX_HOSTNAME_LENGTH} in all), "
            "e.g. blog.example.com or blog.localhost"
        )
    return value


def _check_email(value: str) -> str:
    problem = email_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _memory(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a memory size; write {MEMORY_FORMAT_HELP}")
    size = parse_memory(value)
    if size < 32 * 1024**2:
        raise ValueError(f"{value!r} is below the 32Mi minimum that a container needs")
    if size % 1024**2:
        raise ValueError(f"{value!r} is not a whole number of Mi; Docker limits memory in Mi")
    return size


HostName = Annotated[str, AfterValidator(_check_hostname)]
EmailAddress = Annotated[str, AfterValidator(_check_email)]
MemorySize = Annotated[int, BeforeValidator(_memory)]
"""Bytes; written in config as a string such as ``512Mi``."""


class ConfigModel(BaseModel):
    """Strict, frozen, camelCase in config, no unknown keys."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
"""An app's administrator login: the rule WordPress and Nextcloud both accept (each adds its own limits)."""


def user_name_problem(value: str, maximum: int) -> str | None:
    if not USER_NAME.fullmatch(value) or len(value) > maximum:
        return (
            f"{value!r} is not a user name: use 1-{maximum} letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return None


Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP port: the proxy's published ones, a container's internal one."""


def upload_limit(maximum: int, why: str) -> BeforeValidator:
    """A size from 1Mi to ``maximum``, in whole Mi (PHP's and nginx's units)."""

    def check(value: object) -> int:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a size; write {MEMORY_FORMAT_HELP}")
        size = parse_memory(value)
        if size < 1024**2 or size % 1024**2:
            raise ValueError(f"{value!r} must be a whole number of Mi, at least 1Mi")
        if size > maximum:
            raise ValueError(f"{value!r} is above the {format_memory(maximum)} maximum: {why}")
        return size

    return BeforeValidator(check)
