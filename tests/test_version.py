"""Tier 1: one version, in pyproject.toml, CHANGELOG.md and the README's pinning instructions."""

from __future__ import annotations

import re
import tomllib

from tests.mockstack import PROJECT_DIR

RELEASE_HEADING = re.compile(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", re.M)


def package_version() -> str:
    version = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]
    assert isinstance(version, str)
    return version


def releases() -> list[tuple[str, str]]:
    """(version, date) of each heading in CHANGELOG.md, newest first, Unreleased left out."""
    headings = RELEASE_HEADING.findall((PROJECT_DIR / "CHANGELOG.md").read_text())
    assert headings and headings[0] == ("Unreleased", ""), "CHANGELOG.md opens with ## [Unreleased]"
    return headings[1:]


def test_the_changelog_latest_release_is_the_package_version() -> None:
    released = releases()
    assert released, "no released version in CHANGELOG.md"
    assert released[0][0] == package_version()
    assert package_version().startswith("0."), "0.x until the public API is declared stable"


def test_releases_are_semver_dated_and_newest_first() -> None:
    released = releases()
    for version, date in released:
        assert re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)", version), version
        assert date, f"## [{version}] needs its date: ## [{version}] - YYYY-MM-DD"
    numbers = [tuple(int(part) for part in version.split(".")) for version, _ in released]
    assert numbers == sorted(numbers, reverse=True) and len(set(numbers)) == len(numbers)
    dates = [date for _, date in released]
    assert dates == sorted(dates, reverse=True)


def test_the_readme_pins_the_current_version() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    section = re.search(r"^## Versions: pinning one when you import the components\n(.*?)^## ", readme, re.S | re.M)
    assert section is not None
    assert f"pulumi package add github.com/<owner>/selfhost/provider@v{package_version()}" in section.group(1)
