"""Memory sizes as users write them in config ("512Mi", "1g") and as Docker wants them (bytes)."""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "ki": 1024,
    "m": 1024**2,
    "mi": 1024**2,
    "g": 1024**3,
    "gi": 1024**3,
}
_SIZE = re.compile(r"\s*(\d+)\s*([a-zA-Z]{0,2})\s*")

MEMORY_FORMAT_HELP = (
    "a whole number with a binary unit: Ki, Mi or Gi (Docker's k, m, g mean the same), e.g. 512Mi or 2g"
)


def parse_memory(text: str) -> int:
    """Bytes in a memory size; units are binary, as Docker reads ``--memory 512m``."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS or unit in ("", "b"):
        raise ValueError(f"{text!r} is not a memory size; write {MEMORY_FORMAT_HELP}")
    return int(match.group(1)) * _UNITS[unit]


def format_memory(size: int) -> str:
    """The largest exact binary unit: 536870912 -> '512Mi'."""
    for unit, factor in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def php_size(size: int) -> str:
    """A size in PHP's ini shorthand (``512M``), which knows K, M and G only."""
    for unit, factor in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
