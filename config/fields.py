"""Field types and the base model that every settings object shares.

They live apart from ``config.settings`` so that host-specific settings
(``config.hetzner``) can use them while ``StackSettings`` holds those settings.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

from config.units import MEMORY_FORMAT_HELP, parse_memory

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
"""One label of a host name, lower case: also the rule for Hetzner server names."""


def _check_hostname(value: str) -> str:
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(DNS_LABEL.match(label) for label in labels):
        raise ValueError(
            f"{value!r} is not a host name: write a lower-case DNS name of two or more labels "
            "(letters, digits, inner hyphens), e.g. blog.example.com or blog.localhost"
        )
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
