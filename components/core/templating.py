"""Rendering of the files a kind hands its containers (scripts, config snippets) from template files.

Each kind keeps its templates in ``components/apps/<kind>/templates/``, rendered like the nginx
template (components/edge/nginx/): jinja2, undefined names are errors, no HTML escaping, and
the file's last newline kept. Values go into shell scripts through the ``sh`` filter
(``shell_literal``: always single-quoted, so nothing in them expands).
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from components.core.shell import shell_literal


def environment(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["sh"] = shell_literal
    return env


def templates_of(module_file: str) -> jinja2.Environment:
    """The templates next to a kind's module: ``templates_of(__file__)``."""
    return environment(Path(module_file).resolve().parent / "templates")
