"""Durations as the Docker provider reads them back: Go's ``time.Duration.String()``.

The provider (kreuzwerker/terraform-provider-docker v4.6.0, bridged by pulumi-docker 5.2.0)
parses a healthcheck's ``interval``/``timeout``/``start_period``/``start_interval`` with Go's
``time.ParseDuration`` when it creates a container, and reads them back from the engine as
``Config.Healthcheck.<field>.String()`` (``resourceDockerContainerRead`` in
internal/provider/resource_docker_container_funcs.go). ``healthcheck`` is ForceNew there, so
an input written any other way (``60s`` instead of ``1m0s``) would replace the container on
every ``pulumi up``. Every duration the program sends goes through :func:`go_duration`.

Go's rules (src/time/time.go, ``Duration.String``): ``0s`` for zero; below one second the
largest of ``ns``/``µs``/``ms`` that keeps the integer part non-zero, with the fraction's
trailing zeros dropped (``1.5ms``); from one second on ``[<h>h][<m>m]<s>[.<frac>]s`` where
minutes appear once there are hours, seconds always (``1h0m0s``, ``2m0.5s``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

NANOSECOND: Final = 1
MICROSECOND: Final = 1000 * NANOSECOND
MILLISECOND: Final = 1000 * MICROSECOND
SECOND: Final = 1000 * MILLISECOND
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE

_UNITS: Final = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "µs": MICROSECOND,  # U+00B5 MICRO SIGN
    "μs": MICROSECOND,  # U+03BC GREEK SMALL LETTER MU
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}
_TERM: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_TERMS: Final = re.compile(f"(?:{_TERM.pattern})+")
"""A whole duration: one or more terms and nothing else (checked with fullmatch)."""
_MAX_NANOSECONDS: Final = 2**63 - 1
"""A Go ``time.Duration`` is an int64 of nanoseconds."""

DurationInput = str | int | timedelta
"""A Go duration string (``"90s"``, ``"1h30m"``), whole seconds, or a ``timedelta``."""


def _fraction_digits(digits: str) -> tuple[int, float]:
    """Go's ``leadingFraction``: the digits as an integer and its scale, ignoring digits past int64."""
    value, scale = 0, 1.0
    for digit in digits:
        if value > (2**63 - 1) // 10:
            break
        candidate = value * 10 + int(digit)
        if candidate > 2**63:
            break
        value, scale = candidate, scale * 10
    return value, scale


def parse_duration(text: str) -> int:
    """Nanoseconds in a Go duration string, exactly as ``time.ParseDuration`` computes them.

    Each term adds ``whole * unit`` plus ``float64(fraction) * (unit / scale)`` truncated, as Go
    does (src/time/format.go). Raises ValueError for anything Go would refuse, and for negative
    durations (the provider refuses those: ``validateDurationGeq0``).
    """
    original = text
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("-"):
        raise ValueError(f"{original!r} is negative; a healthcheck duration must be >= 0")
    if text == "0":
        return 0
    if not text:
        raise ValueError(f"{original!r} is not a Go duration (e.g. 30s, 1m30s, 500ms)")
    if _TERMS.fullmatch(text) is None:
        raise ValueError(f"{original!r} is not a Go duration (e.g. 30s, 1m30s, 500ms)")
    total = 0
    for term in _TERM.finditer(text):
        whole_text, _, fraction_text = term.group(1).partition(".")
        unit = _UNITS[term.group(2)]
        value = int(whole_text or "0")
        if value > 2**63 // unit:
            raise ValueError(f"{original!r} overflows Go's time.Duration")
        value *= unit
        fraction, scale = _fraction_digits(fraction_text)
        if fraction > 0:
            value += int(float(fraction) * (float(unit) / scale))
        total += value
        if value > 2**63 or total > 2**63:
            raise ValueError(f"{original!r} overflows Go's time.Duration")
    if total > _MAX_NANOSECONDS:
        raise ValueError(f"{original!r} overflows Go's time.Duration")
    return total


def nanoseconds(value: DurationInput) -> int:
    """``value`` in nanoseconds: a Go duration string, whole seconds (int) or a timedelta."""
    if isinstance(value, bool):
        raise TypeError("a duration is not a bool")
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} s is negative")
        return value * SECOND
    if value < timedelta(0):
        raise ValueError(f"{value} is negative")
    return (value // timedelta(microseconds=1)) * MICROSECOND


def _fraction(value: int, precision: int) -> tuple[str, int]:
    """Go's ``fmtFrac``: the last ``precision`` digits of ``value`` as ``.ddd`` without trailing zeros."""
    digits = ""
    printed = False
    for _ in range(precision):
        digit = value % 10
        printed = printed or digit != 0
        if printed:
            digits = str(digit) + digits
        value //= 10
    return ("." + digits if printed else ""), value


def format_nanoseconds(total: int) -> str:
    """Go's ``time.Duration(total).String()``."""
    if total < 0:
        return "-" + format_nanoseconds(-total)
    if total == 0:
        return "0s"
    if total < SECOND:
        if total < MICROSECOND:
            precision, unit = 0, "ns"
        elif total < MILLISECOND:
            precision, unit = 3, "µs"
        else:
            precision, unit = 6, "ms"
        fraction, whole = _fraction(total, precision)
        return f"{whole}{fraction}{unit}"
    fraction, whole_seconds = _fraction(total, 9)
    text = f"{whole_seconds % 60}{fraction}s"
    minutes = whole_seconds // 60
    if minutes > 0:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours > 0:
            text = f"{hours}h{text}"
    return text


def go_duration(value: DurationInput) -> str:
    """``value`` as the provider reads it back: ``60`` or ``"60s"`` -> ``"1m0s"``, ``"10m"`` -> ``"10m0s"``."""
    return format_nanoseconds(nanoseconds(value))


def healthcheck_duration_problem(value: DurationInput) -> str | None:
    """Why Docker refuses ``value`` as a healthcheck duration, or None: 0 (its default) or at least
    1ms (moby daemon/container.go ``validateHealthCheck``)."""
    if 0 < nanoseconds(value) < MILLISECOND:
        return f"{value!r}: Docker needs 0 (its default) or at least 1ms"
    return None
