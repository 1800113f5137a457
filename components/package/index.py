"""The package's one module, ``index``: its name, version and components, in the order the schema lists them.

Not exposed, and why (see README, "Using the components"):
- ``HetznerHost``: its input rules live with the stack's settings (config/hetzner.py), and the
  volumes it prepares are a Python method (``prepare_volumes``), which a component package cannot
  offer other languages; Python programs import ``components.hosts.hetzner.host`` directly.
- ``ContainerApp``: its ``secrets`` would have to be plain inputs (its settings model validates them
  while the component is constructed), and a component's inputs are kept in the state: a secret
  there in plain text. Python programs use the kind through ``components.apps`` directly.
"""

import tomllib
from importlib import metadata
from pathlib import Path

import pulumi

from components.package.apps import Nextcloud, RocketChat, StaticSite, WordPress
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
    StaticSite,
    Proxy,
    LocalDockerHost,
]


def version() -> str:
    """pyproject.toml's version: the schema's, and the git tag ``v<version>`` consumers pin.

    In a checkout (the plugin runs from one) it is read from pyproject.toml; installed from the
    wheel, from the distribution's metadata, which setuptools wrote from the same field.
    """
    if PYPROJECT.is_file():
        with PYPROJECT.open("rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    return metadata.version(NAME)
