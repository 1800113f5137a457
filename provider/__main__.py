"""Entry point of the selfhost component package: hosts the library's components for every language.

The language host runs this file from the plugin directory (provider/, next to PulumiPlugin.yaml);
the library is the repository around it, so its root goes on the import path first.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi.provider.experimental import component_provider_host

from components.package.index import COMPONENTS, NAME, version

if __name__ == "__main__":
    component_provider_host(components=COMPONENTS, name=NAME, version=version())
