"""The library's folders are layers: each imports only the layers below it, and never the stack.

core <- services <- apps <- backups, core <- edge <- apps, core <- hosts; the component package
(package) on top of all but backups. The stack (config/, stack.py, __main__.py) is the library's
first client: nothing under components/ imports it, so the components can be imported into
another program (README, "Using the components").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "components"
ALLOWED = {
    "swarm": {"core"},
    "core": set(),
    "services": {"core"},
    "edge": {"core"},
    "hosts": {"core"},
    "apps": {"core", "services", "edge"},
    "backups": {"core", "services", "apps"},
    "package": {"core", "services", "apps", "edge", "hosts"},
}
"""Which other layers each layer may import."""
STACK = ("config", "stack", "__main__")


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def layer_of(path: Path) -> str:
    return path.relative_to(LIBRARY).parts[0]


LIBRARY_FILES = sorted(p for p in LIBRARY.rglob("*.py") if len(p.relative_to(LIBRARY).parts) > 1)
IMPORTS = {path: imported_modules(path) for path in LIBRARY_FILES}
"""Parsed at collection: CPython 3.11's ast.parse can fail with "AST constructor recursion depth
mismatch" when called after other tests left the interpreter's recursion counter off (cpython#106905)."""


def test_every_library_module_is_in_a_known_layer() -> None:
    assert {layer_of(path) for path in LIBRARY_FILES} == set(ALLOWED)
    # components/ itself holds only the package marker: every module is in a layer.
    assert sorted(p.name for p in LIBRARY.glob("*.py")) == ["__init__.py"]


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path: Path) -> None:
    layer = layer_of(path)
    wrong = []
    for module in sorted(IMPORTS[path]):
        top = module.split(".")[0]
        if top in STACK:
            wrong.append(f"{module} (the stack: the library never imports it)")
        elif top == "components":
            parts = module.split(".")
            other = parts[1] if len(parts) > 1 else ""
            if other != layer and other not in ALLOWED[layer]:
                wrong.append(f"{module} (layer {other!r}; {layer} may import {sorted(ALLOWED[layer]) or 'no layer'})")
    assert not wrong, f"{path.relative_to(ROOT)} imports " + "; ".join(wrong)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from config.settings import StackSettings\nimport components.apps.app\n")
    assert imported_modules(module) == {"config.settings", "components.apps.app"}
