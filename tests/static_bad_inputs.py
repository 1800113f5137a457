"""Bad config of a static site, in the catalogue of tests/test_bad_inputs.py:
``Bad(id, {"apps": apps}, key, allowed)`` for each case. Paths are relative to the
repository, where the suite runs (the program's working directory, as under ``pulumi up``).
tests/test_kind_static.py checks each against the settings model."""

from __future__ import annotations

from typing import Any


def static(**options: Any) -> dict[str, Any]:
    """One static app ``www`` serving the example site, with ``options`` on top."""
    return {"www": {"kind": "static", "hostname": "www.localhost", "path": "sites/hello", **options}}


CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("static-hostname-upper", static(hostname="WWW.localhost"), "apps.www.hostname", "lower-case DNS name"),
    ("static-path-absolute", static(path="/etc"), "apps.www.path", "relative to the project directory"),
    ("static-path-climbs", static(path="sites/../.."), "apps.www.path", "the site must be a directory inside"),
    ("static-path-missing", static(path="sites/nothing"), "apps.www.path", "'sites/nothing' does not exist"),
    ("static-path-file", static(path="README.md"), "apps.www.path", "'README.md' is not a directory"),
    ("static-path-no-index", static(path="sites"), "apps.www.path", "has no index.html at its top"),
    ("static-path-empty", static(path=""), "apps.www.path", "write a directory relative to the project"),
    ("static-path-number", static(path=5), "apps.www.path", "valid string"),
    ("static-cache-negative", static(cacheSeconds=-1), "apps.www.cacheSeconds", "use 0 to 31536000 seconds"),
    ("static-cache-string", static(cacheSeconds="1h"), "apps.www.cacheSeconds", "valid integer"),
    ("static-memory-small", static(memory={"app": "16Mi"}), "apps.www.memory.app", "32Mi minimum"),
    ("static-reservation-small", static(memoryReservation={"app": "8Mi"}), "apps.www.memoryReservation.app", "32Mi"),
]
