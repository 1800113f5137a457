"""Tier 3 (pip, and setuptools from the package index): the library installs from its source.

``pip install git+https://github.com/<owner>/selfhost@v<version>`` builds this wheel. It must hold
every module of components/ and the templates they render, declare the program's requirements
as its dependencies, and work from outside the checkout: a WordPress spec renders its scripts
from the installed templates, and the package's components are importable.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.mockstack import PROJECT_DIR

SOURCES = ("pyproject.toml", "requirements.txt", "README.md", "components")
OFFLINE = ("Could not find a version that satisfies", "Failed to establish a new connection", "Network is unreachable")


def library_files() -> set[str]:
    tracked = subprocess.run(
        ["git", "ls-files", "components"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout.split()
    return set(tracked)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        path = PROJECT_DIR / name
        if path.is_dir():
            for file in library_files():
                (source / file).parent.mkdir(parents=True, exist_ok=True)
                (source / file).write_bytes((PROJECT_DIR / file).read_bytes())
        else:
            (source / name).write_bytes(path.read_bytes())
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0 and any(sign in built.stderr for sign in OFFLINE):
        pytest.skip(f"pip could not fetch setuptools for the build: {built.stderr.strip().splitlines()[-1]}")
    assert built.returncode == 0, built.stderr
    [found] = out.glob("selfhost-*.whl")
    return found


def test_the_wheel_holds_every_library_file(wheel: Path) -> None:
    version = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]
    assert wheel.name == f"selfhost-{version}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert library_files() <= names, sorted(library_files() - names)
    assert not {n for n in names if n.split("/")[0] in {"config", "tests", "stack.py", "__main__.py", "provider"}}


def test_the_wheel_depends_on_what_the_program_requires(wheel: Path) -> None:
    metadata = zipfile.ZipFile(wheel).read(f"{wheel.name.split('-py3')[0]}.dist-info/METADATA").decode()
    required = {line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")}
    wanted = {
        line.strip()
        for line in (PROJECT_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    names = {r.split("<")[0].split(">")[0] for r in required}
    assert names == {w.split("<")[0].split(">")[0] for w in wanted}


def test_the_installed_library_works_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        timeout=120,
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import components, components.package as p;"
        "from components.package.apps import app_spec;"
        "spec = app_spec('wordpress', 'blog', {'hostname': 'blog.example.com', 'edge_network': 'e'});"
        "files = [f for s in spec.services for f in s.files];"
        "assert any('wp' in getattr(f, 'content', '') for f in files), files;"
        "from components.package.index import version;"
        "print(components.__file__, len(p.__all__), version())"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe, str(target)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(str(target)), ran.stdout
    version = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["version"]
    assert ran.stdout.split()[-1] == version, "the installed library knows its version without pyproject.toml"
