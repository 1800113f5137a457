"""The package's one module, ``index``: its name, version and components, in the order the schema lists them.

Not exposed, and why (see README, "Using the components"):
- ``HetznerHost``: its input rules live with the stack's settings (config/hetzner.py), and the
  volumes it prepares are a Python method (``prepare_volumes``), which a component package cannot
  offer other languages; Python programs import ``components.hosts.hetzner.host`` directly.
- ``StaticSite``: it reads the site's files from a path relative to the program's directory at
  construction, and the package's provider runs in its own directory.
- ``ContainerApp``: its ``secrets`` would arrive as plain inputs of the schema; until they can be
  ``Input[str]`` secrets end to end, Python programs use ``components.apps`` directly.
"""

import tomllib
from pathlib import Path

import pulumi

from components.package.apps import Nextcloud, RocketChat, WordPress
from components.package.edge import Proxy
from components.package.hosts import LocalDockerHost
from components.package.services import Cache, Database

NAME = "selfhost"
"""The package name: the first part of every type token (``selfhost:index:Database``)."""
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
COMPONENTS: list[type[pulumi.ComponentResource]] = [
    Database,
    Cache,
    WordPress,
    Nextcloud,
    RocketChat,
    Proxy,
    LocalDockerHost,
]


def version() -> str:
    """pyproject.toml's version: the schema's, and the git tag ``v<version>`` consumers pin."""
    with PYPROJECT.open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])
