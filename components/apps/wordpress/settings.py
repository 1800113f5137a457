"""A WordPress app's settings: ``apps.<name>`` with ``kind: wordpress``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from components.core.fields import (
    ConfigModel,
    EmailAddress,
    HostName,
    MemorySize,
    email_problem,
    upload_limit,
    user_name_problem,
)
from components.core.memory import MiB, Reservation, effective_reservation
from components.core.units import MEMORY_FORMAT_HELP, parse_memory
from components.edge.routes import Microcache

WORDPRESS_USER_MAX = 60
"""``wp_insert_user()`` refuses a longer ``user_login`` (wp-includes/user.php, WordPress 7.1)."""
WORDPRESS_UPLOAD_MAX = 2 * 1024**3


def _check_wordpress_user(value: str) -> str:
    # WordPress's validate_username() allows a subset of these plus spaces; the rule here is stricter.
    problem = user_name_problem(value, WORDPRESS_USER_MAX)
    if problem:
        raise ValueError(problem + f" (WordPress refuses logins longer than {WORDPRESS_USER_MAX})")
    if value == "0":
        # PHP's empty("0") is true: validate_username() and wp_insert_user() take it for no login at all.
        raise ValueError("'0' is not a login WordPress accepts (PHP reads it as empty); choose another, e.g. admin")
    return value


def _check_title(value: str) -> str:
    if value.startswith("-"):
        # wp-cli 2.12 parses every argument that starts with "--" as an option, positionals too
        # (`wp option update blogname "$SITE_TITLE"`); `--exec=<php>` would run PHP.
        raise ValueError(
            f"{value[:40]!r}... may not start with '-': wp-cli would read the title as an option; "
            "start it with another character"
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(f"{value[:40]!r} holds a control character (a line break, tab, ...); write one plain line")
    return value


WordPressUploadLimit = Annotated[
    int,
    upload_limit(
        WORDPRESS_UPLOAD_MAX,
        "WordPress's media uploader sends a file in one request, which PHP first spools to the "
        "container's /tmp on the server's root disk; bring larger files in with `wp media import`",
    ),
]
WordPressUser = Annotated[str, AfterValidator(_check_wordpress_user)]


class WordPressMemory(ConfigModel):
    """Memory limits of a WordPress app's containers."""

    app: MemorySize = Field(default=512 * MiB, description="WordPress (Apache + PHP)")
    database: MemorySize = Field(default=512 * MiB, description="its MariaDB")
    cache: MemorySize = Field(default=64 * MiB, description="its Redis")
    cron: MemorySize = Field(
        default=256 * MiB, description="its wp-cli container (installs the site, then runs WP-cron)"
    )


class WordPressMemoryReservation(Reservation):
    """What a WordPress app's containers need to run (Docker's memory reservation)."""

    app: MemorySize = Field(default=256 * MiB, description="WordPress (Apache + PHP)")
    database: MemorySize = Field(default=256 * MiB, description="its MariaDB")
    cache: MemorySize = Field(default=64 * MiB, description="its Redis; unset: its memory.cache limit")
    cron: MemorySize = Field(default=64 * MiB, description="its wp-cli container")


MICROCACHE_MAX_SIZE = 1024 * MiB


def _microcache_size(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a size; write {MEMORY_FORMAT_HELP}")
    size = parse_memory(value)
    if not MiB <= size <= MICROCACHE_MAX_SIZE or size % MiB:
        raise ValueError(f"{value!r}: the cache holds whole Mi, from 1Mi to 1Gi (its tmpfs is the proxy's memory)")
    return size


MicrocacheSize = Annotated[int, BeforeValidator(_microcache_size)]
"""Bytes, written like a memory size (``32Mi``), but not a container's: no 32Mi minimum."""


class WordPressMicrocache(ConfigModel):
    """The edge's short-lived cache of anonymous pages (docs/edge.md has what is never cached)."""

    enabled: bool = Field(default=True, description="cache anonymous GET/HEAD pages at the proxy")
    seconds: int = Field(
        default=5,
        ge=1,
        le=60,
        description="how long a cached page is fresh, in seconds (1-60); a page's nonces stay valid far longer",
    )
    bypass_feeds: bool = Field(default=False, description="send RSS/Atom feed requests to WordPress every time")
    size: MicrocacheSize = Field(
        default=32 * MiB,
        description=(
            "most the cache holds (nginx's max_size), 1Mi-1Gi; the proxy's memory grows by it, a quarter more "
            "(at least 4Mi) of headroom and its keys zone"
        ),
    )

    def route_cache(self) -> Microcache | None:
        """What the edge gets: None when off."""
        if not self.enabled:
            return None
        return Microcache(seconds=self.seconds, max_bytes=self.size, bypass_feeds=self.bypass_feeds)


class WordPressApp(ConfigModel):
    """A WordPress site with its own MariaDB and Redis."""

    kind: Literal["wordpress"] = Field(description="app kind")
    hostname: HostName = Field(description="public host name the proxy routes to this site")
    title: Annotated[str, AfterValidator(_check_title)] = Field(
        default="WordPress", min_length=1, max_length=200, description="site title"
    )
    admin_user: WordPressUser = Field(default="admin", description="administrator's login name")
    admin_email: EmailAddress | None = Field(
        default=None,
        description="administrator's e-mail; default admin@<hostname>",
    )
    upload_limit: WordPressUploadLimit = Field(
        default=64 * 1024**2, description="largest upload (PHP and the proxy's body limit), at most 2Gi"
    )
    microcache: WordPressMicrocache = Field(
        default_factory=WordPressMicrocache, description="the proxy's few-second cache of anonymous pages"
    )
    memory: WordPressMemory = Field(default_factory=WordPressMemory, description="memory limits of its containers")
    memory_reservation: WordPressMemoryReservation = Field(
        default_factory=WordPressMemoryReservation,
        description="memory its containers need to run (Docker's memory reservation); unset: at most the limit",
    )

    @property
    def reserved(self) -> WordPressMemoryReservation:
        """The reservations its containers get (unset ones never above their limits)."""
        return effective_reservation(self.memory_reservation, self.memory)

    @model_validator(mode="after")
    def _default_email_valid(self) -> WordPressApp:
        if self.admin_email is None and email_problem(self.default_admin_email):
            raise ValueError(
                f"adminEmail: the default, {self.default_admin_email!r}, is not an address WordPress accepts "
                "(it needs a letter-only top-level label and at most 100 characters); set adminEmail"
            )
        return self

    @property
    def edge_memory_bytes(self) -> int:
        """What this app adds to the proxy's memory (its microcache), for the capacity check."""
        cache = self.microcache.route_cache()
        return cache.memory_bytes if cache else 0

    @property
    def default_admin_email(self) -> str:
        return f"admin@{self.hostname}"
