"""Settings of a static site: a directory of the repository, served by its own nginx.

The directory is read here, while the stack's settings are validated, so a missing
``index.html`` or a link out of the site is one clear error before any resource exists, and
``spec()`` stays a pure function of the settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PrivateAttr, ValidationInfo, model_validator

from components.apps.static.site import (
    MAX_SITE_BYTES,
    MAX_SITE_FILES,
    SiteError,
    SiteFile,
    check_relative_path,
    read_site,
)
from components.core.fields import ConfigModel, HostName, MemorySize
from components.core.memory import MiB, Reservation, effective_reservation
from components.core.units import format_memory

PROJECT_ROOT_CONTEXT = "project_root"
"""Validation context key: the directory ``path`` is relative to (default: the working directory,
which Pulumi sets to the project's, where Pulumi.yaml is)."""
MAX_CACHE_SECONDS = 365 * 24 * 3600
"""RFC 9111 section 5.2.2.1 lets caches cap max-age; a year is what everyone honours."""


def _check_path(value: str) -> str:
    problem = check_relative_path(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_cache_seconds(value: int) -> int:
    if not 0 <= value <= MAX_CACHE_SECONDS:
        raise ValueError(f"{value} is not a cache lifetime: use 0 to {MAX_CACHE_SECONDS} seconds (a year)")
    return value


class StaticMemory(ConfigModel):
    """Memory limit of a static site's container."""

    app: MemorySize = Field(default=64 * MiB, description="its nginx (one worker, serving files)")


class StaticMemoryReservation(Reservation):
    """What a static site's container needs to run (Docker's memory reservation)."""

    app: MemorySize = Field(default=32 * MiB, description="its nginx (one worker, serving files)")


class StaticApp(ConfigModel):
    """A site from a directory of the repository, served by its own nginx behind the edge."""

    kind: Literal["static"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name the proxy routes to this site")
    path: Annotated[str, AfterValidator(_check_path)] = Field(
        description=(
            "directory of the site, relative to the project directory (e.g. sites/hello): it needs an "
            f"index.html and holds at most {format_memory(MAX_SITE_BYTES)} in {MAX_SITE_FILES} files, "
            "no PHP and no links out of it; hidden files (but .well-known) are left out"
        ),
    )
    cache_seconds: Annotated[int, AfterValidator(_check_cache_seconds)] = Field(
        default=3600,
        description=(
            "how long browsers may use a file other than HTML without asking again (HTML is always "
            "revalidated; unchanged files answer 304)"
        ),
    )
    memory: StaticMemory = Field(default_factory=StaticMemory, description="memory limit of its container")
    memory_reservation: StaticMemoryReservation = Field(
        default_factory=StaticMemoryReservation,
        description="memory its container needs to run (Docker's memory reservation); unset: at most the limit",
    )
    _files: tuple[SiteFile, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _read_site(self, info: ValidationInfo) -> StaticApp:
        context = info.context if isinstance(info.context, dict) else {}
        root = Path(context.get(PROJECT_ROOT_CONTEXT) or Path.cwd())
        try:
            self._files = read_site(root, self.path)
        except SiteError as error:
            raise ValueError(f"path: {error}") from None
        return self

    @property
    def files(self) -> tuple[SiteFile, ...]:
        """The site's files, read at validation, sorted by path."""
        return self._files

    @property
    def reserved(self) -> StaticMemoryReservation:
        """The reservation its container gets: an unset one never above the limit."""
        return effective_reservation(self.memory_reservation, self.memory)
