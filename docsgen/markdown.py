"""Small Markdown helpers shared by the generated documents."""

from __future__ import annotations

import re


def cell(text: str) -> str:
    """Text safe inside one table cell: no line break, no column separator."""
    return " ".join(text.split()).replace("|", "\\|")


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as ``-``."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
