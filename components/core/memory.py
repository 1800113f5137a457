"""Reservation models and the rule every app's memory settings share.

Each container gets a limit (Docker's ``memory``) and a reservation (``memory_reservation``);
config/memory.py explains both and the defaults. A kind's settings hold one model of limits
and one of reservations (a field per container role) and expose the effective reservations
through ``effective_reservation``.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from pydantic import BaseModel

from components.core.fields import ConfigModel

MiB = 1024**2


class Reservation(ConfigModel):
    """Base of a kind's ``memoryReservation`` model."""

    follows_limit: ClassVar[frozenset[str]] = frozenset({"cache"})
    """Unset, these take their limit rather than the default (a cache fills up to its maxmemory)."""


R = TypeVar("R", bound=Reservation)


def effective_reservation(reservation: R, limits: BaseModel) -> R:
    """The reservations the containers get: an unset one is the default capped at the limit (Redis: the limit)."""
    caps: dict[str, int] = limits.model_dump()
    unset = {
        key: caps[key] if key in reservation.follows_limit else min(value, caps[key])
        for key, value in reservation.model_dump().items()
        if key not in reservation.model_fields_set
    }
    return reservation.model_copy(update=unset)
