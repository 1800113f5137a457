"""Memory of the backup containers: fixed, and counted by the stack's capacity check like every other.

Limits bound a burst (a dump, a snapshot); reservations are what the idle loops need, so the
Hetzner server's protected slice (config/memory.py ``total_reservation``) grows only a little.
"""

from __future__ import annotations

from typing import Final

from components.core.memory import MiB

SCHEDULER_MEMORY: Final = 512 * MiB
"""restic's own use grows with the repository's index (about 100-300 MiB for tens of GiB of data)."""
SCHEDULER_RESERVATION: Final = 64 * MiB
"""Between runs a busybox sh loop; during one, restic beyond that is its burst."""
HELPER_MEMORY: Final = 256 * MiB
"""A dumper streams (mariadb-dump, pg_dump, mongodump); occ maintenance:mode is one small PHP run."""
HELPER_RESERVATION: Final = 16 * MiB
"""Idle, a shell loop that touches its heartbeat once a second."""
