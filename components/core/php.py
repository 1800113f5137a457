"""Small, safe PHP and php.ini rendering for snippets handed to the official images."""

from __future__ import annotations

from collections.abc import Mapping


def php_string(value: str) -> str:
    """A single-quoted PHP string literal: only backslash and quote need escaping."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


PhpValue = str | int | bool


def php_literal(value: PhpValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return php_string(value)


def php_defines(constants: Mapping[str, PhpValue]) -> str:
    """``define('NAME', value);`` lines, sorted by name for stable diffs."""
    return "".join(f"define({php_string(name)}, {php_literal(value)});\n" for name, value in sorted(constants.items()))


def php_ini(settings: Mapping[str, str]) -> str:
    return "".join(f"{key} = {value}\n" for key, value in sorted(settings.items()))
