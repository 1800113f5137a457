"""The generated files, each rendered from the code: what ``--write`` writes and ``--check`` compares."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = "provider/schema.json"
"""The component package's schema as Pulumi's analyzer infers it, committed by the package (issue 11).
Read as JSON only: the generator never imports the package's code."""
ARCHITECTURE_STACK = "dev"


@dataclass(frozen=True)
class Rendered:
    path: str
    """Relative to the repository root."""
    text: str | None
    """The file as the generators produce it; None when it cannot be produced (see ``skipped``)."""
    skipped: str = ""
    """Why ``text`` is None."""


def splice(current: str, begin: str, end: str, block: str) -> str:
    """``current`` with the text from ``begin`` through ``end`` replaced by ``block`` (which holds both)."""
    start, stop = current.index(begin), current.index(end) + len(end)
    return current[:start] + block + current[stop:]


def readme(current: str) -> str:
    from config.reference import BEGIN, END, reference

    return splice(current, BEGIN, END, reference())


def project_file(current: str) -> str:
    """Pulumi.yaml with its config block (from the generated header, else from ``config:``, to the end) rendered."""
    from config.reference import PROJECT_CONFIG_HEADER, project_config

    first_line = PROJECT_CONFIG_HEADER.splitlines()[0]
    cut = current.find(first_line)
    if cut < 0:
        cut = current.index("\nconfig:\n") + 1
    return current[:cut] + project_config()


def components_doc() -> Rendered:
    from docsgen.components_doc import render

    path = ROOT / SCHEMA_PATH
    if not path.exists():
        return Rendered(
            "docs/components.md",
            None,
            f"skipped docs/components.md: the package schema {SCHEMA_PATH} is not in this tree "
            "(the component package commits it); once it is, run `python -m docsgen --write`",
        )
    return Rendered("docs/components.md", render(json.loads(path.read_text()), SCHEMA_PATH))


def architecture_doc() -> Rendered:
    from docsgen.architecture import render, stack_graph

    return Rendered("docs/architecture.md", render(stack_graph(ARCHITECTURE_STACK), ARCHITECTURE_STACK))


def _edit(path: str, change: Callable[[str], str]) -> Callable[[], Rendered]:
    return lambda: Rendered(path, change((ROOT / path).read_text()))


TARGETS: tuple[Callable[[], Rendered], ...] = (
    _edit("README.md", readme),
    _edit("Pulumi.yaml", project_file),
    components_doc,
    architecture_doc,
)


def render_all() -> list[Rendered]:
    return [target() for target in TARGETS]


def drift(rendered: Rendered) -> str:
    """A unified diff from the committed file to the generated one ("" when they are equal or it was skipped)."""
    if rendered.text is None:
        return ""
    path = ROOT / rendered.path
    committed = path.read_text() if path.exists() else ""
    return "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            rendered.text.splitlines(keepends=True),
            fromfile=f"{rendered.path} (committed)",
            tofile=f"{rendered.path} (generated)",
        )
    )
