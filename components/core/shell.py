"""Quoting for values rendered into shell scripts that containers run."""

from __future__ import annotations


def shell_literal(value: str | int) -> str:
    """Always single-quoted, so nothing in it expands; a quote inside becomes '"'"'."""
    return "'" + str(value).replace("'", "'\"'\"'") + "'"
