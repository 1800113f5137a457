"""Reading a static site's directory, once, when the stack's settings are validated.

The files travel inside the container's create request: the provider writes each upload into
the container with one ``CopyToContainer`` call, and Pulumi keeps every upload's content in the
stack's state, twice (the resource's inputs and outputs), base64 for binary files, in every
checkpoint written during a deploy. Hence the bounds below: a static site here is a few pages,
their styles, scripts and images. A larger site belongs in an image of its own (the
``container`` kind).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from components.core.units import format_memory

MAX_SITE_BYTES = 8 * 1024**2
"""All files together: about 21 MiB in the state for the largest binary site (8 MiB x 4/3 base64 x 2)."""
MAX_SITE_FILES = 1000
"""One Docker API call per file at each container create."""
INDEX = "index.html"
KEPT_HIDDEN = frozenset({".well-known"})
"""The one hidden name that is served (RFC 8615); every other name starting with ``.`` is left out
(``.git``, ``.DS_Store``, editor files), so it is neither uploaded nor served."""
PHP_SUFFIXES = (".php", ".phtml", ".phar")
TEXT_SUFFIXES = frozenset({".html", ".htm", ".css", ".js", ".mjs", ".txt", ".xml", ".svg", ".json", ".md", ".csv"})


class SiteError(ValueError):
    """Why a directory cannot be a static site; the message names the path."""


@dataclass(frozen=True)
class SiteFile:
    path: str
    """Relative to the site's root, ``/``-separated (``css/site.css``)."""
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def text(self) -> str | None:
        """The content as text (UTF-8 without NUL bytes), or None for anything else."""
        try:
            text = self.data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return None if "\x00" in text else text

    @property
    def is_text_type(self) -> bool:
        """A name nginx serves with a text type, whose charset the config may declare."""
        return PurePosixPath(self.path).suffix.lower() in TEXT_SUFFIXES


def check_relative_path(value: str) -> str | None:
    """Why ``value`` cannot name a directory inside the project, or None: syntax only."""
    if not value:
        return "is empty: write a directory relative to the project, e.g. sites/hello"
    if any(ord(char) < 32 or ord(char) == 127 for char in value) or "\\" in value:
        return f"{value!r} holds a control character or a backslash: write a relative path with '/', e.g. sites/hello"
    if value.startswith("/") or PurePosixPath(value).is_absolute():
        return f"{value!r} is an absolute path: write it relative to the project directory, e.g. sites/hello"
    if ".." in PurePosixPath(value).parts:
        return f"{value!r} climbs out with '..': the site must be a directory inside the project"
    return None


def read_site(project_root: Path, relative: str) -> tuple[SiteFile, ...]:
    """Every file of the site under ``project_root/relative``, sorted by path; refused with a
    :class:`SiteError` when it leaves the project or the site, or breaks a bound."""
    problem = check_relative_path(relative)
    if problem:
        raise SiteError(problem)
    project = project_root.resolve()
    site = (project_root / relative).resolve()
    if site != project and project not in site.parents:
        raise SiteError(f"{relative!r} leads to {site}, outside the project directory {project} (a symbolic link?)")
    if not site.is_dir():
        what = "does not exist" if not site.exists() else "is not a directory"
        raise SiteError(f"{relative!r} {what} (relative to the project directory {project})")
    index = site / INDEX
    if not index.is_file():
        raise SiteError(f"{relative!r} has no {INDEX} at its top: the site's home page is /{INDEX}")
    files: list[SiteFile] = []
    total = 0
    pending = [site]
    while pending:
        directory = pending.pop()
        for entry in sorted(os.scandir(directory), key=lambda e: e.name):
            shown = f"{relative.rstrip('/')}/{Path(entry.path).relative_to(site).as_posix()}"
            if entry.name.startswith(".") and entry.name not in KEPT_HIDDEN:
                continue
            if any(ord(char) < 32 or ord(char) == 127 for char in entry.name):
                raise SiteError(f"{shown!r}: a file name with a control character (a line break?) cannot be a URL")
            target = Path(entry.path).resolve()
            if target != site and site not in target.parents:
                raise SiteError(f"{shown!r} is a symbolic link to {target}, outside the site {relative!r}")
            mode = target.stat().st_mode
            if stat.S_ISDIR(mode):
                if entry.is_symlink():
                    # Its files would be served twice, under two names; a link to a parent loops.
                    raise SiteError(f"{shown!r} is a symbolic link to a directory: link files, or move the directory")
                pending.append(Path(entry.path))
                continue
            if not stat.S_ISREG(mode):
                raise SiteError(f"{shown!r} is not a regular file (a socket, pipe or device)")
            if entry.name.lower().endswith(PHP_SUFFIXES):
                raise SiteError(
                    f"{shown!r} is a PHP file: a static site runs no PHP and does not hand out its source; "
                    "remove it, or use the wordpress or container kind for PHP"
                )
            data = target.read_bytes()
            if not data:
                # terraform-provider-docker refuses an upload whose content is "" ("one of 'content',
                # 'content_base64', or 'source' must be set", resource_docker_container_funcs.go, v4.6.0).
                raise SiteError(
                    f"{shown!r} is empty, and the Docker provider cannot upload an empty file; "
                    "give it content or remove it"
                )
            total += len(data)
            if total > MAX_SITE_BYTES:
                raise SiteError(
                    f"{relative!r} holds more than {format_memory(MAX_SITE_BYTES)} (reached at {shown!r}): every "
                    "file travels in the container's create request and is kept in the stack's state; serve a "
                    "larger site from an image of its own (kind container)"
                )
            files.append(SiteFile(path=Path(entry.path).relative_to(site).as_posix(), data=data))
            if len(files) > MAX_SITE_FILES:
                raise SiteError(
                    f"{relative!r} holds more than {MAX_SITE_FILES} files: each is one Docker API call at every "
                    "container create; serve a larger site from an image of its own (kind container)"
                )
    return tuple(sorted(files, key=lambda f: f.path))
