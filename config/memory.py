"""Memory of every container: a reservation (what it needs to run) and a limit (what it may burst to).

Each container gets both. The limit is Docker's ``memory`` (cgroup ``memory.max``, a hard cap:
past it the kernel kills the container's biggest process). The reservation is Docker's
``memory_reservation`` (cgroup v2 ``memory.low``, v1 ``memory.soft_limit_in_bytes``); the
capacity check (``config.hetzner.capacity_problem``) budgets the server with it. Config keys:
``apps.<name>.memory.<service>`` are the limits, as they always were, and
``apps.<name>.memoryReservation.<service>`` the reservations; ``proxyMemory`` and
``proxyMemoryReservation`` for the proxy. Each kind's models are in its folder
(components/apps/<kind>/settings.py); the shared rule is components/core/memory.py.

A reservation left unset takes the default below, but never more than that service's limit
(a stack that lowered a limit keeps validating); Redis's follows its limit, because a cache
fills up to its ``maxmemory`` (3/4 of the limit, ``components/services/cache.py``) and stays there. A
reservation set explicitly above its limit is refused: Docker refuses it too ("Minimum memory
limit can not be less than memory reservation limit", moby daemon/daemon_unix.go, v28.5.2).

Default reservations and where they come from (docs/hetzner.md has the table and sources):

- WordPress (Apache + mod_php, ``wordpress:*-apache``): 128M of OPcache shared by the Apache
  children (the image's opcache-recommended.ini, docker-library/wordpress), WordPress's own
  40M front-end memory limit (``WP_MEMORY_LIMIT``, wp-includes/default-constants.php): 256Mi.
- Its MariaDB: the 128MiB InnoDB buffer pool default (``innodb_buffer_pool_size``) plus the
  server itself, measured at ~102MiB idle on MariaDB 11.8.9 with defaults: 256Mi.
- Its wp-cli container: a shell loop that runs ``wp cron event run`` once a minute: 64Mi.
- Nextcloud (Apache + mod_php): Nextcloud's documented minimum is 128MB per PHP process and
  its recommendation 512MB per process (admin manual, system requirements): 512Mi.
- Its background-jobs container: one ``cron.php`` run every 5 minutes: the 128MB minimum.
- Its PostgreSQL: ``shared_buffers`` 128MB default, ~20MiB of server processes idle
  (measured on PostgreSQL 18), a few MB per connection (``work_mem`` 4MB): 256Mi.
- nginx: ~10MiB idle for the master and two workers (measured, nginx 1.30.6); buffers per
  proxied request on top: the smallest size the stack accepts, 32Mi.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel

from components.core.memory import MiB
from components.core.units import format_memory

PROXY_MEMORY_LIMIT = 128 * MiB
PROXY_MEMORY_RESERVATION = 32 * MiB


@dataclass(frozen=True)
class MemoryBudget:
    """One container's memory, with the config keys that set it (for error messages)."""

    limit_key: str
    """e.g. ``apps.blog.memory.app``, ``proxyMemory``."""
    reservation_key: str
    """e.g. ``apps.blog.memoryReservation.app``, ``proxyMemoryReservation``."""
    limit: int
    reservation: int
    group: str
    """What the error message sums it under: ``apps.blog``, ``proxy``."""

    @property
    def burst(self) -> int:
        """How far above its reservation it may go."""
        return self.limit - self.reservation


def app_budgets(app_name: str, limits: BaseModel, reservations: BaseModel) -> list[MemoryBudget]:
    """One budget per container of an app, from its ``memory`` and effective ``memoryReservation``."""
    reserved: dict[str, int] = reservations.model_dump()
    return [
        MemoryBudget(
            limit_key=f"apps.{app_name}.memory.{key}",
            reservation_key=f"apps.{app_name}.memoryReservation.{key}",
            limit=limit,
            reservation=reserved[key],
            group=f"apps.{app_name}",
        )
        for key, limit in limits.model_dump().items()
    ]


def total_reservation(budgets: Iterable[MemoryBudget]) -> int:
    """What the containers reserve together: the capacity check's floor, and what the Hetzner host
    protects for them (components/hosts/hetzner/cloud_init.py ``memory_protection_script``)."""
    return sum(b.reservation for b in budgets)


def reservation_problem(budgets: Iterable[MemoryBudget]) -> str | None:
    """Reservations above their limits (Docker refuses them), or None."""
    over = [b for b in budgets if b.reservation > b.limit]
    if not over:
        return None
    return "; ".join(
        f"{b.reservation_key}: {format_memory(b.reservation)} is more than the container's limit "
        f"{b.limit_key} ({format_memory(b.limit)}); a reservation must be at most its limit: "
        f"lower {b.reservation_key} or raise {b.limit_key}"
        for b in over
    )
