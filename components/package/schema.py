"""The schema the Pulumi SDK infers for the package, generated in-process (no CLI): ``provider/schema.json``.

    python -m components.package.schema --write   # regenerate it
    python -m components.package.schema --check   # exit 1 when the committed file differs

It is exactly what ``component_provider_host`` serves to ``pulumi package add`` (the SDK's own
``ComponentProvider`` builds it from the same analyzer), so the committed file shows reviewers
what every language's SDK will look like, and tests/test_package.py fails when it drifts.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pulumi.provider.experimental.component import ComponentProvider

from components.package.index import COMPONENTS, NAME, version

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "provider" / "schema.json"


def schema() -> dict[str, Any]:
    provider = ComponentProvider(COMPONENTS, NAME, version=version())
    if provider.schema is None:
        raise RuntimeError("the SDK's ComponentProvider inferred no schema")
    loaded: dict[str, Any] = json.loads(provider.schema)
    return loaded


def render() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write provider/schema.json")
    mode.add_argument("--check", action="store_true", help="fail when provider/schema.json differs")
    options = parser.parse_args(argv)
    text = render()
    if options.write:
        SCHEMA_PATH.write_text(text)
        return 0
    if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != text:
        print(f"{SCHEMA_PATH} is not what the analyzer infers: run python -m components.package.schema --write")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
