"""One rule, one place: the package runs the library's own validators on its inputs.

Callers in other languages bypass every Python type check, so each component checks its inputs
itself, before it registers anything, and reports a ``pulumi.RunError`` that names the component,
the resource and the input (camelCase, as the caller wrote it).
"""

import re
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

import pulumi
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from pydantic.alias_generators import to_camel

from components.core.fields import DNS_LABEL

DOCKER_NAME = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")]
"""A container's or volume's name as the engine accepts it (moby/moby daemon/names/names.go,
``RestrictedNamePattern``, also the local volume driver's rule: daemon/volume/local/local.go; at
b985e23). The stack never needed it: it derives every name from an app name (``APP_NAME``)."""
NAME_PREFIX = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
"""The start of such a name: ``<prefix>-<app>-<role>`` is then one."""
DNS_ALIAS = Annotated[str, StringConstraints(pattern=f"^{DNS_LABEL.pattern}$")]
"""A container's alias on a network: one DNS label, the library's rule for a label (components/core/fields.py)."""
DATABASE_IDENTIFIER = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
"""A database or user name: MariaDB's entrypoint writes them into SQL between backticks and
quotes without escaping them (MariaDB/mariadb-docker 11.8/docker-entrypoint.sh at 1b6429b,
``docker_setup_db``: ``CREATE DATABASE IF NOT EXISTS `$MARIADB_DATABASE` ``, ``CREATE USER
'$MARIADB_USER'@...``), so only letters, digits and ``_``; at most 32 characters, which every
MariaDB and PostgreSQL (63) takes as a user name."""

MODEL_RULE = re.compile(r"([a-z][A-Za-z0-9.]*): (.*)", re.S)


def input_error(component: str, name: str, key: str, problem: str) -> pulumi.RunError:
    return pulumi.RunError(f"selfhost:index:{component} {name!r}: {key}: {problem}")


def problem(error: ValidationError) -> tuple[str, str]:
    """The first error's location (camelCase, dotted) and message, without pydantic's prefix."""
    first = error.errors(include_url=False)[0]
    location = ".".join(to_camel(part) if isinstance(part, str) else str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return location, message


def checked(component: str, name: str, key: str, rule: Any, value: object) -> Any:
    """``value`` validated by ``rule`` (an annotated type of the library, e.g. ``MemorySize``)."""
    try:
        return TypeAdapter(rule).validate_python(value, strict=True)
    except ValidationError as error:
        _, message = problem(error)
        raise input_error(component, name, key, message) from None


def require(component: str, name: str, args: Mapping[str, object], key: str) -> object:
    """A required input: a caller in another language can leave it out, Python's type checks aside."""
    value = args.get(key)
    if value is None:
        raise input_error(component, name, to_camel(key), "is required")
    return value


M = TypeVar("M", bound=BaseModel)


def model(component: str, name: str, settings: type[M], values: Mapping[str, object]) -> M:
    """``values`` (camelCase keys, as in a stack file) validated by a kind's settings model."""
    try:
        return settings.model_validate(dict(values))
    except ValidationError as error:
        location, message = problem(error)
        if not location:
            # A model-level rule names its field itself ("path: ... does not exist").
            named = MODEL_RULE.fullmatch(message)
            location, message = (named.group(1), named.group(2)) if named else ("args", message)
        raise input_error(component, name, location, message) from None
